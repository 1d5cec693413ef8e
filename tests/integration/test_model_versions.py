"""A model deployed in two versions (Claude's version 1, Anthropic-hosted, and version 2,
Azure-hosted): two price entries when the sheet prices a version apart, two labelled entries in
``summary`` (table and JSON), on the seeded SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from collector.config import Settings
from collector.spend import hourly
from collector.spend.prices import default_sheet
from collector.spend.refresh import read_deployments, refresh_spend
from collector.store import queries
from collector.store.schema import TABLES
from collector.store.writer import upsert
from tests import seed as seeding
from tests.integration.test_cli_read import Run
from tests.seed import Seed

V1 = "claude-sonnet-4-5 (v1, Anthropic-hosted)"
V2 = "claude-sonnet-4-5 (v2, Azure-hosted)"
#: Version 1 of claude-sonnet-4-5 at its own input and output prices (the rest: the model's)
VERSIONED_SHEET = """
[[price]]
model = "claude-sonnet-4-5"
version = "1"
effective_from = 2025-01-01
input = 4.50
output = 22.50
"""


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Seed]]:
    """The seed, with ``old-bot`` (claude-sonnet-4-5) back in service in version 2 and serving
    exactly ``support-bot``'s tokens (version 1)."""
    engine = seeding.open_store("sqlite", tmp_path_factory.mktemp("versions"), None)
    built = seeding.build(engine)
    support, old = built.deployment_ids["support-bot"], built.deployment_ids["old-bot"]
    d, m = TABLES["deployment"], TABLES["metric_minute"]
    with engine.begin() as conn:
        conn.execute(update(d).where(d.c.id == old).values(removed_at=None, model_version="2"))
        rows = conn.execute(select(m).where(m.c.deployment_id == support)).mappings().all()
        upsert(conn, "metric_minute", [{**r, "deployment_id": old} for r in rows])
    try:
        yield engine, built
    finally:
        engine.dispose()


def _estimates(engine: Engine, ids: list[int], built: Seed) -> dict[int, Decimal]:
    """Estimated spend per deployment over the seed's days (the seed stores older ones too)."""
    s = TABLES["spend_daily"]
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.c.deployment_id, s.c.estimated).where(
                s.c.deployment_id.in_(ids),
                s.c.day >= built.start.date(),
                s.c.day <= built.end.date(),
            )
        ).all()
    out: dict[int, Decimal] = {}
    for dep_id, estimated in rows:
        assert estimated is not None
        out[dep_id] = out.get(dep_id, Decimal(0)) + Decimal(str(estimated))
    return out


def test_the_inventory_keeps_version_and_hosting(two_versions: tuple[Engine, Seed]) -> None:
    engine, _ = two_versions
    found = {d.deployment: d for d in queries.deployments(engine)}
    v1, v2 = found["support-bot"], found["old-bot"]
    assert (v1.model_version, v1.model_format, v1.hosting) == ("1", "Anthropic", "Anthropic-hosted")
    assert (v2.model_version, v2.hosting, v2.model_label) == ("2", "Azure-hosted", V2)
    assert v1.model_label == V1
    # a model in one version only is shown alone
    assert found["claude-opus-4-5"].model_label == "claude-opus-4-5"
    with engine.connect() as conn:
        refs = {r.name: r for r in read_deployments(conn)}
    assert (refs["support-bot"].model_version, refs["old-bot"].model_version) == ("1", "2")


def test_two_versions_are_two_price_entries(
    two_versions: tuple[Engine, Seed], tmp_path: Path
) -> None:
    engine, built = two_versions
    ids = [built.deployment_ids["support-bot"], built.deployment_ids["old-bot"]]
    now = built.end + timedelta(minutes=5)
    refresh_spend(engine, Settings(), now)  # the shipped sheet: one price per model
    same = _estimates(engine, ids, built)
    assert same[ids[0]] == same[ids[1]] > 0
    sheet = tmp_path / "prices.toml"
    sheet.write_text(VERSIONED_SHEET, encoding="utf-8")
    refresh_spend(engine, Settings(price_file=str(sheet)), now)
    apart = _estimates(engine, ids, built)
    assert apart[ids[1]] == same[ids[1]]  # version 2: the model's prices
    assert apart[ids[0]] > same[ids[0]]  # version 1: its own, higher input and output prices
    # the price table keeps the version's rows apart
    p = TABLES["price"]
    with engine.connect() as conn:
        models = set(conn.execute(select(p.c.model)).scalars())
    assert {"claude-sonnet-4-5", "claude-sonnet-4-5@1"} <= models
    # the dashboard's hourly estimate (priced from the price table) follows the version too
    support = ids[:1]
    own = hourly.spend_by_hour(engine, built.start, built.end, deployment_ids=support)
    model = hourly.spend_by_hour(
        engine, built.start, built.end, deployment_ids=support, sheet=default_sheet()
    )
    assert own and {h.model_label for h in own} == {V1}
    assert sum(h.estimated or 0 for h in own) > sum(h.estimated or 0 for h in model) > 0


def test_summary_shows_two_labelled_entries(
    two_versions: tuple[Engine, Seed],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine, built = two_versions
    run = Run(monkeypatch, capsys, engine.url.render_as_string(hide_password=False))
    since, until = (t.strftime("%Y-%m-%dT%H:%M") for t in (built.start, built.end))
    code, out, err = run("summary", "--since", since, "--until", until, "--json")
    assert code == 0, err
    rows = {r["deployment"]: r for r in json.loads(out)}
    assert rows["support-bot"]["model_label"] == V1
    assert rows["old-bot"]["model_label"] == V2
    assert (rows["support-bot"]["hosting"], rows["old-bot"]["hosting"]) == (
        "Anthropic-hosted",
        "Azure-hosted",
    )
    assert (rows["support-bot"]["model_version"], rows["old-bot"]["model_version"]) == ("1", "2")
    assert rows["claude-haiku-4-5"]["model_label"] == "claude-haiku-4-5"
    code, out, err = run("summary", "--since", since, "--until", until)
    assert code == 0, err
    assert V1 in out and V2 in out


def test_lookup_names_the_version_and_its_hosting(two_versions: tuple[Engine, Seed]) -> None:
    from collector.cli.read import lookup_json, lookup_lines

    engine, built = two_versions
    support = built.deployment_ids["support-bot"]
    logged = next(r for r in built.requests if r.deployment_id == support and r.logged)
    found = queries.lookup(engine, logged.correlation_id)
    assert (found.model_version, found.hosting) == ("1", "Anthropic-hosted")
    assert lookup_json(found)["hosting"] == "Anthropic-hosted"
    assert any("(model claude-sonnet-4-5 1 (Anthropic-hosted))" in x for x in lookup_lines(found))
