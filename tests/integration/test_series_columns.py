"""The charts' series read as columns (``timeseries_columns``, ``latency_columns``) against the
seeded store on SQLite and Postgres: the same figures as the list readers, and a page's subset of
metrics gives each of its figures exactly as the full read does."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine

from collector.store import queries
from dashboard import common
from tests.seed import Seed

STEPS = ["1m", "15m", "1h"]
#: The metrics the pages ask for: Rate limits and the overview's sparklines, and Latency.
PAGE_METRICS = [(queries.REQUESTS,), (queries.TTFT, queries.TTLB)]


@pytest.fixture
def engine(seeded_pair: tuple[Engine, Seed]) -> Engine:
    return seeded_pair[0]


def _window(seeded: Seed) -> tuple:
    """Ragged at both ends: minutes and quarter hours around the whole hours."""
    return seeded.start + timedelta(minutes=7), seeded.end - timedelta(minutes=13)


def _rows(columns: queries.Columns, names: list[str]) -> dict[tuple, tuple]:
    """(ts, deployment id) -> the named figures, with numpy numbers as Python ones (NaN and None
    as None, so that two unknowns compare equal)."""
    plain = [
        [None if pd.isna(v) else v for v in pd.Series(columns[n]).astype(object)] for n in names
    ]
    keys = zip(columns["ts"], columns["deployment_id"], strict=True)
    return {key: tuple(v) for key, *v in zip(keys, *plain, strict=True)}


@pytest.mark.parametrize("step", STEPS)
def test_the_list_reader_is_the_columns_point_by_point(
    engine: Engine, seeded: Seed, step: str
) -> None:
    since, until = _window(seeded)
    columns = queries.timeseries_columns(engine, since, until, step=step)
    points = queries.timeseries(engine, since, until, step=step)
    assert points and columns.records(queries.TimeseriesPoint) == points
    assert columns.names == tuple(common.frame(points).columns)
    pd.testing.assert_frame_equal(common.columns_frame(columns), common.frame(points))
    latency = queries.latency_columns(engine, since, until, step=step)
    percentiles = queries.latency_percentiles_over_time(engine, since, until, step=step)
    assert percentiles and latency.records(queries.LatencyPoint) == percentiles
    pd.testing.assert_frame_equal(common.columns_frame(latency), common.frame(percentiles))


@pytest.mark.parametrize("metrics", PAGE_METRICS)
@pytest.mark.parametrize("step", STEPS)
def test_a_page_s_metrics_give_the_full_read_s_figures(
    engine: Engine, seeded: Seed, step: str, metrics: tuple[str, ...]
) -> None:
    since, until = _window(seeded)
    full = queries.timeseries_columns(engine, since, until, step=step)
    part = queries.timeseries_columns(engine, since, until, step=step, metrics=metrics)
    # in the field order of TimeseriesPoint, whatever the order asked
    figures = [n for m, names in queries.SERIES_METRICS.items() if m in metrics for n in names]
    assert part.names == ("ts", "deployment_id", "resource", "deployment", *figures)
    shown = ["resource", "deployment", *figures]
    got, expected = _rows(part, shown), _rows(full, shown)
    assert got and all(expected[key] == values for key, values in got.items())
    # a step the subset leaves out has none of its figures in the full read either
    for key, values in expected.items():
        if key not in got:
            assert all(v in (0, None) for v in values[2:]), key


def test_unknown_or_no_metrics_are_refused(engine: Engine, seeded: Seed) -> None:
    since, until = _window(seeded)
    for metrics in (["NotAMetric"], []):
        with pytest.raises(ValueError, match="metrics must be some of"):
            queries.timeseries_columns(engine, since, until, step="1h", metrics=metrics)


def test_a_filter_matching_nothing_gives_empty_columns(engine: Engine, seeded: Seed) -> None:
    since, until = _window(seeded)
    columns = queries.timeseries_columns(
        engine, since, until, step="1h", metrics=[queries.REQUESTS], deployment_ids=[]
    )
    assert len(columns) == 0 and common.columns_frame(columns).empty
    assert len(queries.latency_columns(engine, since, until, step="1h", deployment_ids=[])) == 0
