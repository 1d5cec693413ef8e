"""No stored name or Azure text reaches a Streamlit element that renders Markdown unescaped.

Streamlit renders Markdown (links, images, ``:color[...]``, ``$...$`` math) in ``st.markdown``,
titles, headers, captions, alerts, ``st.metric`` (label, value and delta), widget and column
labels and every ``help=`` tooltip (see the ``label``/``help`` parameters of each element's
docstring, e.g. ``streamlit/elements/metric.py``). A deployment named ``[re-auth](https://x)``
or an Azure error message with ``![](https://beacon)`` in one of them renders as a link or an
image. Dataframe cells, multiselect/selectbox options and Vega-Lite chart text are not Markdown
and are not checked.

This test walks the dashboard's source with :mod:`ast` and checks every argument of those sinks:
it must be a literal, an f-string or concatenation of safe parts, a module constant
(``UPPER_CASE``), a call of :func:`dashboard.common.escape_markdown` or of one of the formatters
that only emit digits and fixed words (:data:`SAFE_CALLS`), or an expression reviewed in
:data:`REVIEWED` with the reason it cannot carry a name. Anything else fails, naming the file,
line and expression: escape it with ``c.escape_markdown`` (or review it here).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"

#: Sinks whose first positional argument (``body`` or ``label``) is Markdown.
LABEL_SINKS = frozenset(
    {
        "markdown",
        "title",
        "header",
        "subheader",
        "caption",
        "info",
        "success",
        "warning",
        "error",
        "toast",
        "expander",
        "popover",
        "button",
        "download_button",
        "link_button",
        "page_link",
        "form_submit_button",
        "selectbox",
        "multiselect",
        "radio",
        "pills",
        "segmented_control",
        "text_input",
        "text_area",
        "number_input",
        "date_input",
        "time_input",
        "checkbox",
        "toggle",
        "slider",
        "select_slider",
        "file_uploader",
        "chat_input",
    }
)
#: Sinks all of whose positional arguments are Markdown.
ALL_POSITIONAL_SINKS = frozenset({"write", "metric", "tabs"})
#: Keyword arguments rendered as Markdown wherever they appear.
MARKDOWN_KEYWORDS = frozenset(
    {"body", "label", "help", "value", "delta", "title", "options", "captions", "caption"}
)
#: Keyword arguments of sinks that are never Markdown (keys, callbacks, formats, sizes...).
#: ``value``/``options`` of input widgets are values, not text: they are listed per sink below.
VALUE_KEYWORDS = {
    "selectbox": {"options", "value"},
    "multiselect": {"options", "value"},
    "text_input": {"value"},
    "text_area": {"value"},
    "number_input": {"value"},
    "date_input": {"value"},
    "time_input": {"value"},
    "checkbox": {"value"},
    "toggle": {"value"},
    "slider": {"value", "options"},
    "select_slider": {"value", "options"},
}
#: The column kinds of :mod:`dashboard.columns` (``cols.usd(label, help)``...): sinks like the
#: ``st.column_config`` columns they build, every positional argument (label, help) Markdown.
COLUMN_KINDS = frozenset({"usd", "percent", "count"})
#: Calls whose result is safe Markdown: the escaping helper, and formatters of numbers, times and
#: ages that only emit digits, separators and fixed words.
SAFE_CALLS = frozenset(
    {
        "escape_markdown",
        "fmt_time",
        "fmt_usd",
        "fmt_age",
        "freshness_line",
        "status_fix",
        "len",
        "sum",
    }
)

#: Expressions reviewed by hand: (file under dashboard/, expression) -> why it carries no name.
REVIEWED: dict[tuple[str, str], str] = {
    ("common.py", "caption or view.window_label"): "page titles' literal captions; two times",
    ("common.py", "title"): "page_view's title: every page passes a literal",
    ("app.py", "labels[key]"): "the literal filter labels",
    ("downloads.py", "label"): "CSV_LABEL or PARQUET_LABEL, the literal button labels",
    ("views/capacity.py", "k.upper()"): "one of the literal LIMITS (rpm, itpm, otpm)",
    ("columns.py", "label"): "a column kind's label: each call is checked itself (COLUMN_KINDS)",
    ("columns.py", "help"): "a column kind's help: each call is checked itself (COLUMN_KINDS)",
    ("downloads.py", "title"): "titled_table's title: the health and alerts pages pass literals",
    ("downloads.py", "empty"): "titled_table's empty-table notice: the pages pass literals",
    ("views/errors.py", "view.step"): "one of step_for's fixed steps (1m, 5m, 15m, 1h, 1d)",
    ("views/errors.py", "code"): "an int (the HTTP status)",
    ("views/errors.py", "where"): "joined from c.escape_markdown of each resource/deployment",
    ("views/latency.py", "view.step"): "one of step_for's fixed steps",
    ("views/latency.py", "metric"): "the literal metric names passed by the page",
    ("views/latency.py", "kind"): "the literal 'Average' / 'Maximum'",
    ("views/latency.py", "what"): "the literal metric descriptions passed by the page",
    ("views/overview.py", "spark_step"): "one of sparkline_step's fixed steps",
    ("views/rate_limits.py", "view.step"): "one of step_for's fixed steps",
    ("views/spend.py", "days[0].day"): "a date",
    ("views/spend.py", "days[-1].day"): "a date",
    ("views/spend.py", "drifting"): "an int",
    ("views/lookup.py", "request.status"): "an int (the HTTP status)",
    ("views/lookup.py", "request.duration_ms"): "an int",
    ("views/lookup.py", "request.time.strftime('%Y-%m-%d %H:%M:%S')"): "a formatted time",
    ("views/lookup.py", "'✅' if ok else '❌'"): "literals",
    ("views/lookup.py", "minute.requests"): "an int",
    ("views/lookup.py", "minute.status_429 or 0"): "an int",
    ("views/lookup.py", "minute.ttlb_avg_ms"): "a float",
    ("views/lookup.py", "len(minute.other_failures)"): "an int",
    ("views/health.py", "c.settings().logs_overlap_minutes"): "an int setting",
    ("month.py", "month.month_start"): "a date",
    ("month.py", "month.credits_warning"): "our text around a dollar amount (spend.credits)",
    ("month.py", "scope"): "one of two literals",
    ("month.py", "month.forecast_method"): "collector.spend.forecast's fixed wording and numbers",
    ("month.py", "month.today"): "a date",
    ("app.py", "retention_days"): "an int setting",
    ("cache.py", "text"): "unmapped_warning's result, escaped by it",
}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    expression: str

    def __str__(self) -> str:
        return f"dashboard/{self.file}:{self.line}: {self.expression}"


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _sink_names(func: ast.expr) -> list[str]:
    """The sink names a call's function may be (``(st.success if ok else st.error)(...)``)."""
    if isinstance(func, ast.IfExp):
        return _sink_names(func.body) + _sink_names(func.orelse)
    name = _name(func)
    return [name] if name else []


def _is_column_config(func: ast.expr) -> bool:
    """``st.column_config.TextColumn(...)`` and the other column types: label and help."""
    return (
        isinstance(func, ast.Attribute)
        and func.attr.endswith("Column")
        and _name(func.value) == "column_config"
    )


def _is_column_kind(func: ast.expr) -> bool:
    """``cols.usd(...)`` (or ``usd(...)`` inside ``dashboard/columns.py``) and the other kinds."""
    if isinstance(func, ast.Attribute):
        return func.attr in COLUMN_KINDS and _name(func.value) == "cols"
    return isinstance(func, ast.Name) and func.id in COLUMN_KINDS


def _markdown_arguments(call: ast.Call) -> list[ast.expr]:
    names = _sink_names(call.func)
    column_kind = _is_column_kind(call.func)
    column_or_page = column_kind or _is_column_config(call.func) or _name(call.func) == "Page"
    args: list[ast.expr] = []
    if column_kind or any(n in ALL_POSITIONAL_SINKS for n in names):
        args += call.args
    elif any(n in LABEL_SINKS for n in names) or _is_column_config(call.func):
        args += call.args[:1]
    is_sink = column_or_page or any(n in LABEL_SINKS | ALL_POSITIONAL_SINKS for n in names)
    values = {v for n in names for v in VALUE_KEYWORDS.get(n, set())}
    args += [
        k.value
        for k in call.keywords
        if k.arg == "help" or (is_sink and k.arg in MARKDOWN_KEYWORDS and k.arg not in values)
    ]
    return args


def _unsafe_parts(node: ast.expr, file: str) -> list[ast.expr]:
    """The parts of ``node`` that are neither safe by construction nor reviewed."""
    if (file, ast.unparse(node)) in REVIEWED:
        return []
    if isinstance(node, ast.Constant):
        return []
    if isinstance(node, ast.JoinedStr):
        return [
            part
            for value in node.values
            if isinstance(value, ast.FormattedValue)
            for part in _unsafe_parts(value.value, file)
        ]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _unsafe_parts(node.left, file) + _unsafe_parts(node.right, file)
    if isinstance(node, ast.IfExp):
        return _unsafe_parts(node.body, file) + _unsafe_parts(node.orelse, file)
    if isinstance(node, ast.BoolOp):
        return [p for v in node.values for p in _unsafe_parts(v, file)]
    if isinstance(node, ast.Tuple | ast.List):
        return [p for e in node.elts for p in _unsafe_parts(e, file)]
    if isinstance(node, ast.Name | ast.Attribute) and (_name(node) or "").isupper():
        return []  # a module constant (TITLE, c.DASH, c.EMPTY_STORE)
    if isinstance(node, ast.Call):
        callee = _name(node.func)
        if callee in SAFE_CALLS:
            return []
        if (  # ", ".join(<safe> for ...)
            callee == "join"
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Constant)
            and len(node.args) == 1
            and isinstance(node.args[0], ast.GeneratorExp | ast.ListComp)
        ):
            return _unsafe_parts(node.args[0].elt, file)
    return [node]


def unsafe_sink_arguments(source: str, file: str) -> list[Finding]:
    """Every argument of a Markdown sink in ``source`` that is not safe (see the module doc)."""
    findings: list[Finding] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for arg in _markdown_arguments(node):
            findings += [
                Finding(file, part.lineno, ast.unparse(part)) for part in _unsafe_parts(arg, file)
            ]
    return findings


def _sources() -> dict[str, str]:
    return {
        path.relative_to(DASHBOARD).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(DASHBOARD.rglob("*.py"))
    }


def test_every_markdown_sink_of_the_dashboard_gets_literals_or_escaped_text() -> None:
    sources = _sources()
    assert "views/lookup.py" in sources  # the walk did find the pages
    findings = [f for file, text in sources.items() for f in unsafe_sink_arguments(text, file)]
    assert not findings, (
        "Markdown sinks given text that may carry a stored name or Azure's text: escape it with "
        "c.escape_markdown, or review it in REVIEWED:\n" + "\n".join(map(str, findings))
    )


def test_every_reviewed_expression_is_still_in_the_dashboard() -> None:
    sources = _sources()
    used = {
        (file, ast.unparse(node))
        for file, text in sources.items()
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.expr)
    }
    stale = sorted(set(REVIEWED) - used)
    assert not stale, f"reviewed but gone from the dashboard: {stale}"


@pytest.mark.parametrize(
    "line",
    [
        "st.subheader(f'{found.deployment} in the minute')",
        "st.caption('Resources: ' + ', '.join(names))",
        "st.warning(run.error)",
        "(st.success if ok else st.error)(found.fix)",
        "left.metric(d.deployment, 3)",
        "left.metric('Requests', 3, delta=d.deployment)",
        "st.column_config.TextColumn(d.resource)",
        "st.dataframe(t, column_config={'x': st.column_config.NumberColumn('X', help=d.model)})",
        "st.dataframe(t, column_config={'x': cols.usd(d.resource)})",
        "st.dataframe(t, column_config={'x': cols.percent('X', d.model)})",
        "st.dataframe(t, column_config={'x': cols.count('X', help=d.model)})",
        "side.multiselect(d.deployment, options)",
        "st.expander(f'**{d.resource}**')",
        "st.caption(', '.join(f'{m}' for m in missing))",
        "st.sidebar.caption(f'Signed in as {st.user.get(\"email\")}')",
    ],
)
def test_the_check_catches_names_in_markdown(line: str) -> None:
    assert unsafe_sink_arguments(line, "views/example.py"), line


@pytest.mark.parametrize(
    "line",
    [
        "st.subheader(f'{c.escape_markdown(found.deployment)} in the minute')",
        "st.caption('Resources: ' + ', '.join(c.escape_markdown(n) for n in names))",
        "st.warning(c.escape_markdown(run.error))",
        "(st.success if ok else st.error)(c.escape_markdown(found.fix))",
        "left.metric('Requests', f'{len(rows):,}', help='Per minute.')",
        "st.info(c.EMPTY_STORE)",
        "st.caption(f'As of {c.fmt_time(view.now)} UTC')",
        "st.dataframe(table, hide_index=True)",
        "st.dataframe(t, column_config={'x': cols.usd('Billed (USD)', 'Billed minus estimated.')})",
        "side.multiselect('Deployment', names, key='f_dep', placeholder='All')",
        "st.code(c.live_lookup_command(value), language='bash')",
        "st.text(run.error)",
    ],
)
def test_the_check_passes_literals_and_escaped_text(line: str) -> None:
    assert not unsafe_sink_arguments(line, "views/example.py"), line
