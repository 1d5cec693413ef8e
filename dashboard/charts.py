"""Altair charts read at a glance: time (UTC) on x, one colour per deployment, units in the axis
titles, deployment changes as vertical rules. Functions take tidy DataFrames and return charts;
they never query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import altair as alt
import pandas as pd

from collector.store.queries import parse_step

TIME_TITLE = "Time (UTC)"
_HEIGHT = 260


def naive_utc(series: pd.Series) -> pd.Series:
    """UTC datetimes without a zone: Vega-Lite then shows them as they are (UTC)."""
    values = pd.to_datetime(series, utc=True)
    return values.dt.tz_convert("UTC").dt.tz_localize(None)


def fill_steps(
    df: pd.DataFrame,
    since: datetime,
    until: datetime,
    step: str,
    key: str,
    values: Sequence[str],
) -> pd.DataFrame:
    """Every step of ``[since, until)`` for every ``key`` value, missing counts as 0.

    The query module returns only steps with data; a count chart must show the quiet steps too.
    """
    if df.empty:
        return df
    seconds = parse_step(step)
    start = pd.Timestamp(since).floor(f"{seconds}s")
    index = pd.date_range(start, pd.Timestamp(until), freq=f"{seconds}s", inclusive="left")
    full = pd.MultiIndex.from_product([sorted(df[key].unique()), index], names=[key, "ts"])
    filled = df.set_index([key, "ts"])[list(values)].reindex(full, fill_value=0).reset_index()
    return filled[["ts", *values, key]]


def rules(changes: pd.DataFrame | None) -> alt.Chart | None:
    """Deployment changes as dashed vertical rules, to layer over charts of the same time axis
    (build them once per page and pass them to every chart: each build validates the spec)."""
    if changes is None or changes.empty:
        return None
    data = changes.assign(changed_at=naive_utc(changes["changed_at"]))
    return (
        alt.Chart(data)
        .mark_rule(strokeDash=[4, 3], color="gray")
        .encode(
            x=alt.X("changed_at:T", title=TIME_TITLE),
            tooltip=[
                alt.Tooltip("changed_at:T", title="Changed (UTC)", format="%Y-%m-%d %H:%M"),
                "deployment:N",
                "field:N",
                "old_value:N",
                "new_value:N",
            ],
        )
    )


def lines(
    df: pd.DataFrame,
    y: str,
    y_title: str,
    *,
    color: str = "deployment",
    color_title: str = "Deployment",
    dash: str | None = None,
    changes: pd.DataFrame | alt.Chart | None = None,
    y_format: str | None = None,
    height: int = _HEIGHT,
) -> alt.LayerChart | alt.Chart:
    """One line per ``color`` value over time; ``dash`` splits lines further (e.g. percentile).
    ``changes``: deployment changes, as a frame or as built by :func:`rules`."""
    # only the columns drawn: a week of hourly points per deployment is sent once per chart
    shown = list(dict.fromkeys(["ts", color, y, *([dash] if dash else [])]))
    data = df[shown].assign(ts=naive_utc(df["ts"]))
    tooltip = [
        alt.Tooltip("ts:T", title="Time (UTC)", format="%Y-%m-%d %H:%M"),
        alt.Tooltip(f"{color}:N", title=color_title),
        alt.Tooltip(f"{y}:Q", title=y_title, format=y_format or ",.4~f"),
    ]
    encoding: dict[str, object] = {
        "x": alt.X("ts:T", title=TIME_TITLE),
        # axis=None would remove the axis, its title (the units) with it: leave it unset.
        "y": alt.Y(
            f"{y}:Q", title=y_title, axis=alt.Axis(format=y_format) if y_format else alt.Undefined
        ),
        "color": alt.Color(f"{color}:N", title=color_title),
        "tooltip": tooltip,
    }
    if dash:
        encoding["strokeDash"] = alt.StrokeDash(f"{dash}:N", title=dash.capitalize())
        tooltip.insert(2, alt.Tooltip(f"{dash}:N"))
    chart = (
        alt.Chart(data).mark_line(point=len(data) < 60).encode(**encoding).properties(height=height)
    )
    marks = rules(changes) if isinstance(changes, pd.DataFrame) else changes
    return chart + marks if marks is not None else chart


def stacked_bars(
    df: pd.DataFrame,
    y: str,
    y_title: str,
    *,
    color: str,
    color_title: str,
    height: int = _HEIGHT,
) -> alt.Chart:
    """Stacked bars over time (e.g. requests by status code)."""
    data = df.assign(ts=naive_utc(df["ts"]))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("ts:T", title=TIME_TITLE),
            y=alt.Y(f"sum({y}):Q", title=y_title),
            color=alt.Color(f"{color}:N", title=color_title),
            tooltip=[
                alt.Tooltip("ts:T", title="Time (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip(f"{color}:N", title=color_title),
                alt.Tooltip(f"{y}:Q", title=y_title, format=","),
            ],
        )
        .properties(height=height)
    )


def daily_bars(
    df: pd.DataFrame, y: str, y_title: str, *, color: str, color_title: str
) -> alt.Chart:
    """Stacked bars per UTC day (spend): one band per day, legend labels unclipped."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X(
                "day:O",
                title="Day (UTC)",
                timeUnit="utcyearmonthdate",
                axis=alt.Axis(format="%Y-%m-%d", labelAngle=0),
            ),
            y=alt.Y(f"sum({y}):Q", title=y_title),
            color=alt.Color(
                f"{color}:N",
                title=color_title,
                legend=alt.Legend(labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip("day:T", title="Day (UTC)", timeUnit="utcyearmonthdate"),
                alt.Tooltip(f"{color}:N", title=color_title),
                alt.Tooltip(f"{y}:Q", title=y_title, format=",.2f"),
            ],
        )
        .properties(height=_HEIGHT)
    )
