"""Reports add each quota pool's peak utilization (issue 17): the headroom read's figures, in
the model and in the HTML, on SQLite and Postgres."""

from __future__ import annotations

from datetime import date

from collector.reports import build_report, period_before
from collector.reports.config import ReportConfig
from collector.reports.render import render_html
from collector.store.queries.headroom import pool_headroom
from tests.reports.conftest import Seeded


def test_a_report_lists_each_pools_peak_utilization(seeded: Seeded, config: ReportConfig) -> None:
    period = period_before("day", date(2026, 11, 3))
    report = build_report(seeded.engine, period, config)
    pools = pool_headroom(seeded.engine, period.since, period.until, config.quota)
    assert pools and [x.pool for x in report.pools] == [p.key.label for p in pools]
    for line, pool in zip(report.pools, pools, strict=True):
        assert line.peak_rpm == pool.by_limit["rpm"].utilization
        assert line.peak_itpm == pool.by_limit["itpm"].utilization
        assert line.binding_limit == pool.binding_limit
        assert line.throttled_minutes == pool.throttled_minutes
    html = render_html(report)
    assert "<h2>Quota pools: peak utilization</h2>" in html
    first = report.pools[0]
    assert f"{first.peak_rpm:.1%}" in html
