"""What the emulated tenant contains: models and their list prices, accounts, deployments, quota.

Plain frozen dataclasses; :func:`default_catalog` is the workload every tool uses unless a test
builds its own. Prices are USD per million tokens (DESIGN section 8), stored as integer
hundredths of a dollar so that costs are computed exactly in integers
(1 token x 1 hundredth-per-million = 1e-8 USD, the *cost unit*).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from collector.pools import PoolKey, pool_key

COST_UNITS_PER_USD = 100_000_000  # 1 unit = 1e-8 USD
CCU_USD = 0.01  # one Claude Consumption Unit costs one cent
MODEL_FORMAT = "Anthropic"  # ARM's properties.model.format of Claude deployments
OPENAI_FORMAT = "OpenAI"
API_NAME = "Messages"
OPERATION_NAME = "Messages_Create"
# The emulator's choice for the OpenAI deployment's ApiName / OperationName dimension values.
OPENAI_API_NAME = "ChatCompletions"
OPENAI_OPERATION_NAME = "ChatCompletions_Create"
STREAM_TYPES: tuple[str, ...] = ("Streaming", "NonStreaming")
#: ``ContextLength`` values of the Anthropic cache metrics, indexed by a request's context class
#: (0: total prompt = input + cache read + cache writes <= 200,000 tokens, 1: above). Azure does
#: not document the dimension's values: these two labels are the emulator's assumption.
CONTEXT_LENGTHS: tuple[str, ...] = ("<=200K", ">200K")
LONG_CONTEXT_TOKENS = 200_000


@dataclass(frozen=True)
class Prices:
    """List prices of the five token types, hundredths of USD per million tokens."""

    input: int
    output: int
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0


@dataclass(frozen=True)
class ModelSpec:
    """A model: list prices (hundredths of USD per million tokens) and traffic shape.

    ``format`` is ARM's ``properties.model.format``: only ``Anthropic`` models have prompt-cache
    tokens (and Azure Monitor's cache metrics). ``long_prices`` is the long-context tier (a
    request whose whole prompt exceeds 200k tokens is priced at it, every token type), for models
    whose context window exceeds 200k tokens.
    """

    id: str
    version: str
    input_price: int
    output_price: int
    cache_write_price: int  # 5-minute cache write
    cache_write_1h_price: int  # 1-hour cache write
    cache_read_price: int
    ttft_ms: float  # median time to first token
    tokens_per_s: float  # output speed
    output_median: float  # median output tokens of a successful request
    input_median: float  # median uncached input tokens
    format: str = MODEL_FORMAT
    context_window: int = LONG_CONTEXT_TOKENS
    long_prices: Prices | None = None
    #: requests per minute one unit of ARM ``sku.capacity`` allows (a unit is 1,000 tokens per
    #: minute; issue 17: capacity 25 was observed limited to 25 requests a minute, and the
    #: ratio differs by model)
    requests_per_unit: float = 1.0

    @property
    def anthropic(self) -> bool:
        return self.format == MODEL_FORMAT

    @property
    def api_name(self) -> str:
        return API_NAME if self.anthropic else OPENAI_API_NAME

    @property
    def operation_name(self) -> str:
        return OPERATION_NAME if self.anthropic else OPENAI_OPERATION_NAME

    @property
    def prices(self) -> Prices:
        return Prices(
            self.input_price,
            self.output_price,
            self.cache_write_price,
            self.cache_write_1h_price,
            self.cache_read_price,
        )

    def tier(self, long_context: bool) -> Prices:
        """The prices a request pays: the long-context tier when it has one and applies."""
        return self.long_prices if long_context and self.long_prices else self.prices

    def cost_parts(
        self,
        inp: int,
        out: int,
        cache_write_5m: int = 0,
        cache_write_1h: int = 0,
        cache_read: int = 0,
        long_context: bool = False,
    ) -> dict[str, int]:
        """Exact cost in 1e-8 USD of each token type at list price."""
        p = self.tier(long_context)
        return {
            "input": inp * p.input,
            "output": out * p.output,
            "cache_write_5m": cache_write_5m * p.cache_write_5m,
            "cache_write_1h": cache_write_1h * p.cache_write_1h,
            "cache_read": cache_read * p.cache_read,
        }

    def cost_units(
        self,
        inp: int,
        out: int,
        cache_write_5m: int = 0,
        cache_write_1h: int = 0,
        cache_read: int = 0,
        long_context: bool = False,
    ) -> int:
        """Exact cost in 1e-8 USD of the given token counts at list price (all five types)."""
        return sum(
            self.cost_parts(
                inp, out, cache_write_5m, cache_write_1h, cache_read, long_context
            ).values()
        )

    def estimate_units(self, inp: int, out: int) -> int:
        """What an estimate from Azure's token metrics reaches: no cache split."""
        return inp * self.input_price + out * self.output_price


MODELS: dict[str, ModelSpec] = {
    m.id: m
    for m in (
        ModelSpec(
            "claude-opus-4-5", "20251101", 500, 2500, 625, 1000, 50, 1400.0, 55.0, 420.0, 1800.0
        ),
        # Sonnet 4.5 has a 1M-token context window (the others 200k): only its requests can
        # exceed 200k prompt tokens, and those pay its long-context prices.
        ModelSpec(
            "claude-sonnet-4-5",
            "20250929",
            300,
            1500,
            375,
            600,
            30,
            900.0,
            75.0,
            380.0,
            1500.0,
            context_window=1_000_000,
            long_prices=Prices(600, 2250, 750, 1200, 60),
        ),
        ModelSpec(
            "claude-haiku-4-5", "20251001", 100, 500, 125, 200, 10, 380.0, 140.0, 260.0, 1100.0
        ),
        ModelSpec(
            "claude-opus-4-1",
            "20250805",
            1500,
            7500,
            1875,
            3000,
            150,
            1900.0,
            38.0,
            450.0,
            2000.0,
        ),
        # Azure OpenAI, Global Standard: $0.15 input / $0.60 output per million tokens, billed
        # under Azure meters (not the Marketplace); no prompt-cache tokens in the workload.
        ModelSpec(
            "gpt-4o-mini",
            "2024-07-18",
            15,
            60,
            0,
            0,
            0,
            320.0,
            90.0,
            300.0,
            900.0,
            format=OPENAI_FORMAT,
        ),
    )
}


@dataclass(frozen=True)
class DeploymentSpec:
    """A deployment of an account with traffic; ``rpm`` is its mean requests per minute on a
    weekday. Its model (:data:`MODELS`) says whether it is a Claude deployment. ``version``
    (ARM's ``properties.model.version``) overrides the model's default version: Foundry serves
    Claude in version ``1`` (hosted on Anthropic's infrastructure) and ``2`` (hosted on Azure),
    and one model can be deployed in both."""

    name: str
    model: str
    capacity: int
    rpm: float
    sku: str = "GlobalStandard"
    # Optional capacity change (chart annotations): new capacity from this time on.
    changed_at: datetime | None = None
    new_capacity: int | None = None
    version: str | None = None

    def model_version(self) -> str:
        """The deployment's model version: its own, else its model's default."""
        return self.version if self.version is not None else MODELS[self.model].version

    def capacity_at(self, now: datetime) -> int:
        if self.changed_at is not None and self.new_capacity is not None and now >= self.changed_at:
            return self.new_capacity
        return self.capacity

    def pool(self, account: AccountSpec) -> PoolKey:
        """The quota pool this deployment of ``account`` draws from."""
        return pool_key(
            account.subscription, self.model, self.model_version(), self.sku, account.location
        )


@dataclass(frozen=True)
class AccountSpec:
    """A Cognitive Services account. Only kind ``AIServices`` serves traffic (Claude and, on
    ``contoso-ai-eus2``, one Azure OpenAI model)."""

    subscription: str
    resource_group: str
    name: str
    location: str
    kind: str = "AIServices"
    deployments: tuple[DeploymentSpec, ...] = ()
    # Deployments without traffic: (deployment name, model name, version, format), ARM only.
    other_deployments: tuple[tuple[str, str, str, str], ...] = ()
    daily_other_cost_cents: int = 0  # non-Marketplace cost rows (e.g. Azure OpenAI meters)
    #: Claude billed by the older per-model token meters instead of one meter per plan
    legacy_meters: bool = False
    #: models whose SaaS resource name carries another internalId (the account was recreated):
    #: their charges can only be attributed by resource group
    stale_saas_models: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.CognitiveServices/accounts/{self.name}"
        )

    @property
    def internal_id(self) -> str:
        """ARM ``properties.internalId``: 32 hex digits."""
        return "".join(f"{zlib.crc32(f'{i}:{self.id}'.encode()):08x}" for i in range(4))


@dataclass(frozen=True)
class OrphanCharge:
    """A Claude SaaS resource billing in a resource group with no Foundry account (e.g. its
    account was deleted while the Marketplace subscription kept accruing): a flat daily charge."""

    subscription: str
    resource_group: str
    model: str
    daily_cents: int


@dataclass(frozen=True)
class QuotaPool:
    """The per-minute limits of one quota pool (:class:`collector.pools.PoolKey`: subscription,
    model, version, kind and zone), shared by every deployment in it. ``input_tpm`` counts
    uncached input plus cache writes (cache reads excluded), as Foundry's ITPM does."""

    rpm: int
    input_tpm: int
    output_tpm: int


@dataclass(frozen=True)
class Catalog:
    accounts: tuple[AccountSpec, ...]
    pools: dict[PoolKey, QuotaPool] = field(default_factory=dict)
    orphan_charges: tuple[OrphanCharge, ...] = ()
    workspace_id: str = "5b7a1f0e-3c2d-4e8f-9a6b-0123456789ab"

    @property
    def subscriptions(self) -> list[str]:
        return sorted({a.subscription for a in self.accounts})

    @property
    def claude_accounts(self) -> list[AccountSpec]:
        """Accounts with traffic (every one has Claude deployments; some also others)."""
        return [a for a in self.accounts if a.kind == "AIServices" and a.deployments]


SUBSCRIPTION = "00000000-0000-0000-0000-0000000000f1"
RESOURCE_GROUP = "rg-ai"


def default_catalog(change_at: datetime | None = None) -> Catalog:
    """The default tenant: two AIServices accounts in two regions plus one OpenAI account.

    About 100k requests on a weekday. ``change_at`` is when ``support-bot``'s capacity doubles.
    ``contoso-ai-eus2`` also serves ``gpt-4o-mini`` (format OpenAI, about 4 requests a minute):
    Azure-metered, no cache tokens, no quota pool shared with Claude. ``contoso-ai-swc`` also
    serves ``claude-sonnet-4-5`` in version ``1`` (Anthropic-hosted) beside the model's default
    version. Quota pools (:mod:`collector.pools`): the Global Standard sonnet pool spans both
    regions; ``claude-haiku-4-5`` is Data Zone Standard in both, so it has a US and an EU pool;
    sonnet version 1 has a pool of its own, and ``gpt-4o-mini`` a pool without limits. Claude's
    Marketplace charges are booked on SaaS resources in ``rg-ai``
    (:mod:`collector.emulator.billing`): ``contoso-ai-swc`` is on the older per-model token
    meters and its ``claude-opus-4-1`` SaaS name carries a stale internalId; a
    ``claude-haiku-4-5`` SaaS resource in ``rg-sandbox`` (no Foundry account there) keeps billing
    a flat amount a day.
    """
    sub, rg = SUBSCRIPTION, RESOURCE_GROUP
    eus2 = AccountSpec(
        sub,
        rg,
        "contoso-ai-eus2",
        "eastus2",
        deployments=(
            DeploymentSpec("claude-opus-4-5", "claude-opus-4-5", 200, 6.0),
            DeploymentSpec("claude-sonnet-4-5", "claude-sonnet-4-5", 400, 16.0),
            # Data Zone Standard in the US zone: its own pool, apart from the EU one below
            DeploymentSpec(
                "claude-haiku-4-5", "claude-haiku-4-5", 500, 14.0, sku="DataZoneStandard"
            ),
            DeploymentSpec(
                "support-bot",
                "claude-sonnet-4-5",
                150,
                9.0,
                changed_at=change_at,
                new_capacity=300 if change_at else None,
            ),
            DeploymentSpec("gpt-4o-mini", "gpt-4o-mini", 100, 4.0),
        ),
    )
    swc = AccountSpec(
        sub,
        rg,
        "contoso-ai-swc",
        "swedencentral",
        deployments=(
            DeploymentSpec("claude-sonnet-4-5", "claude-sonnet-4-5", 300, 11.0),
            DeploymentSpec("claude-opus-4-1", "claude-opus-4-1", 100, 3.0),
            DeploymentSpec(
                "claude-haiku-4-5", "claude-haiku-4-5", 300, 7.0, sku="DataZoneStandard"
            ),
            # the same model in version 1 (hosted on Anthropic's infrastructure), low traffic: a
            # pool of its own, and a small capacity (60,000 tokens a minute) that its bursts
            # exceed before the pool's limits do (deployment-level 429s)
            DeploymentSpec("sonnet-anthropic-hosted", "claude-sonnet-4-5", 60, 6.0, version="1"),
        ),
        legacy_meters=True,
        stale_saas_models=("claude-opus-4-1",),
    )
    openai = AccountSpec(
        sub,
        rg,
        "contoso-openai",
        "eastus2",
        kind="OpenAI",
        other_deployments=(("gpt-4o-mini", "gpt-4o-mini", "2024-07-18", "OpenAI"),),
        daily_other_cost_cents=1234,
    )
    limits = {
        # Global pools: sonnet's spans eastus2 and swedencentral (three deployments, one pool)
        ("claude-opus-4-5", ""): QuotaPool(rpm=14, input_tpm=70_000, output_tpm=12_000),
        ("claude-sonnet-4-5", ""): QuotaPool(rpm=80, input_tpm=300_000, output_tpm=60_000),
        ("claude-opus-4-1", ""): QuotaPool(rpm=8, input_tpm=45_000, output_tpm=8_000),
        # Data Zone pools: haiku in the US zone and in the EU zone are two pools
        ("claude-haiku-4-5", "US"): QuotaPool(rpm=40, input_tpm=150_000, output_tpm=27_000),
        ("claude-haiku-4-5", "EU"): QuotaPool(rpm=20, input_tpm=80_000, output_tpm=14_000),
    }
    pools: dict[PoolKey, QuotaPool] = {}
    for account in (eus2, swc):
        for spec in account.deployments:
            key = spec.pool(account)
            if key.model_version == "1":  # sonnet v1: generous, its capacity binds first
                pools[key] = QuotaPool(rpm=60, input_tpm=200_000, output_tpm=40_000)
            elif (key.model, key.zone) in limits:
                pools[key] = limits[(key.model, key.zone)]
    orphan = OrphanCharge(sub, "rg-sandbox", "claude-haiku-4-5", 317)
    return Catalog(accounts=(eus2, swc, openai), pools=pools, orphan_charges=(orphan,))
