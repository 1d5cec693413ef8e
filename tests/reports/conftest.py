"""A seeded store with a month of spend history, on each database, shared by a module's tests
(they only read it, apart from ``report_run`` rows, which each test filters by its own period)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from collector.config import load_settings
from collector.reports.config import ReportConfig
from tests import seed as seeding
from tests.reports.history import BUDGETS, add_history
from tests.seed import Seed


@dataclass(frozen=True)
class Seeded:
    engine: Engine
    seed: Seed
    kind: str

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)


def _filled(engine: Engine, kind: str) -> Seeded:
    seed = seeding.build(engine, other_publisher=True)
    add_history(engine, seed)
    return Seeded(engine, seed, kind)


def open_seeded(kind: str, folder: Path, request: pytest.FixtureRequest) -> Seeded:
    pg = request.getfixturevalue("pg_server") if kind == "postgres" else None
    return _filled(seeding.open_store(kind, folder, pg), kind)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    with seeding.param_store(request, tmp_path_factory, "reports") as engine:
        yield _filled(engine, request.param)


def report_config(out_dir: Path, **settings: object) -> ReportConfig:
    """The report settings of a Settings object built from ``settings``."""
    values: dict[str, object] = {
        "data_dir": out_dir.parent,
        "report_dir": out_dir,
        "budgets": BUDGETS,
    }
    return load_settings(**{**values, **settings}).reports


@pytest.fixture
def config(tmp_path: Path) -> ReportConfig:
    return report_config(tmp_path / "reports", report_retry_backoff_s=1.0)
