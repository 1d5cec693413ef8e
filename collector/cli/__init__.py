"""The ``foundry-monitor`` command line: the app and ``main()`` in :mod:`collector.cli.app`, the
per-invocation context in :mod:`collector.cli.context`, one module per command group."""

from collector.cli.app import app, main

__all__ = ["app", "main"]
