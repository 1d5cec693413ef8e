"""Runs the console script's ``collector.cli.app.main()`` as a user does, on a test's own app."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import pytest
import typer

cli = importlib.import_module("collector.cli.app")  # the module: main() runs its app


def app_of(register: Callable[[typer.Typer], None]) -> typer.Typer:
    """A bare app (no completion, plain tracebacks) with the commands ``register`` adds."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    return app


class CliRun:
    """``main()`` on an app with the commands :attr:`register` adds, against the store at
    ``url``, no other FOUNDRY_MONITOR_ setting in the environment; a call returns the exit code,
    stdout and stderr. A subclass names the commands under test."""

    register: Callable[[typer.Typer], None]

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
    ) -> None:
        app = app_of(self.register)
        self.monkeypatch, self.capsys = monkeypatch, capsys
        for name in [k for k in os.environ if k.startswith("FOUNDRY_MONITOR_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("FOUNDRY_MONITOR_DATABASE_URL", url)
        monkeypatch.setattr(cli, "app", app)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "argv", ["foundry-monitor", *args])
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            cli.main()
            raise SystemExit(0)  # pragma: no cover - typer always exits in standalone mode
        out, err = self.capsys.readouterr()
        code = exit_.value.code
        return (code if isinstance(code, int) else 0 if code is None else 1), out, err
