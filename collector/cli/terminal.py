"""Terminal helpers shared by the commands: progress bar, run-report table, logging, Ctrl-C."""

from __future__ import annotations

import sys
from typing import Any

from collector.text import terminal, terminal_markup_free


class ProgressBar:
    """A rich progress bar on a terminal, nothing otherwise; called as (label, done, total)."""

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._bar.start()
        self._tasks: dict[str, Any] = {}
        return self

    def __call__(self, label: str, done: int, total: int) -> None:
        if label not in self._tasks:
            self._tasks[label] = self._bar.add_task(terminal_markup_free(label), total=total)
        self._bar.update(self._tasks[label], completed=done, total=total)

    def __exit__(self, *args: object) -> None:
        if hasattr(self, "_bar"):
            self._bar.stop()


def print_reports(reports: list[Any]) -> None:
    """The table of a collection run: one row per source and scope."""
    from rich.console import Console
    from rich.table import Table

    table = Table("source", "scope", "window", "rows", "calls", "throttled", "s", "status")
    for r in reports:
        window = (
            f"{r.window_start:%Y-%m-%d %H:%M}..{r.window_end:%Y-%m-%d %H:%M}"
            if r.window_start and r.window_end
            else "-"
        )
        status = r.status if not r.error else f"{r.status}: {r.error}"
        table.add_row(
            terminal(r.source),
            terminal(r.scope),
            window,
            str(r.rows),
            str(r.calls),
            str(r.throttled),
            f"{r.duration_s:.1f}",
            terminal(status),  # Azure's error text: never console markup
        )
    Console(width=200).print(table)


def quiet_logging() -> None:
    """One line per collection run; the Azure SDK's per-request HTTP logs only on warnings."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("azure", "apscheduler.executors", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def interruptible() -> None:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt even when the process started with SIGINT
    ignored, as a background job of a non-interactive shell does: ``kill -INT`` then stops the
    long-running commands as documented instead of being silently dropped."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    # SIGTERM (a service manager's stop, ``kill``) stops them the same way, so that their
    # cleanup runs (the dashboard's Streamlit child is terminated, not left behind)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
