"""Shared fixtures: the session's PostgreSQL server and a store on each database."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from collector.store import migrate
from collector.store.engine import make_engine
from tests import emulated
from tests import seed as seeding
from tests.pg import PostgresServer
from tests.seed import Seed

_counter = itertools.count()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver for the session: a second sync driver in the same process fails
    ("Sync API inside the asyncio loop"), so every browser fixture launches from this one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """Streamlit's AppTest installs the page script as ``sys.modules["__main__"]`` and leaves it
    there; a process started later with ``spawn`` would then run the dashboard as its main
    module and die. Every test starts with the interpreter's own ``__main__``."""
    sys.modules["__main__"] = _MAIN
    yield
    sys.modules["__main__"] = _MAIN


@pytest.fixture(autouse=True)
def _reset_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that used the session's emulator leaves it as it found it (:func:`emulated.reset`)."""
    yield
    if "emulator" in request.fixturenames:
        emulated.reset(request.getfixturevalue("emulator"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (a fresh Postgres database per test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(
        f"t{next(_counter)}_{request.node.name[:40].lower()}".replace("[", "_")
        .replace("]", "")
        .replace("-", "_")
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Engine]:
    """An engine on a database upgraded to the newest schema."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pg_store(pg_server: PostgresServer) -> Iterator[Engine]:
    """A Postgres-only store, for behaviour only Postgres has (partitions, advisory locks)."""
    engine = make_engine(pg_server.create_database(f"pg{next(_counter)}"))
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded_pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Seed]]:
    """One seeded store (:func:`tests.seed.build`) per database for a whole module of tests
    that only read it."""
    with seeding.param_store(request, tmp_path_factory, "seeded") as engine:
        yield engine, seeding.build(engine)


@pytest.fixture
def seeded(seeded_pair: tuple[Engine, Seed]) -> Seed:
    """The seed of :func:`seeded_pair`'s store."""
    return seeded_pair[1]
