"""The prompt cache, time to first token and other publishers on the dashboard's pages, through
Streamlit's AppTest on the seeded store: every figure shown equals the query module's."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from collector.spend import hourly
from collector.spend.prices import load_sheet
from collector.spend.refresh import unmapped_labels_warning
from collector.store import queries
from dashboard import cache, common, publishers
from tests import seed as seeding
from tests.dashboard.conftest import OTHER_BILLED, SeededStore
from tests.dashboard.test_pages import _same, metrics, run, table_with

OTHER = seeding.OTHER_PUBLISHER.name


def view_of(at: AppTest) -> common.View:
    return at.session_state["_view"]


def charts_by_title(at: AppTest) -> dict[str, pd.DataFrame]:
    """The data of every Altair chart of the page, by its y-axis title (the first layer's)."""
    found: dict[str, pd.DataFrame] = {}

    def walk(node: object) -> None:
        if getattr(node, "type", None) == "vega_lite_chart":
            proto = node.proto  # type: ignore[attr-defined]
            spec = json.loads(proto.spec)
            first = spec["layer"][0] if "layer" in spec else spec
            data = {d.name: convert_arrow_bytes_to_pandas_df(d.data.data) for d in proto.datasets}
            found[first["encoding"]["y"]["title"]] = data[first["data"]["name"]]
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return found


def _money(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


# Overview -------------------------------------------------------------------------------------
def test_overview_shows_cache_hit_rate_and_savings_and_marks_other_publishers(
    seeded: SeededStore,
) -> None:
    at = run()
    view = view_of(at)
    expected = queries.summary(seeded.engine, view.since, view.until)
    shown = at.dataframe[0].value
    assert list(shown["deployment"]) == [s.deployment for s in expected]
    for row, s in zip(shown.to_dict("records"), expected, strict=True):
        assert _same(row["cache_hit_rate"], s.cache_hit_rate), s.deployment
        assert _same(row["cache_savings"], _money(s.cache_savings)), s.deployment
        assert row["publisher"] == (common.CLAUDE if s.claude else common.NOT_CLAUDE)
    by_name = {s.deployment: s for s in expected}
    assert not by_name[OTHER].claude and by_name[OTHER].requests > 0
    assert by_name[OTHER].cache_hit_rate is None and by_name[OTHER].spend_estimated is None
    assert by_name["support-bot"].cache_hit_rate and by_name["support-bot"].cache_savings
    assert list(shown.loc[shown["deployment"] == OTHER, "publisher"]) == [common.NOT_CLAUDE]
    assert (shown["publisher"] == common.CLAUDE).sum() == len(expected) - 1


@pytest.mark.parametrize("page", ["views/overview.py", "views/spend.py"])
def test_other_publishers_cost_is_shown_apart_per_resource(seeded: SeededStore, page: str) -> None:
    at = run(page)
    view = view_of(at)
    shown = table_with(at, "other_billed", "deployments")
    days = queries.spend_resource_days(seeded.engine, view.since, view.until)
    want: dict[str, Decimal] = defaultdict(Decimal)
    for d in days:
        if d.other_billed is not None:
            want[d.resource] += d.other_billed
    assert want["contoso-eastus2"] >= OTHER_BILLED
    assert list(shown["resource"]) == ["contoso-eastus2"]
    assert shown["other_billed"].tolist() == pytest.approx([float(want["contoso-eastus2"])])
    assert shown["deployments"].tolist() == [OTHER]
    assert publishers.CAPTION in [c.value for c in at.caption]
    # never allocated: the OpenAI deployment's days have neither an estimate nor a bill share
    other_days = [
        d
        for d in queries.spend_days(seeded.engine, view.since, view.until)
        if d.deployment == OTHER
    ]
    assert other_days and all(
        not d.claude and d.estimated is None and d.billed_allocated is None for d in other_days
    )


def test_other_publishers_are_left_out_when_the_filter_excludes_them(
    seeded: SeededStore,
) -> None:
    at = run(resource="contoso-swedencentral")
    assert not [d for d in at.dataframe if "other_billed" in d.value.columns]


# Spend page -----------------------------------------------------------------------------------
def test_spend_page_daily_table_has_cache_columns_and_the_publisher(seeded: SeededStore) -> None:
    at = run("views/spend.py")
    view = view_of(at)
    expected = queries.spend_days(seeded.engine, view.since, view.until)
    shown = table_with(at, "day", "billed_allocated")
    assert list(shown.columns)[:9] == [
        "day", "resource", "deployment", "model", "estimated", "billed_allocated", "variance",
        "status", "unpriced",
    ]  # fmt: skip
    for row, day in zip(shown.to_dict("records"), expected, strict=True):
        for name in ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens"):
            assert row[name] == getattr(day, name), (day, name)
        rate = queries.cache_hit_rate(
            day.input_tokens,
            day.cache_read_tokens,
            day.cache_write_5m_tokens,
            day.cache_write_1h_tokens,
        )
        assert _same(row["cache_hit_rate"], rate if day.claude else None), day
        if not day.claude:
            assert day.input_tokens > 0  # tokens, but no cache metrics to rate
        assert _same(row["cache_savings"], _money(day.cache_savings)), day
        assert row["publisher"] == (common.CLAUDE if day.claude else common.NOT_CLAUDE)
    assert any(d.cache_read_tokens for d in expected)
    assert {r["publisher"] for r in shown.to_dict("records")} == {
        common.CLAUDE,
        common.NOT_CLAUDE,
    }


def _cache_table(at: AppTest) -> pd.DataFrame:
    found = [
        d.value
        for d in at.dataframe
        if "cache_write_1h_tokens" in d.value.columns and "day" not in d.value.columns
    ]
    assert len(found) == 1
    return found[0]


def test_spend_page_prompt_cache_per_deployment(seeded: SeededStore) -> None:
    at = run("views/spend.py")
    assert cache.TITLE in [s.value for s in at.subheader]
    view = view_of(at)
    expected = queries.summary(seeded.engine, view.since, view.until)
    shown = _cache_table(at)
    assert list(shown["deployment"]) == [s.deployment for s in expected]
    for row, s in zip(shown.to_dict("records"), expected, strict=True):
        for name in ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens"):
            assert row[name] == getattr(s, name), (s.deployment, name)
        assert _same(row["cache_hit_rate"], s.cache_hit_rate), s.deployment
        assert _same(row["cache_savings"], _money(s.cache_savings)), s.deployment
    tiles = metrics(at)
    assert tiles["Cache reads (tokens)"] == f"{sum(s.cache_read_tokens for s in expected):,}"
    assert tiles["Cache writes, 5 min (tokens)"] == (
        f"{sum(s.cache_write_5m_tokens for s in expected):,}"
    )
    assert tiles["Cache writes, 1 h (tokens)"] == (
        f"{sum(s.cache_write_1h_tokens for s in expected):,}"
    )
    savings = sum((s.cache_savings for s in expected if s.cache_savings is not None), Decimal(0))
    assert tiles["Cache savings (USD)"] == common.fmt_usd(savings)
    assert sum(s.cache_write_1h_tokens for s in expected) > 0 and savings != 0


def test_the_prompt_cache_follows_the_sidebar_filter(seeded: SeededStore) -> None:
    at = run("views/spend.py", deployment="support-bot")
    view = view_of(at)
    (support,) = queries.summary(seeded.engine, view.since, view.until, deployment="support-bot")
    shown = _cache_table(at)
    assert list(shown["deployment"]) == ["support-bot"]
    assert metrics(at)["Cache reads (tokens)"] == f"{support.cache_read_tokens:,}"
    assert metrics(at)["Cache savings (USD)"] == common.fmt_usd(support.cache_savings)
    assert cache.NO_CACHE not in [i.value for i in at.info]


def test_a_deployment_without_cache_tokens_is_explained(seeded: SeededStore) -> None:
    at = run("views/spend.py", deployment=OTHER)
    assert cache.NO_CACHE in [i.value for i in at.info]
    assert metrics(at)["Cache reads (tokens)"] == "0"


def test_spend_page_charts_the_cache_per_day_and_per_hour(seeded: SeededStore) -> None:
    at = run("views/spend.py")  # the last 24 hours: short enough for hourly charts
    view = view_of(at)
    found = charts_by_title(at)
    days = queries.spend_days(seeded.engine, view.since, view.until)
    per_day = found["Prompt-cache tokens per day"]
    for column, kind in cache.KINDS.items():
        assert per_day.loc[per_day["kind"] == kind, "tokens"].sum() == sum(
            getattr(d, column) for d in days
        ), kind
    saved = found["Cache savings per day (USD)"]
    assert saved["cache_savings"].sum() == pytest.approx(
        float(sum(d.cache_savings for d in days if d.cache_savings is not None))
    )
    hours = hourly.spend_by_hour(seeded.engine, view.since, view.until, sheet=load_sheet())
    per_hour = found["Prompt-cache tokens per hour"]
    for column, kind in cache.KINDS.items():
        assert per_hour.loc[per_hour["kind"] == kind, "tokens"].sum() == sum(
            getattr(h, column) for h in hours
        ), kind
    assert sum(h.cache_read_tokens for h in hours) > 0
    hourly_savings = found["Cache savings per hour (USD)"]
    assert hourly_savings["cache_savings"].sum() == pytest.approx(
        float(sum(h.cache_savings for h in hours if h.cache_savings is not None))
    )
    assert len(hourly_savings) == sum(1 for h in hours if h.cache_savings is not None)


def test_a_long_window_charts_the_cache_per_day_only(seeded: SeededStore) -> None:
    at = run("views/spend.py", range="7d")
    found = charts_by_title(at)
    assert "Prompt-cache tokens per day" in found
    assert "Prompt-cache tokens per hour" not in found


def test_spend_page_warns_of_context_labels_the_price_sheet_does_not_map(
    seeded: SeededStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FOUNDRY_MONITOR_PRICE_FILE", raising=False)
    at = run("views/spend.py")
    assert not [w for w in at.warning if "ContextLength" in w.value]  # the shipped sheet maps both

    shipped = Path(__file__).resolve().parents[2] / "collector" / "data" / "prices.toml"
    own = shipped.read_text(encoding="utf-8").replace('">200K" = "long"\n', "")
    assert own != shipped.read_text(encoding="utf-8")
    price_file = tmp_path / "prices.toml"
    price_file.write_text("include_defaults = false\n" + own, encoding="utf-8")
    monkeypatch.setenv("FOUNDRY_MONITOR_PRICE_FILE", str(price_file))
    at = run("views/spend.py")
    warnings = [w.value for w in at.warning if "ContextLength" in w.value]
    assert warnings == [common.escape_markdown(unmapped_labels_warning([seeding.LONG_LABEL]))]
    assert "base tier" in warnings[0]
    assert common.escape_markdown(f"'{seeding.LONG_LABEL}'") in warnings[0]
    assert common.escape_markdown(f"'{seeding.BASE_LABEL}'") not in warnings[0]


# Latency page ---------------------------------------------------------------------------------
def test_latency_page_shows_time_to_first_token_without_percentiles(seeded: SeededStore) -> None:
    at = run("views/latency.py")
    view = view_of(at)
    assert "Time to first token (Azure Monitor)" in [s.value for s in at.subheader]
    points = [
        p
        for p in queries.timeseries(seeded.engine, view.since, view.until, step=view.step)
        if p.ttft_avg_ms is not None
    ]
    assert points
    found = charts_by_title(at)
    for title, field in (
        ("Average time to first token (ms)", "ttft_avg_ms"),
        ("Maximum time to first token (ms)", "ttft_max_ms"),
    ):
        data = found[title]
        assert len(data) == len(points)
        assert sorted(data[field].tolist()) == pytest.approx(
            sorted(getattr(p, field) for p in points)
        )
    assert any(
        "Azure gives no TTFT percentiles" in c.value and "Average, Minimum and Maximum" in c.value
        for c in at.caption
    )
    averages = table_with(at, "ttft_avg_ms")
    expected = [
        s
        for s in queries.summary(seeded.engine, view.since, view.until)
        if s.ttft_avg_ms is not None
    ]
    assert list(averages["deployment"]) == [s.deployment for s in expected]
    assert averages["ttft_avg_ms"].tolist() == pytest.approx([s.ttft_avg_ms for s in expected])
    assert OTHER not in set(averages["deployment"])  # no TTFT metric for other publishers


# Markdown -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["support-bot", "*bold*_x_", "[click](https://example.com)", ":red[alert] $x$", "a\nb <i>"],
)
def test_escape_markdown_leaves_no_markup(name: str) -> None:
    escaped = common.escape_markdown(name)
    assert "\n" not in escaped
    kept = []
    chars = iter(escaped)
    for ch in chars:
        if ch == "\\":
            kept.append(next(chars))
        else:
            assert ch not in "*_[]()<>:$-", (name, escaped)
            kept.append(ch)
    assert "".join(kept) == " ".join(name.splitlines())


def test_errors_page_escapes_deployment_names(seeded: SeededStore) -> None:
    at = run("views/errors.py")
    shown = " ".join(m.value for m in at.markdown)
    assert common.escape_markdown("contoso-eastus2/support-bot") in shown
    assert "contoso-eastus2/support-bot" not in shown
