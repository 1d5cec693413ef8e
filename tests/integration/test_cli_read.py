"""``summary`` and ``lookup`` as a user runs them, through ``collector.cli.main()`` (one-line errors
and exit codes) on an app built with ``register``, against the seeded store on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from collector.cli.read import register
from collector.store import queries
from tests import seed as seeding
from tests.cli_run import CliRun, app_of
from tests.seed import Seed

SUMMARY_KEYS = {
    "resource",
    "deployment",
    "model",
    "requests",
    "status_2xx",
    "status_429",
    "status_4xx_other",
    "status_5xx",
    "rate_429",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "input_tokens",
    "output_tokens",
    "spend_estimated",
    "spend_billed",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_hit_rate",
    "cache_savings",
    "ttft_avg_ms",
    "claude",
}
LOOKUP_KEYS = {
    "apim_request_id",
    "request_id",
    "resource",
    "deployment",
    "status",
    "time",
    "duration_ms",
}


class Run(CliRun):
    """Runs ``collector.cli.main()`` (the console script) with the read commands registered."""

    register = staticmethod(register)


@pytest.fixture
def run(
    seeded_pair: tuple[Engine, Seed],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    return Run(monkeypatch, capsys, seeded_pair[0].url.render_as_string(hide_password=False))


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


# summary --------------------------------------------------------------------------------------
def test_summary_json_has_the_keys_and_the_seed_numbers(run: Run, seeded: Seed) -> None:
    code, out, err = run(
        "summary", "--since", _iso(seeded.start), "--until", _iso(seeded.end), "--json"
    )
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert [r["deployment"] for r in rows] == [
        "claude-opus-4-5",
        "support-bot",
        "claude-haiku-4-5",
        "claude-opus-4-1",
    ]
    truth = seeded.expected(seeded.start, seeded.end)
    for row in rows:
        assert set(row) >= SUMMARY_KEYS
        expected = truth[seeded.deployment_ids[row["deployment"]]]
        assert row["requests"] == expected.requests
        assert row["status_429"] == expected.status_429
        assert row["status_4xx_other"] == expected.status_4xx_other
        assert row["status_5xx"] == expected.status_5xx
        assert row["input_tokens"] == expected.input_tokens
        assert row["output_tokens"] == expected.output_tokens
        assert row["p95_ms"] == expected.percentile_ms(0.95)
        assert row["cache_read_tokens"] == expected.cache_read_tokens
        assert row["cache_write_5m_tokens"] == expected.cache_write_5m_tokens
        assert row["cache_write_1h_tokens"] == expected.cache_write_1h_tokens
        if expected.cache_hit_rate is None:
            assert row["cache_hit_rate"] is None
        else:
            assert row["cache_hit_rate"] == pytest.approx(expected.cache_hit_rate)
        savings = expected.cache_savings
        assert row["cache_savings"] == (None if savings is None else float(savings))
        if expected.ttft_avg_ms is None:
            assert row["ttft_avg_ms"] is None
        else:
            assert row["ttft_avg_ms"] == pytest.approx(expected.ttft_avg_ms)
        assert row["claude"] is True
    by_name = {r["deployment"]: r for r in rows}
    assert by_name["support-bot"]["model"] == "claude-sonnet-4-5"
    assert by_name["support-bot"]["resource"] == "contoso-eastus2"
    assert by_name["claude-haiku-4-5"]["spend_estimated"] is None
    assert by_name["claude-opus-4-1"]["rate_429"] is None
    assert isinstance(by_name["support-bot"]["spend_estimated"], float)
    support = by_name["support-bot"]
    assert support["cache_read_tokens"] > 0 and 0 < support["cache_hit_rate"] < 1
    assert isinstance(support["cache_savings"], float) and support["ttft_avg_ms"] > 0
    assert by_name["claude-haiku-4-5"]["cache_savings"] is None  # no spend rows: unknown


def test_summary_prints_a_table_by_default(
    run: Run, seeded_pair: tuple[Engine, Seed], seeded: Seed
) -> None:
    code, out, err = run("summary", "--since", _iso(seeded.start), "--until", _iso(seeded.end))
    assert (code, err) == (0, "")
    for text in (
        "deployment",
        "p95 ms",
        "429 rate",
        "cache hit",
        "support-bot",
        "claude-sonnet-4-5",
    ):
        assert text in out
    [support] = queries.summary(seeded_pair[0], seeded.start, seeded.end, deployment="support-bot")
    assert f"{support.requests:,}" in out
    assert f"{support.p95_ms:,.0f}" in out
    assert support.cache_hit_rate is not None
    line = next(x for x in out.splitlines() if "support-bot" in x)
    assert f"{support.cache_hit_rate:.1%}" in line


@pytest.mark.parametrize(
    ("since", "until", "start", "end"),
    [
        ("2026-11-01T22:00", "2026-11-02T02:00", (1, 22, 0), (2, 2, 0)),
        ("2026-11-01T22:30Z", "2026-11-02T01:15:00Z", (1, 22, 30), (2, 1, 15)),
        ("2026-11-02T00:30+01:00", "2026-11-01T20:00-04:00", (1, 23, 30), (2, 0, 0)),
        ("2026-11-01", "2026-11-02", (1, 0, 0), (2, 0, 0)),
        (" 2026-11-01T23:59:00+00:00 ", "2026-11-02T00:01", (1, 23, 59), (2, 0, 1)),
    ],
)
def test_summary_accepts_dates_times_zulu_and_offsets(
    run: Run,
    seeded: Seed,
    since: str,
    until: str,
    start: tuple[int, int, int],
    end: tuple[int, int, int],
) -> None:
    code, out, err = run("summary", "--since", since, "--until", until, "--json")
    assert (code, err) == (0, "")
    window = (
        datetime(2026, 11, start[0], start[1], start[2], tzinfo=UTC),
        datetime(2026, 11, end[0], end[1], end[2], tzinfo=UTC),
    )
    truth = seeded.expected(*window)
    got = {seeded.deployment_ids[r["deployment"]]: r["requests"] for r in json.loads(out)}
    assert got == {dep_id: e.requests for dep_id, e in truth.items() if dep_id in got}
    assert sum(got.values()) == sum(e.requests for e in truth.values())


def test_summary_filters_by_resource_and_deployment(run: Run, seeded: Seed) -> None:
    args = ["summary", "--since", _iso(seeded.start), "--until", _iso(seeded.end), "--json"]
    code, out, _ = run(*args, "--resource", "contoso-swedencentral")
    assert code == 0
    assert [r["deployment"] for r in json.loads(out)] == ["claude-haiku-4-5", "claude-opus-4-1"]
    code, out, _ = run(*args, "--deployment", "support-bot")
    assert [r["deployment"] for r in json.loads(out)] == ["support-bot"]
    code, out, _ = run(*args, "--deployment", "nope")
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--since", "yesterday"],
            "error: --since 'yesterday' is not a date: use ISO 8601 such as 2026-11-01, "
            "2026-11-01T12:00, 2026-11-01T12:00Z or 2026-11-01T12:00+02:00",
        ),
        (
            ["--since", "2026-11-01", "--until", "2026-13-01"],
            "error: --until '2026-13-01' is not a date: use ISO 8601 such as 2026-11-01, "
            "2026-11-01T12:00, 2026-11-01T12:00Z or 2026-11-01T12:00+02:00",
        ),
        (
            ["--since", "2026-11-02", "--until", "2026-11-01"],
            "error: --since (2026-11-02T00:00:00+00:00) must be before --until "
            "(2026-11-01T00:00:00+00:00)",
        ),
        (
            ["--since", "2026-11-01T10:00Z", "--until", "2026-11-01T12:00+02:00"],
            "error: --since (2026-11-01T10:00:00+00:00) must be before --until "
            "(2026-11-01T10:00:00+00:00)",
        ),
    ],
)
def test_bad_dates_exit_2_with_one_line(run: Run, args: list[str], message: str) -> None:
    code, out, err = run("summary", *args)
    assert (code, out) == (2, "")
    assert err.splitlines() == [message]


# lookup ---------------------------------------------------------------------------------------
def _failure(seeded: Seed) -> seeding.SimRequest:
    return next(r for r in seeded.logged() if r.status == 429)


def test_lookup_prints_the_request_its_minute_and_the_fix(run: Run, seeded: Seed) -> None:
    target = _failure(seeded)
    code, out, err = run("lookup", target.correlation_id)
    assert (code, err) == (0, "")
    assert f"apim-request-id  {target.correlation_id}" in out
    assert "status           429" in out
    assert queries.status_fix(429) in out
    minute = seeded.in_minute(target.deployment_id, target.minute)
    assert f"{len(minute)} requests, {sum(r.status == 429 for r in minute)} throttled (429)" in out


@pytest.mark.parametrize("shape", ["{}", " '{}' ", '"{}"'])
def test_lookup_json_by_guid_in_any_case_with_quotes(run: Run, seeded: Seed, shape: str) -> None:
    target = _failure(seeded)
    code, out, err = run("lookup", shape.format(target.correlation_id.upper()), "--json")
    assert (code, err) == (0, "")
    found = json.loads(out)
    assert set(found) >= LOOKUP_KEYS
    assert found["apim_request_id"] == target.correlation_id
    assert found["request_id"] == target.client_request_id
    assert found["status"] == 429
    assert found["duration_ms"] == target.duration_ms
    assert datetime.fromisoformat(found["time"]) == target.ts
    assert found["resource"] in seeding.REGIONS
    names = {v: k for k, v in seeded.deployment_ids.items()}
    assert found["deployment"] == names[target.deployment_id]
    assert found["fix"] == queries.status_fix(429)
    assert found["minute"]["requests"] == len(seeded.in_minute(target.deployment_id, target.minute))


def test_lookup_by_request_id(run: Run, seeded: Seed) -> None:
    target = next(r for r in seeded.logged() if r.client_request_id)
    assert target.client_request_id
    code, out, _ = run("lookup", target.client_request_id, "--json")
    assert code == 0
    assert json.loads(out)["apim_request_id"] == target.correlation_id


def test_a_guid_not_in_the_store_exits_1_with_one_line(run: Run) -> None:
    guid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    code, out, err = run("lookup", guid.upper())
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "error: " + queries.not_found_message(queries.RequestId("apim-request-id", guid))
    ]
    assert f"foundry-monitor lookup {guid} --live" in err


def test_a_request_id_not_in_the_store_explains_what_to_ask_for(run: Run) -> None:
    code, out, err = run("lookup", "req_011CSHoEeqs5C35K2UUqR7Fy")
    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith("error: request-id req_011CSHoEeqs5C35K2UUqR7Fy is not in the store:")
    assert "Azure's request logs index the apim-request-id" in line
    assert "apim-request-id response header" in line
    assert "give the request-id to Anthropic support" in line


@pytest.mark.parametrize(
    "raw",
    [
        "hello",
        "' OR 1=1 --",
        "0f8fad5b-d9cb-469f-a165-70867728950e\n| take 10",
        "req_x; DROP TABLE request_log",
        "x" * 5000,
        "\x1b[2J",
    ],
)
def test_a_malformed_id_exits_2_with_one_line(run: Run, raw: str) -> None:
    code, out, err = run("lookup", raw)
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("error: ") and "is not a request id" in line
    assert "0f8fad5b-d9cb-469f-a165-70867728950e" in line and "req_011CSHoEeqs5C35K2UUqR7Fy" in line


def test_a_malformed_id_is_refused_before_the_database_is_opened(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Run(monkeypatch, capsys, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, _, err = run("lookup", "not-an-id")
    assert code == 2 and "is not a request id" in err


# help -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["summary", "lookup"])
def test_every_read_command_has_help_with_an_example(command: str) -> None:
    app = app_of(register)
    registered = {info.name for info in app.registered_commands}
    assert registered == {"summary", "lookup"}
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: foundry-monitor " + command in result.stdout


def test_the_read_commands_default_to_the_last_24_hours() -> None:
    from collector.cli.read import window

    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    assert window(None, None, now) == (now - timedelta(hours=24), now)
    assert window("2026-11-02T06:00", None, now) == (now - timedelta(hours=6), now)


def test_summary_table_marks_other_publishers_and_shows_the_cache_hit_rate() -> None:
    from dataclasses import replace

    from rich.console import Console

    from collector.cli.read import summary_table

    base = queries.DeploymentSummary(
        resource="r", deployment="gpt", model="gpt-4o-mini", requests=10, status_2xx=10,
        status_429=0, status_4xx_other=0, status_5xx=0, rate_429=0.0, error_rate=0.0,
        p50_ms=None, p95_ms=None, p99_ms=None, input_tokens=100, output_tokens=10,
        spend_estimated=None, spend_billed=None, resource_id="r", deployment_id=1,
    )  # fmt: skip
    rows = [
        replace(base, claude=False),
        replace(base, deployment="claude", model="claude-opus-4-5", cache_hit_rate=0.25),
    ]
    console = Console(width=300, record=True)
    console.print(summary_table(rows, datetime(2026, 11, 1), datetime(2026, 11, 2)))
    lines = console.export_text().splitlines()
    gpt = next(x for x in lines if " gpt " in x)
    claude = next(x for x in lines if " claude " in x)
    assert "gpt-4o-mini (not Claude)" in gpt
    assert "not Claude" not in claude and "25.0%" in claude
