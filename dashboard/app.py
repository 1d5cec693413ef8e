"""foundry-monitor dashboard: navigation and the sidebar's filters, built once per run.

Start it with ``streamlit run dashboard/app.py`` and the same FOUNDRY_MONITOR_* environment as
the collector (at least FOUNDRY_MONITOR_DATABASE_URL, unless the default SQLite file is used).
The view (range, filters, refresh) lives in the URL, so a link reproduces the page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import streamlit as st

from collector.errors import FoundryMonitorError
from collector.store.queries import DeploymentInfo
from dashboard import common as c

# Not "pages/": Streamlit would run a deep link's page file on its own (its first multipage
# mode) until the first st.navigation call of the server.
PAGES = Path(__file__).parent / "views"

_INIT = "_view_from_url"
_EXACT = "_custom_exact"


def _from_url(options: dict[str, list[str]]) -> None:
    """Copy the URL's view into the widgets' state, once per session."""
    if st.session_state.get(_INIT):
        return
    qp = st.query_params
    range_key = qp.get(c.PARAM_RANGE, c.DEFAULT_RANGE)
    st.session_state["f_range"] = range_key if range_key in c.RANGE_LABELS else c.DEFAULT_RANGE
    refresh = qp.get(c.PARAM_REFRESH, "off")
    st.session_state["f_refresh"] = refresh if refresh in c.REFRESH_CHOICES else "off"
    for key, param in _MULTI.items():
        wanted = qp.get_all(param)
        st.session_state[key] = [v for v in wanted if v in options[param]]
    st.session_state[_EXACT] = (qp.get(c.PARAM_FROM), qp.get(c.PARAM_TO))
    st.session_state[_INIT] = True


_MULTI = {
    "f_sub": c.PARAM_SUBSCRIPTION,
    "f_res": c.PARAM_RESOURCE,
    "f_dep": c.PARAM_DEPLOYMENT,
    "f_model": c.PARAM_MODEL,
}


def _options(inventory: list[DeploymentInfo]) -> dict[str, list[str]]:
    return {
        c.PARAM_SUBSCRIPTION: sorted({c.subscription_of(d.resource_id) for d in inventory} - {""}),
        c.PARAM_RESOURCE: sorted({d.resource for d in inventory}),
        c.PARAM_DEPLOYMENT: sorted({d.deployment for d in inventory}),
        c.PARAM_MODEL: sorted({d.model for d in inventory if d.model}),
    }


def _custom_window(now: datetime, retention_days: int) -> tuple[datetime, datetime]:
    """The custom range: the URL's exact from/to, until the user picks other days."""
    exact_from, exact_to = st.session_state.get(_EXACT) or (None, None)
    start = c.parse_when(exact_from) or c.floor_minute(now) - timedelta(days=1)
    end = c.parse_when(exact_to, end=True) or now
    today = now.date()
    oldest = today - timedelta(days=retention_days)
    last = min((end - timedelta(microseconds=1)).date(), today)
    shown = (min(max(start.date(), oldest), last), last)
    if "f_days" not in st.session_state:
        st.session_state["f_days"] = shown
    picked = st.sidebar.date_input(
        "Days (UTC)",
        key="f_days",
        min_value=oldest,
        max_value=today,
        help=f"Inside the retention window ({retention_days} days).",
    )
    days = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
    if len(days) == 2 and days != shown:
        st.session_state[_EXACT] = (days[0].isoformat(), days[1].isoformat())
        first, stop = c.parse_when(days[0].isoformat()), c.parse_when(days[1].isoformat(), end=True)
        if first is not None and stop is not None:
            return first, stop
    return start, end


def _to_url(view: c.View, refresh: str) -> None:
    wanted: dict[str, str | list[str]] = {c.PARAM_RANGE: view.range_key}
    if view.range_key == "custom":
        exact_from, exact_to = st.session_state.get(_EXACT) or (None, None)
        wanted[c.PARAM_FROM] = exact_from or view.since.isoformat(timespec="minutes")
        wanted[c.PARAM_TO] = exact_to or view.until.isoformat(timespec="minutes")
    if refresh != "off":
        wanted[c.PARAM_REFRESH] = refresh
    for key, param in _MULTI.items():
        if st.session_state.get(key):
            wanted[param] = list(st.session_state[key])
    qp = st.query_params
    for param in (c.PARAM_RANGE, c.PARAM_FROM, c.PARAM_TO, c.PARAM_REFRESH, *_MULTI.values()):
        value = wanted.get(param)
        if value in (None, []):
            if param in qp:
                del qp[param]
        elif (qp.get_all(param) if isinstance(value, list) else qp.get(param)) != value:
            qp[param] = value


def _auto_refresh(seconds: int) -> None:
    """Rerun the whole app every ``seconds`` (the fragment's timer fires; the app reruns)."""
    if not seconds:
        return

    @st.fragment(run_every=seconds)
    def tick() -> None:
        if st.session_state.get("_tick_armed"):
            st.session_state["_tick_armed"] = False
            st.rerun(scope="app")
        st.session_state["_tick_armed"] = True

    tick()


def _matching_ids(inventory: list[DeploymentInfo]) -> tuple[int, ...] | None:
    chosen = {param: set(st.session_state.get(key) or ()) for key, param in _MULTI.items()}
    if not any(chosen.values()):
        return None
    return tuple(
        d.deployment_id
        for d in inventory
        if (
            not chosen[c.PARAM_SUBSCRIPTION]
            or c.subscription_of(d.resource_id) in chosen[c.PARAM_SUBSCRIPTION]
        )
        and (not chosen[c.PARAM_RESOURCE] or d.resource in chosen[c.PARAM_RESOURCE])
        and (not chosen[c.PARAM_DEPLOYMENT] or d.deployment in chosen[c.PARAM_DEPLOYMENT])
        and (not chosen[c.PARAM_MODEL] or d.model in chosen[c.PARAM_MODEL])
    )


def sidebar() -> c.View:
    """Build the filters from the inventory and return the view for this run."""
    settings = c.settings()
    url = settings.effective_database_url
    try:
        c.get_engine(url, settings.retention_days)
        inventory = c.load_inventory(url)
        runs = c.load_health(url)
    except FoundryMonitorError as exc:
        st.error(c.escape_markdown(str(exc)))
        st.stop()
    options = _options(inventory)
    _from_url(options)
    now = datetime.now(UTC)
    side = st.sidebar
    side.header("View")
    choices: list[str] = list(c.RANGE_LABELS)
    range_key: str = (
        side.selectbox(
            "Time range", choices, format_func=lambda k: c.RANGE_LABELS[k], key="f_range"
        )
        or c.DEFAULT_RANGE
    )
    start: datetime | None = None
    end: datetime | None = None
    if range_key == "custom":
        start, end = _custom_window(now, settings.retention_days)
    since, until = c.resolve_window(range_key, now, settings.retention_days, start, end)
    labels = {
        "f_sub": "Subscription",
        "f_res": "Resource",
        "f_dep": "Deployment",
        "f_model": "Model",
    }
    for key, param in _MULTI.items():
        if param == c.PARAM_SUBSCRIPTION and len(options[param]) < 2:
            continue  # one subscription: nothing to choose
        side.multiselect(labels[key], options[param], key=key, placeholder="All")
    refresh = side.selectbox(
        "Auto-refresh",
        list(c.REFRESH_CHOICES),
        format_func=lambda k: "Off" if k == "off" else f"Every {k}",
        key="f_refresh",
    )
    if side.button("Refresh", help="Forget cached figures and read the store again."):
        c.clear_caches()
        st.rerun()
    _auto_refresh(c.REFRESH_CHOICES[refresh])
    view = c.View(
        url=url,
        now=now,
        since=since,
        until=until,
        range_key=range_key,
        retention_days=settings.retention_days,
        subscriptions=tuple(st.session_state.get("f_sub") or ()),
        resources=tuple(st.session_state.get("f_res") or ()),
        deployments=tuple(st.session_state.get("f_dep") or ()),
        models=tuple(st.session_state.get("f_model") or ()),
        deployment_ids=_matching_ids(inventory),
        empty_store=not inventory and not runs,
    )
    _to_url(view, refresh)
    return view


def require_sign_in() -> None:
    """Microsoft Entra ID sign-in (OIDC through ``st.login``) when FOUNDRY_MONITOR_DASHBOARD_AUTH
    is on; the provider is ``[auth.microsoft]`` in Streamlit's secrets.toml (see the README)."""
    if not c.settings().dashboard_auth:
        return
    if st.user.get("is_logged_in", False):  # a mapping: absent when no auth is configured
        who = str(st.user.get("email") or st.user.get("name") or "?")  # the IdP's claims: text
        st.sidebar.caption(f"Signed in as {c.escape_markdown(who)}")
        st.sidebar.button("Sign out", on_click=st.logout)
        return
    st.title("foundry-monitor")
    st.info("Sign in with your Microsoft Entra ID account to see the dashboard.")
    st.button("Sign in with Microsoft", on_click=st.login, args=("microsoft",))
    st.stop()


def main() -> None:
    st.set_page_config(page_title="foundry-monitor", layout="wide")
    require_sign_in()
    page = st.navigation(
        [
            st.Page(PAGES / "overview.py", title="Overview", icon="📊", default=True),
            st.Page(PAGES / "latency.py", title="Latency", icon="⏱️"),
            st.Page(PAGES / "rate_limits.py", title="Rate limits", icon="🚦"),
            st.Page(PAGES / "capacity.py", title="Capacity", icon="📈"),
            st.Page(PAGES / "errors.py", title="Errors", icon="❗"),
            st.Page(PAGES / "spend.py", title="Spend", icon="💵"),
            st.Page(PAGES / "lookup.py", title="Request look-up", icon="🔎"),
            st.Page(PAGES / "health.py", title="Collector health", icon="🩺"),
            st.Page(PAGES / "alerts.py", title="Alerts", icon="🚨"),
        ]
    )
    c.set_view(sidebar())
    try:
        page.run()
    except FoundryMonitorError as exc:  # e.g. a read stopped by its time limit
        st.error(c.escape_markdown(str(exc)))


main()
