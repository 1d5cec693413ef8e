"""``foundry-monitor emulator serve|truth``: mounts the emulator's own sub-app.

With :mod:`collector.cli.demo`, the only command module that imports :mod:`collector.emulator`.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``emulator`` group to ``app``."""
    try:
        from collector.emulator.cli import app as emulator_app
    except ImportError:  # pragma: no cover - the emulator package is part of the distribution
        return
    app.add_typer(emulator_app, name="emulator")
