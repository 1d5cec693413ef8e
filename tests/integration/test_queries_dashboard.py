"""The dashboard's reads (deployment changes, exact status codes, quota pools) against the seeded
store on SQLite and Postgres: numbers equal the seed's truth, computed here in plain Python."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from collector.store import queries
from tests import seed as seeding
from tests.seed import Seed

TWIN = seeding.POOL_TWIN  # a second claude-sonnet-4-5 deployment of the subscription: one pool
TWIN_OWN_MINUTES = 3  # minutes only the twin is throttled in
CHANGE_AT_MIN = 60


@dataclass(frozen=True)
class Store:
    engine: Engine
    seed: Seed
    twin: int
    #: The twin's ModelRequests: (minute, status) -> count.
    twin_requests: dict[tuple[datetime, int], int]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store_pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One seeded store per database for the module, plus a pool twin and a capacity change."""
    with seeding.param_store(request, tmp_path_factory, "dash") as engine:
        yield _add_twin_and_change(engine, seeding.build(engine))


def _add_twin_and_change(engine: Engine, built: Seed) -> Store:
    support = built.deployment_ids["support-bot"]
    shared = sorted(
        {r.minute for r in built.requests if r.deployment_id == support and r.status == 429}
    )
    minutes = (built.start + timedelta(minutes=i) for i in range(240))
    quiet = [m for m in minutes if m not in set(shared)][:TWIN_OWN_MINUTES]
    counts: dict[tuple[datetime, int], int] = {}
    for minute in shared:
        counts[(minute, 200)] = 10
        counts[(minute, 429)] = 3
    for minute in quiet:
        counts[(minute, 200)] = 5
        counts[(minute, 429)] = 1
    twin = seeding.add_pool_twin(engine, built, counts, change_at_min=CHANGE_AT_MIN)
    return Store(engine=engine, seed=built, twin=twin, twin_requests=counts)


def _hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def _all_requests(store: Store) -> list[tuple[int, datetime, int, int]]:
    """(deployment, minute, status, count) of every request, the twin's included."""
    rows = [(r.deployment_id, r.minute, r.status, 1) for r in store.seed.requests]
    rows += [(store.twin, m, status, n) for (m, status), n in store.twin_requests.items()]
    return rows


# Deployment changes ---------------------------------------------------------------------------
def test_deployment_changes_are_read_in_a_half_open_window(store_pair: Store) -> None:
    seed = store_pair.seed
    at = seed.start + timedelta(minutes=CHANGE_AT_MIN)
    changes = queries.deployment_changes(store_pair.engine, seed.start, seed.end)
    assert [
        (c.changed_at, c.deployment, c.resource, c.field, c.old_value, c.new_value) for c in changes
    ] == [(at, "support-bot", "contoso-eastus2", "capacity", "100", "200")]
    assert queries.deployment_changes(store_pair.engine, at, at + timedelta(minutes=1))
    assert not queries.deployment_changes(store_pair.engine, seed.start, at)


def test_deployment_changes_keep_only_the_selected_deployments(store_pair: Store) -> None:
    seed = store_pair.seed
    other = [seed.deployment_ids["claude-haiku-4-5"]]
    assert not queries.deployment_changes(
        store_pair.engine, seed.start, seed.end, deployment_ids=other
    )
    assert not queries.deployment_changes(
        store_pair.engine, seed.start, seed.end, deployment_ids=[]
    )


# Status codes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("step", ["5m", "15m", "1h"])
def test_status_codes_over_time_equal_the_seed(store_pair: Store, step: str) -> None:
    seed = store_pair.seed
    chosen = [seed.deployment_ids["support-bot"], seed.deployment_ids["claude-haiku-4-5"]]
    seconds = queries.parse_step(step)
    truth: Counter[tuple[datetime, int]] = Counter()
    for r in seed.requests:
        if r.deployment_id in chosen:
            epoch = int(r.minute.timestamp())
            bucket = datetime.fromtimestamp(epoch - epoch % seconds, seed.start.tzinfo)
            truth[(bucket, r.status)] += 1
    points = queries.status_codes_over_time(
        store_pair.engine, seed.start, seed.end, step=step, deployment_ids=chosen
    )
    assert {(p.ts, p.status_code): p.requests for p in points} == dict(truth)
    assert [(p.ts, p.status_code) for p in points] == sorted(truth)


def test_status_code_totals_per_deployment_equal_the_seed(store_pair: Store) -> None:
    seed = store_pair.seed
    since, until = seed.start + timedelta(minutes=77), seed.start + timedelta(minutes=163)
    truth: Counter[tuple[int, int]] = Counter()
    for dep_id, minute, status, n in _all_requests(store_pair):
        if since <= minute < until:
            truth[(dep_id, status)] += n
    totals = queries.status_code_totals(store_pair.engine, since, until)
    assert {(t.deployment_id, t.status_code): t.requests for t in totals} == dict(truth)
    names = [(t.resource, t.deployment, t.status_code) for t in totals]
    assert names == sorted(names)
    haiku = seed.deployment_ids["claude-haiku-4-5"]
    only = queries.status_code_totals(store_pair.engine, since, until, deployment_ids=[haiku])
    assert {t.deployment for t in only} == {"claude-haiku-4-5"}


# Quota pools ----------------------------------------------------------------------------------
def test_pool_throttling_sums_every_deployment_of_a_pool_per_step(store_pair: Store) -> None:
    seed = store_pair.seed
    model_of = {
        seed.deployment_ids["claude-opus-4-5"]: "claude-opus-4-5",
        seed.deployment_ids["support-bot"]: "claude-sonnet-4-5",
        seed.deployment_ids["claude-haiku-4-5"]: "claude-haiku-4-5",
        store_pair.twin: "claude-sonnet-4-5",
    }
    requests: Counter[tuple[datetime, str]] = Counter()
    throttled: Counter[tuple[datetime, str]] = Counter()
    per_dep_429: dict[tuple[datetime, str], set[int]] = defaultdict(set)
    for dep_id, minute, status, n in _all_requests(store_pair):
        key = (_hour(minute), model_of[dep_id])
        requests[key] += n
        if status == 429:
            throttled[key] += n
            per_dep_429[key].add(dep_id)
    points = queries.pool_throttling(store_pair.engine, seed.start, seed.end, step="1h")
    assert {(p.ts, p.model) for p in points} == set(requests)
    for p in points:
        key = (p.ts, p.model)
        assert p.subscription_id == seeding.SUBSCRIPTION
        assert (p.requests, p.status_429) == (requests[key], throttled[key]), key
        assert p.deployments_throttled == len(per_dep_429[key])
        assert p.rate_429 == pytest.approx(throttled[key] / requests[key])
    sonnet = [p for p in points if p.model == "claude-sonnet-4-5"]
    assert max(p.deployments_throttled for p in sonnet) == 2


def test_pool_throttling_of_one_deployment_covers_its_whole_pool(store_pair: Store) -> None:
    seed = store_pair.seed
    engine = store_pair.engine
    everything = queries.pool_throttling(engine, seed.start, seed.end, step="1h")
    chosen = queries.pool_throttling(
        engine, seed.start, seed.end, step="1h", deployment_ids=[store_pair.twin]
    )
    assert chosen == [p for p in everything if p.model == "claude-sonnet-4-5"]
    assert not queries.pool_throttling(engine, seed.start, seed.end, step="1h", deployment_ids=[])


def test_throttle_causes_tell_a_shared_pool_from_own_capacity(store_pair: Store) -> None:
    seed = store_pair.seed
    support = seed.deployment_ids["support-bot"]
    support_minutes = {
        r.minute for r in seed.requests if r.deployment_id == support and r.status == 429
    }
    causes = {
        c.deployment: c for c in queries.throttle_causes(store_pair.engine, seed.start, seed.end)
    }
    bot, twin = causes["support-bot"], causes[TWIN]
    assert (bot.cause, twin.cause) == (queries.CAUSE_POOL, queries.CAUSE_POOL)
    assert bot.throttled_minutes == bot.shared_minutes == len(support_minutes)
    assert twin.throttled_minutes == len(support_minutes) + TWIN_OWN_MINUTES
    assert twin.shared_minutes == len(support_minutes)
    assert twin.status_429 == 3 * len(support_minutes) + TWIN_OWN_MINUTES
    assert bot.pool_deployments == twin.pool_deployments == 2  # old-bot was removed
    haiku = causes["claude-haiku-4-5"]
    assert (haiku.cause, haiku.shared_minutes, haiku.pool_deployments) == (queries.CAUSE_OWN, 0, 1)
    assert haiku.status_429 == sum(
        1
        for r in seed.requests
        if r.deployment_id == seed.deployment_ids["claude-haiku-4-5"] and r.status == 429
    )
    ordered = [c.status_429 for c in causes.values()]
    assert ordered == sorted(ordered, reverse=True)


def test_throttle_causes_keep_only_the_selected_deployments(store_pair: Store) -> None:
    seed = store_pair.seed
    only = queries.throttle_causes(
        store_pair.engine, seed.start, seed.end, deployment_ids=[store_pair.twin]
    )
    assert [(c.deployment, c.cause) for c in only] == [(TWIN, queries.CAUSE_POOL)]


# Empty store and windows ----------------------------------------------------------------------
def test_the_dashboard_reads_of_an_empty_store_are_empty(store: Engine) -> None:
    since, until = seeding.START, seeding.START + timedelta(hours=1)
    assert queries.deployment_changes(store, since, until) == []
    assert queries.status_codes_over_time(store, since, until, step="5m") == []
    assert queries.status_code_totals(store, since, until) == []
    assert queries.pool_throttling(store, since, until, step="5m") == []
    assert queries.throttle_causes(store, since, until) == []


def test_a_window_that_ends_before_it_starts_is_refused(store_pair: Store) -> None:
    seed = store_pair.seed
    with pytest.raises(ValueError, match="must be before until"):
        queries.status_code_totals(store_pair.engine, seed.end, seed.start)
