"""Inline SVG charts for the HTML report: no script, no network, the same bytes every time.

Coordinates are rounded to one decimal and every label is escaped, so a chart is a pure function
of its figures (reports are compared byte for byte when re-run).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from html import escape

from collector.reports.build import DaySpend

WIDTH, HEIGHT = 680, 190
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 40
BILLED = "#2f6fb0"
ESTIMATE = "#a9c6e6"
MARK = "#c2410c"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-12):
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def money_label(value: float) -> str:
    if value >= 1000:
        return f"${value / 1000:,.1f}k".replace(".0k", "k")
    return f"${value:,.0f}" if value >= 10 or value == 0 else f"${value:,.2f}"


def _day_label(day: date, count: int) -> str:
    return f"{day:%a} {day.day}" if count <= 7 else f"{day:%b} {day.day}"


def daily_spend_svg(title: str, days: Sequence[DaySpend]) -> str:
    """Bars of a deployment's daily spend: billed (dark) where the bill is in, else the estimate
    (light); an orange tick marks the estimate on billed days."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [float(v) for d in days for v in (d.estimated, d.billed) if v is not None]
    top = nice_ceiling(max(values, default=0.0))
    n = max(1, len(days))
    slot = plot_w / n
    bar = max(1.0, slot * 0.7)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = top * i / 4
        yy = y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{WIDTH - RIGHT}" y2="{yy:.1f}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4b5563">{escape(money_label(value))}</text>'
        )
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="#4b5563" '
        f'text-anchor="middle" transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">'
        "spend (USD/day)</text>"
    )
    every = 1 if n <= 10 else 7
    for i, d in enumerate(days):
        x = LEFT + slot * i + (slot - bar) / 2
        shown = d.billed if d.billed is not None else d.estimated
        if shown is not None:
            value = float(shown)
            colour = BILLED if d.billed is not None else ESTIMATE
            kind = "billed" if d.billed is not None else "estimated (not billed yet)"
            tip = f"{d.day.isoformat()}: {_usd(shown)} {kind}"
            if d.billed is not None and d.estimated is not None:
                tip += f", estimated {_usd(d.estimated)}"
            if d.status:
                tip += f", {d.status}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar:.1f}" '
                f'height="{TOP + plot_h - y(value):.1f}" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if d.billed is not None and d.estimated is not None:
                ye = y(float(d.estimated))
                parts.append(
                    f'<line x1="{x:.1f}" y1="{ye:.1f}" x2="{x + bar:.1f}" y2="{ye:.1f}" '
                    f'stroke="{MARK}" stroke-width="2"/>'
                )
        if i % every == 0:
            parts.append(
                f'<text x="{LEFT + slot * i + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'font-size="11" fill="#4b5563" text-anchor="middle">'
                f"{escape(_day_label(d.day, n))}</text>"
            )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#9ca3af" stroke-width="1"/>'
    )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" font-size="11" fill="#4b5563" '
        'text-anchor="middle">day (UTC)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _usd(value: Decimal) -> str:
    return f"${value:,.2f}"
