"""Robust z-scores for ``anomaly:<signal>`` rules. Pure.

The baseline of a minute is the signal's values in the same hour of the week over the previous
four weeks (the minutes ``t - 7 d``, ``t - 14 d``, ... and the rest of their hours). The robust
z-score is ``(x - median) / (1.4826 * MAD)`` (Iglewicz and Hoaglin's modified z-score uses 0.6745,
its reciprocal): the median absolute deviation scaled to match a standard deviation for normal
data, so one outlier in the baseline (last week's incident) barely moves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.2533
WEEKS = 4
WEEK = timedelta(days=7)
#: fewer baseline values than this: no score (a new deployment has no rhythm yet)
MIN_SAMPLES = 30


def robust_z(value: float | None, baseline: Sequence[float]) -> float | None:
    """The robust z-score of ``value`` against ``baseline``; None without a value, with fewer
    than :data:`MIN_SAMPLES` baseline values, or when the baseline does not vary at all."""
    if value is None or len(baseline) < MIN_SAMPLES:
        return None
    center = median(baseline)
    deviations = [abs(x - center) for x in baseline]
    mad = median(deviations)
    if mad > 0:
        return (value - center) / (MAD_SCALE * mad)
    # more than half the baseline equals its median: the mean absolute deviation instead,
    # scaled likewise (1.2533 = sqrt(pi / 2)); a perfectly flat baseline gives no score
    mean_ad = sum(deviations) / len(deviations)
    if mean_ad == 0:
        return None
    return (value - center) / (MEAN_AD_SCALE * mean_ad)


def hour_of_week(ts: datetime) -> tuple[int, int]:
    """(weekday, hour) of a UTC time."""
    return ts.weekday(), ts.hour


def baseline_hours(ts: datetime) -> list[tuple[datetime, datetime]]:
    """The ``[start, end)`` hours of the same hour of the week in the :data:`WEEKS` weeks before
    ``ts``, oldest first."""
    hour = ts.replace(minute=0, second=0, microsecond=0)
    return [(hour - k * WEEK, hour - k * WEEK + timedelta(hours=1)) for k in range(WEEKS, 0, -1)]


def scores(
    values: Sequence[tuple[datetime, float | None]],
    history: dict[datetime, float | None],
) -> list[tuple[datetime, float | None]]:
    """Per minute of ``values``, its robust z-score against ``history`` (values by minute,
    covering the baseline hours); baselines are computed once per hour of ``values``."""
    out: list[tuple[datetime, float | None]] = []
    cache: dict[datetime, list[float]] = {}
    for ts, value in values:
        hour = ts.replace(minute=0, second=0, microsecond=0)
        base = cache.get(hour)
        if base is None:
            base = []
            for start, _ in baseline_hours(ts):
                for m in range(60):
                    x = history.get(start + timedelta(minutes=m))
                    if x is not None:
                        base.append(x)
            cache[hour] = base
        out.append((ts, robust_z(value, base)))
    return out
