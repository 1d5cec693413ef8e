"""The context of one ``foundry-monitor`` invocation: its settings, its store, its collector.

The root callback of :mod:`collector.cli.app` puts a :class:`CliContext` (holding ``--config``)
on Typer's context; each command reads it with :func:`cli_context`. A command run on an app
without that callback (the tests build such apps) gets a default context: no ``--config`` file,
settings from the environment only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from collector.config import Settings, load_settings
from collector.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from collector.runner import Collector


@dataclass
class CliContext:
    """Per-invocation state: the ``--config`` file and the settings loaded from it (once)."""

    config_file: Path | None = None
    _settings: Settings | None = field(default=None, init=False, repr=False)

    def settings(self) -> Settings:
        """The settings of this invocation (``--config`` file plus environment)."""
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings

    def prepared_engine(self, cfg: Settings | None = None) -> Engine:
        """The configured store, migrated to the latest schema and its partitions in place."""
        from collector.store import migrate

        cfg = cfg or self.settings()
        return migrate.prepare(cfg.effective_database_url, cfg.retention_days)

    @contextmanager
    def store(self) -> Iterator[Engine]:
        """:meth:`prepared_engine` for the block, disposed of when it ends."""
        engine = self.prepared_engine()
        try:
            yield engine
        finally:
            engine.dispose()

    def engine(self) -> Engine:
        """The configured store as it is (no migration)."""
        from collector.store.engine import make_engine

        return make_engine(self.settings().effective_database_url)


def cli_context(ctx: typer.Context) -> CliContext:
    """The :class:`CliContext` of this invocation (a default one when the app has no callback)."""
    return ctx.ensure_object(CliContext)


def make_collector(cfg: Settings, engine: Engine, progress: Any = None) -> Collector:
    """A collector on ``engine`` reading Azure (or the emulator the settings point at)."""
    from collector.azure import AzureClients, make_credential
    from collector.runner import Collector

    if not cfg.subscriptions and not cfg.resource_ids:
        raise ConfigError(
            "nothing to collect: set FOUNDRY_MONITOR_SUBSCRIPTIONS (subscription GUIDs) or "
            "FOUNDRY_MONITOR_RESOURCE_IDS (Foundry resource ids)"
        )
    credential = make_credential(cfg)
    return Collector(
        cfg, engine, lambda counter: AzureClients(cfg, credential, counter), progress=progress
    )
