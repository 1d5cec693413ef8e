"""A report as a self-contained HTML page (inline CSS and SVG, no script, no network) and as CSV.

Both are pure functions of the :class:`~collector.reports.build.Report`: no clock, no locale,
fixed number formats, so re-rendering a past period gives the same bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any

from collector.reports.build import DeploymentLine, Report
from collector.reports.charts import BILLED, ESTIMATE, MARK, daily_spend_svg
from collector.text import csv_cell

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")

CSV_COLUMNS: tuple[str, ...] = (
    "period",
    "period_start",
    "period_end",
    "resource",
    "deployment",
    "model",
    "requests",
    "status_2xx",
    "status_429",
    "status_4xx_other",
    "status_5xx",
    "rate_429",
    "error_rate",
    "p95_ms",
    "input_tokens",
    "output_tokens",
    "spend_estimated_usd",
    "spend_billed_usd",
    "spend_variance_usd",
    "spend_status",
    "forecast_month_end_usd",
    "budget_state",
    # appended (existing consumers keep their column order): the prompt cache and TTFT
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_hit_rate",
    "cache_savings_usd",
    "ttft_avg_ms",
)


# Number formats -------------------------------------------------------------------------------
def usd(value: Decimal | None) -> str:
    """``$1,234.57`` (half up), ``-`` for unknown, ``-$3.10`` for negatives."""
    if value is None:
        return "-"
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return f"-${-cents:,.2f}" if cents < 0 else f"${cents:,.2f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def count(value: int) -> str:
    return f"{value:,}"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _micro(value: Decimal | None) -> str:
    return "" if value is None else str(value.quantize(MICRO, rounding=ROUND_HALF_UP))


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


# CSV ------------------------------------------------------------------------------------------
#: CSV columns that are fractions (6 decimals) and the latency columns' own formats
_RATIOS = frozenset({"rate_429", "error_rate", "cache_hit_rate"})
_LATENCY = {"p95_ms": "{:g}", "ttft_avg_ms": "{:.3f}"}


def _csv_cell(x: DeploymentLine, column: str) -> str:
    """A line's cell of CSV column ``column`` (``*_usd``: the attribute without the suffix)."""
    value = getattr(x, column.removesuffix("_usd"))
    if value is None:
        return ""
    if column.endswith("_usd"):
        return _micro(value)
    if column in _RATIOS:
        return _ratio(value)
    if column in _LATENCY:
        return _LATENCY[column].format(value)
    return str(value)


def csv_rows(report: Report) -> list[list[str]]:
    """The per-deployment table as CSV cells (money to the micro-dollar, rates as fractions)."""
    period = report.period
    head = [period.kind, period.start.isoformat(), period.last_day.isoformat()]
    return [head + [_csv_cell(x, c) for c in CSV_COLUMNS[len(head) :]] for x in report.lines]


def render_csv(report: Report) -> str:
    """The CSV file: a header row, then one row per deployment (RFC 4180 line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([csv_cell(cell) for cell in row] for row in csv_rows(report))
    return out.getvalue()


# HTML -----------------------------------------------------------------------------------------
STYLE = f"""
body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #111827; margin: 0 auto; max-width: 1420px; padding: 24px; background: #fff; }}
h1 {{ font-size: 24px; margin: 0 0 4px; }}
h2 {{ font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }}
p.sub {{ color: #4b5563; margin: 0 0 16px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.card {{ border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 14px; min-width: 150px; }}
.card .k {{ color: #4b5563; font-size: 12px; }}
.card .v {{ font-size: 20px; font-weight: 600; }}
table {{ border-collapse: collapse; font-size: 13px; width: 100%; }}
.wide {{ overflow-x: auto; }}
th, td {{ border-bottom: 1px solid #e5e7eb; padding: 5px 8px; text-align: right;
  white-space: nowrap; }}
th {{ background: #f9fafb; font-weight: 600; white-space: normal; vertical-align: bottom; }}
th.l, td.l {{ text-align: left; }}
tr.total td {{ font-weight: 600; border-top: 2px solid #9ca3af; }}
.state-ok {{ color: #15803d; }} .state-warning {{ color: #b45309; font-weight: 600; }}
.state-over {{ color: #b91c1c; font-weight: 600; }}
.provisional {{ color: #b45309; }} .final {{ color: #15803d; }}
.warn {{ background: #fff7ed; border: 1px solid #fdba74; border-radius: 8px; padding: 10px 14px;
  margin: 16px 0; }}
.note {{ color: #4b5563; font-size: 12px; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; }}
figure {{ margin: 0; }}
figcaption {{ font-size: 13px; font-weight: 600; margin-bottom: 2px; }}
.legend span {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }}
.legend span.mark {{ height: 2px; vertical-align: middle; }}
.legend span.billed {{ background: {BILLED}; }} .legend span.estimate {{ background: {ESTIMATE}; }}
.legend span.mark {{ background: {MARK}; }}
footer {{ margin-top: 32px; }}
"""


def _td(text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{escape(text)}</td>' if cls else f"<td>{escape(text)}</td>"


def _th(text: str, left: bool = False) -> str:
    return (
        f'<th class="l" scope="col">{escape(text)}</th>'
        if left
        else f'<th scope="col">{escape(text)}</th>'
    )


def _state(state: str | None) -> str:
    return "<td>-</td>" if not state else f'<td class="state-{escape(state)}">{escape(state)}</td>'


def _status(status: str | None) -> str:
    return "<td>-</td>" if not status else f'<td class="{escape(status)}">{escape(status)}</td>'


def _row(*cells: str) -> str:
    return f"<tr>{''.join(cells)}</tr>"


def _table(head: Iterable[str], rows: Iterable[str], left: int) -> str:
    header = "".join(_th(h, i < left) for i, h in enumerate(head))
    return (
        f'<div class="wide"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


NOT_CLAUDE = "not Claude"


#: the deployments table: each column's header and the attribute of a line it shows
_COLUMNS = (
    ("resource", "resource"), ("deployment", "deployment"), ("model", "model"),
    ("spend estimated", "spend_estimated"), ("spend billed", "spend_billed"),
    ("variance", "spend_variance"), ("spend status", "spend_status"),
    ("input tokens", "input_tokens"), ("output tokens", "output_tokens"),
    ("requests", "requests"), ("429 rate", "rate_429"), ("error rate", "error_rate"),
    ("p95 latency (ms)", "p95_ms"), ("forecast month end", "forecast_month_end"),
    ("budget", "budget_state"), ("cache reads", "cache_read_tokens"),
    ("cache writes 5 min", "cache_write_5m_tokens"), ("cache writes 1 h", "cache_write_1h_tokens"),
    ("cache hit rate", "cache_hit_rate"), ("cache savings", "cache_savings"),
    ("TTFT avg (ms)", "ttft_avg_ms"),
)  # fmt: skip
_HEAD = tuple(head for head, _ in _COLUMNS)
_ATTRS = tuple(attr for _, attr in _COLUMNS)


def _cell(attr: str, value: Any) -> str:
    """A figure's ``<td>``, formatted by what it is (names left, money, counts, rates, ms)."""
    if attr in ("resource", "deployment", "model"):
        return _td(str(value), "l")
    if attr == "spend_status":
        return _status(value)
    if attr == "budget_state":
        return _state(value)
    if attr in _RATIOS:
        return _td(pct(value))
    if attr.endswith("_ms"):
        return _td(ms(value))
    if isinstance(value, int):
        return _td(count(value))
    return _td(usd(value))


def _line_cells(x: DeploymentLine) -> str:
    model = (x.model_label or x.model or "-") + ("" if x.claude else f" ({NOT_CLAUDE})")
    return "".join(_cell(a, model if a == "model" else getattr(x, a)) for a in _ATTRS)


def _total_cells(report: Report) -> str:
    """The totals row: sums where the totals have the figure, the month's forecast, else blank."""
    given: dict[str, Any] = {"resource": "total", "deployment": "", "model": ""}
    given["forecast_month_end"] = report.month.forecast_total
    cells = []
    for attr in _ATTRS:
        if attr in given:
            cells.append(_cell(attr, given[attr]))
        elif hasattr(report.totals, attr):
            cells.append(_cell(attr, getattr(report.totals, attr)))
        else:
            cells.append("<td></td>")
    return "".join(cells)


def _deployments(report: Report) -> str:
    rows = [_row(_line_cells(x)) for x in report.lines]
    rows.append(f'<tr class="total">{_total_cells(report)}</tr>')
    return _table(_HEAD, rows, left=3)


def _cards(report: Report) -> str:
    t, m = report.totals, report.month
    over = sum(1 for b in report.budgets if b.state == "over")
    warning = sum(1 for b in report.budgets if b.state == "warning")
    forecast_key = (
        f"month {m.month_start:%Y-%m} total"
        if m.complete
        else f"forecast {m.month_start:%Y-%m} (as of {m.as_of.isoformat()})"
    )
    cards = [
        ("spend estimated", usd(t.spend_estimated)),
        ("spend billed", usd(t.spend_billed)),
        ("variance (billed - estimated)", usd(t.spend_variance)),
        ("requests", count(t.requests)),
        ("429 rate", pct(t.rate_429)),
        ("error rate", pct(t.error_rate)),
        (forecast_key, usd(m.forecast_total)),
        ("budgets over / warning", f"{over} / {warning}" if report.budgets else "none set"),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div>'
            "</div>"
            for k, v in cards
        )
        + "</div>"
    )


def _charts(report: Report) -> str:
    if not report.daily:
        return '<p class="note">No spend recorded in this period.</p>'
    legend = (
        '<p class="legend note"><span class="billed"></span>billed (allocated)'
        '<span class="estimate"></span>estimated, not billed yet'
        '<span class="mark"></span>estimate on a billed day</p>'
    )
    figures = []
    for series in report.daily:
        name = f"{series.resource} / {series.deployment}"
        svg = daily_spend_svg(f"Daily spend of {name} (USD)", series.days)
        figures.append(f"<figure><figcaption>{escape(name)}</figcaption>{svg}</figure>")
    return legend + '<div class="charts">' + "".join(figures) + "</div>"


def _movers(report: Report) -> str:
    if not report.movers:
        return '<p class="note">No deployment\'s spend changed against the previous period.</p>'
    head = (
        "resource", "deployment", f"spend {report.previous.label}", "spend this period",
        "change", "change %", "requests before", "requests now",
    )  # fmt: skip
    rows = [
        _row(
            _td(m.resource, "l"),
            _td(m.deployment, "l"),
            _td(usd(m.previous)),
            _td(usd(m.current)),
            _td(("+" if m.change > 0 else "") + usd(m.change)),
            _td("new" if m.change_ratio is None else f"{m.change_ratio:+.1%}"),
            _td(count(m.requests_previous)),
            _td(count(m.requests_current)),
        )
        for m in report.movers
    ]
    return _table(head, rows, left=2) + (
        '<p class="note">Spend: the allocated bill where it is in, else the estimate.</p>'
    )


def _budgets(report: Report) -> str:
    m = report.month
    text = (
        f"Month {m.month_start:%Y-%m}: spent {usd(m.spent)} "
        f"(estimated {usd(m.estimated)}, billed {usd(m.billed)}, unallocated "
        f"{usd(m.unallocated)}); "
        + (
            "the month is complete."
            if m.complete
            else f"forecast to month end {usd(m.forecast_total)} as of {m.as_of.isoformat()} "
            f"({escape(m.forecast_method)})."
        )
        + (
            " Some deployments' models are unpriced: their estimates are missing."
            if m.unpriced
            else ""
        )
    )
    out = f"<p>{escape(text)}</p>"
    if not report.budgets:
        return out + '<p class="note">No budgets configured (FOUNDRY_MONITOR_BUDGETS).</p>'
    head = ("budget", "scope", "monthly budget", "spent", "forecast total", "state")
    rows = [
        _row(
            _td(b.label, "l"),
            _td(b.scope, "l"),
            _td(usd(b.monthly_usd)),
            _td(usd(b.spent)),
            _td(usd(b.forecast_total)),
            _state(b.state),
        )
        for b in report.budgets
    ]
    return out + _table(head, rows, left=2)


def _drift(report: Report) -> str:
    if not report.drift_days:
        return (
            '<p class="note">None: on every reconciled day the bill is within the drift '
            "threshold of the estimate.</p>"
        )
    head = ("day", "resource", "estimated", "billed", "variance", "variance %", "status")
    rows = [
        _row(
            _td(d.day.isoformat(), "l"),
            _td(d.resource, "l"),
            _td(usd(d.estimated)),
            _td(usd(d.billed)),
            _td(usd(d.variance)),
            _td("-" if d.variance_ratio is None else f"{d.variance_ratio:+.1%}"),
            _status(d.status),
        )
        for d in report.drift_days
    ]
    return _table(head, rows, left=2)


def _pools(report: Report) -> str:
    """Each quota pool's peak utilization (peak minute / limit) over the period."""
    if not report.pools:
        return '<p class="note">No Claude quota pool had traffic in this period.</p>'
    rows = [
        _row(
            _td(x.pool, "l"),
            *(_td(pct(v)) for v in (x.peak_rpm, x.peak_itpm, x.peak_otpm)),
            _td((x.binding_limit or "unknown").upper()),
            _td(count(x.throttled_minutes)),
            _td(x.limit_source),
        )
        for x in report.pools
    ]
    head = ["pool", "RPM peak", "ITPM peak", "OTPM peak", "binding", "429 minutes", "limits from"]
    return _table(head, rows, 1) + (
        '<p class="note">Peak minute of each limit against it, usage summed over the pool\'s '
        "deployments in every region (ITPM: uncached input + cache writes). Limits are the "
        "offer's documented defaults unless the settings give the granted quota; - means the "
        "limit is unknown. Details: foundry-monitor headroom.</p>"
    )


def title(report: Report) -> str:
    return f"Claude cost report: {report.period.label} (UTC)"


def render_html(report: Report) -> str:
    """The whole report as one HTML document that opens offline."""
    warning = (
        f'<div class="warn" role="note">{escape(report.credits_warning)}</div>'
        if report.credits_warning
        else ""
    )
    body = [
        f"<header><h1>{escape(title(report))}</h1>",
        f'<p class="sub">{escape(report.period.start.isoformat())} 00:00 to '
        f"{escape(report.period.end.isoformat())} 00:00 UTC; compared with "
        f"{escape(report.previous.label)}. Spend in USD.</p></header>",
        _cards(report),
        warning,
        "<h2>Deployments</h2>",
        _deployments(report),
        '<p class="note">Variance is billed minus estimated over the days of the period that '
        "are billed already (the bill arrives a day or two late). Latency is the upper bound "
        "of the histogram bucket holding the 95th percentile of successful requests. The "
        "forecast is for the month of the period's last day, as of that day. Cache hit rate: "
        "cache reads / (uncached input + cache writes + cache reads); cache savings: what the "
        "reads saved over plain input, less the write premiums (estimated at list price). TTFT "
        "avg: mean of Azure's NormalizedTimeToFirstToken, which has no percentiles. A model "
        f"marked {NOT_CLAUDE} is another publisher's: no estimate, never a share of the Claude "
        "bill.</p>",
        "<h2>Daily spend per deployment</h2>",
        _charts(report),
        "<h2>Top movers against the previous period</h2>",
        _movers(report),
        "<h2>Month and budgets</h2>",
        _budgets(report),
        "<h2>Quota pools: peak utilization</h2>",
        _pools(report),
        "<h2>Days flagged by reconciliation (drift)</h2>",
        _drift(report),
        '<footer class="note">Generated by foundry-monitor from its store; re-running this '
        "report on the same store gives the same figures.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title(report))}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def summary_lines(report: Report) -> list[str]:
    """A few lines for chat messages and the email's plain-text part."""
    t, m = report.totals, report.month
    lines = [
        f"Spend: {usd(t.spend_estimated)} estimated, {usd(t.spend_billed)} billed "
        f"(variance {usd(t.spend_variance)})",
        f"Requests: {count(t.requests)}; 429 rate {pct(t.rate_429)}; "
        f"error rate {pct(t.error_rate)}",
        (
            f"Month {m.month_start:%Y-%m}: {usd(m.spent)} (complete)"
            if m.complete
            else f"Month {m.month_start:%Y-%m}: {usd(m.spent)} so far, forecast "
            f"{usd(m.forecast_total)}"
        ),
    ]
    flagged = [b for b in report.budgets if b.state != "ok"]
    if flagged:
        lines.append("Budgets: " + "; ".join(f"{b.label} {b.state}" for b in flagged))
    if report.movers:
        top = report.movers[0]
        lines.append(
            f"Top mover: {top.resource}/{top.deployment} "
            f"{'+' if top.change > 0 else ''}{usd(top.change)}"
        )
    if report.drift_days:
        lines.append(f"Drift flagged on {len(report.drift_days)} resource-day(s)")
    return lines
