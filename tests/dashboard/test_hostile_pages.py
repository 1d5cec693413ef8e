"""The hostile-input suite, dashboard side: every page through AppTest on a store whose deployment
and resource names and a failed run's Azure error carry Markdown links and images, HTML, console
markup, Streamlit's ``:color[...]`` and ``$math$``, formulas, control characters and bidi overrides
(:mod:`tests.hostile`). No page fails; no Markdown element holds a name unescaped; the tables and
the filters show the names intact."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.store import migrate
from tests import hostile
from tests.dashboard.conftest import APP, add_alerts, use_store
from tests.hostile import HostileStore

PAGES = [
    "views/overview.py",
    "views/latency.py",
    "views/rate_limits.py",
    "views/errors.py",
    "views/spend.py",
    "views/lookup.py",
    "views/health.py",
    "views/capacity.py",
    "views/alerts.py",
]
#: What Markdown (with Streamlit's extensions) or a browser would act on in an element's body.
MARKDOWN_ACTIVE = (
    "](https://",
    "](javascript:",
    "![",
    "<script",
    "<img",
    "<b>",
    ":red[",
    "$a$",
    "\x1b",
    "\u202e",
)
#: An alert scope as evaluation keys a deployment's: its resource and deployment names.
ALERT_SCOPE = hostile.RESOURCES["contoso-eastus2"] + "/" + hostile.DEPLOYMENTS["support-bot"]
TRAFFIC = [
    hostile.DEPLOYMENTS[n]
    for n in ("claude-opus-4-5", "support-bot", "claude-haiku-4-5", "gpt-4o-mini")
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile-dashboard') / 'hostile.db'}"
    engine = migrate.prepare(url)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    try:
        built = hostile.hostile_store(engine, start)
        add_alerts(engine, ALERT_SCOPE)  # firing on the overview and the Alerts page
        yield built
    finally:
        engine.dispose()


@pytest.fixture
def hostile_url(monkeypatch: pytest.MonkeyPatch, store: HostileStore) -> str:
    url = store.engine.url.render_as_string(hide_password=False)
    use_store(monkeypatch, url)
    return url


def run(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update(params)
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_bodies(at: AppTest) -> list[str]:
    """The body of every element Streamlit renders as Markdown, sidebar included."""
    bodies: list[str] = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "info", "warning"):
        bodies += [str(e.value) for e in getattr(at, kind)]
    bodies += [str(e.value) for e in at.error] + [str(e.value) for e in at.success]
    for metric in at.metric:
        bodies += [str(metric.label), str(metric.value)]
    return bodies


def active(bodies: list[str]) -> list[tuple[str, str]]:
    """The fragments present unescaped (``\\<img`` is text: a backslash escape)."""
    return [
        (f, b) for b in bodies for f in MARKDOWN_ACTIVE if re.search(r"(?<!\\)" + re.escape(f), b)
    ]


@pytest.mark.parametrize("page", PAGES)
def test_no_page_renders_a_hostile_name_as_markdown(hostile_url: str, page: str) -> None:
    at = run(page)
    assert not active(markdown_bodies(at))


def test_the_overview_table_and_filters_show_the_names_intact(hostile_url: str) -> None:
    at = run(PAGES[0])
    shown = at.dataframe[0].value
    assert set(shown["deployment"]) >= set(TRAFFIC)
    assert set(shown["resource"]) == set(hostile.RESOURCES.values())
    [deployments] = [m for m in at.sidebar.multiselect if m.label == "Deployment"]
    assert set(deployments.options) == set(hostile.DEPLOYMENTS.values())


def test_a_filter_on_a_hostile_name_from_the_url_keeps_its_deployment(hostile_url: str) -> None:
    name = hostile.DEPLOYMENTS["support-bot"]
    at = run(PAGES[0], deployment=name)
    assert list(at.dataframe[0].value["deployment"]) == [name]


@pytest.mark.parametrize("original", ["support-bot", "claude-haiku-4-5"])
def test_lookup_names_the_deployment_as_text(
    hostile_url: str, store: HostileStore, original: str
) -> None:
    name = hostile.DEPLOYMENTS[original]
    request = next(
        r for r in store.seed.requests if r.deployment_id == store.ids[name] and r.logged
    )
    at = run("views/lookup.py", id=request.correlation_id)
    bodies = markdown_bodies(at)
    assert not active(bodies)
    shown = hostile.visible(hostile.one_line(name))
    assert [s for s in at.subheader if shown in hostile.unescape_markdown(s.value)], [
        s.value for s in at.subheader
    ]
    fields = dict(at.dataframe[0].value.values.tolist())
    assert fields["deployment"] == name


def test_health_shows_the_azure_error_as_text(hostile_url: str) -> None:
    at = run("views/health.py")
    assert not active(markdown_bodies(at))
    shown = hostile.visible(hostile.one_line(hostile.MESSAGE))
    assert [w for w in at.warning if shown in hostile.unescape_markdown(w.value)]
    errors = [t for t in at.dataframe if "error" in t.value.columns]
    assert hostile.MESSAGE in set(errors[0].value["error"])


def test_alerts_show_a_hostile_scope_as_text(hostile_url: str) -> None:
    shown = hostile.visible(hostile.one_line(ALERT_SCOPE))
    at = run(PAGES[0])
    assert not active(markdown_bodies(at))
    assert [w for w in at.warning if shown in hostile.unescape_markdown(w.value)]
    at = run("views/alerts.py")
    assert not active(markdown_bodies(at))
    tables = [t.value for t in at.dataframe if "scope" in t.value.columns]
    assert len(tables) == 3  # firing, history, silences
    assert all(ALERT_SCOPE in set(t["scope"]) for t in tables)


def test_an_empty_store_is_unaffected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The check itself sees Markdown: the page's own Markdown is literal text of ours."""
    use_store(monkeypatch, f"sqlite:///{tmp_path / 'empty.db'}")
    at = run(PAGES[0])
    assert markdown_bodies(at) and not active(markdown_bodies(at))
