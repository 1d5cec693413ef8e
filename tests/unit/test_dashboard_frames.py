"""The dashboard's pure helpers: filling quiet steps, flattening query results, chart steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from dashboard import charts, common

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def test_fill_steps_gives_every_key_every_step_with_zeros_for_quiet_ones() -> None:
    df = pd.DataFrame(
        {
            "ts": [T0, T0 + timedelta(hours=2), T0 + timedelta(hours=1)],
            "deployment_id": [7, 7, 3],
            "requests": [5, 9, 4],
            "status_429": [1, 0, 2],
        }
    )
    filled = charts.fill_steps(
        df, T0 + timedelta(minutes=30), T0 + timedelta(hours=3), "1h", "deployment_id",
        ["requests", "status_429"],
    )  # fmt: skip
    assert list(filled.columns) == ["ts", "requests", "status_429", "deployment_id"]
    hours = [T0 + timedelta(hours=h) for h in range(3)]  # the first step starts before `since`
    assert filled[["deployment_id", "ts", "requests", "status_429"]].values.tolist() == [
        [3, hours[0], 0, 0],
        [3, hours[1], 4, 2],
        [3, hours[2], 0, 0],
        [7, hours[0], 5, 1],
        [7, hours[1], 0, 0],
        [7, hours[2], 9, 0],
    ]
    assert filled["requests"].dtype.kind == "i"


def test_fill_steps_of_nothing_is_nothing() -> None:
    empty = pd.DataFrame(columns=["ts", "deployment_id", "requests"])
    assert charts.fill_steps(
        empty, T0, T0 + timedelta(hours=1), "5m", "deployment_id", ["requests"]
    ).empty


@dataclass(frozen=True)
class _Row:
    ts: datetime
    spend: Decimal | None
    name: str


def test_frame_flattens_dataclasses_and_turns_decimals_into_floats() -> None:
    rows = [_Row(T0, Decimal("1.25"), "x"), _Row(T0, None, "y")]
    df = common.frame(rows)
    assert list(df.columns) == ["ts", "spend", "name"]
    assert df["spend"].iloc[0] == 1.25 and pd.isna(df["spend"].iloc[1])
    assert df["name"].tolist() == ["x", "y"]
    assert df["ts"].tolist() == [T0, T0]
    assert list(common.frame([], columns=["a", "b"]).columns) == ["a", "b"]


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (timedelta(hours=1), "1m"),
        (timedelta(hours=6), "5m"),
        (timedelta(hours=24), "15m"),  # the default range: quarter-hour rollups
        (timedelta(days=7), "1h"),
        (timedelta(days=8), "1d"),  # read from the daily rollups
        (timedelta(days=30), "1d"),
    ],
)
def test_chart_steps_follow_the_window(span: timedelta, step: str) -> None:
    assert common.step_for(span) == step
