"""Inert text for every output that interprets what it is given (pure).

Deployment, resource and model names, ContextLength labels and Azure's error text are chosen by
whoever controls a tenant: shown raw, a name starting with ``=`` becomes a spreadsheet formula
(CSV injection, OWASP "CSV Injection"). Each output has one helper here, used wherever such text
is written.
"""

from __future__ import annotations

from typing import Any

#: First characters that make a spreadsheet read a cell as a formula (OWASP: = + - @, and tab
#: and carriage return, which some spreadsheets skip before the formula).
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting like a formula gets a leading
    ``'`` (numbers, negative ones included, and non-text values are left alone)."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def terminal(value: object) -> Any:
    """A ``rich`` Text of ``value`` shown as itself: never parsed as console markup (a name or an
    Azure message holding ``[/...]`` would crash the print, ``[link=...]`` would become a link)."""
    from rich.text import Text

    return Text("" if value is None else str(value))


def terminal_markup_free(value: object) -> str:
    """``value`` as a string with console markup escaped, for APIs that take markup strings
    (progress bar labels)."""
    from rich.markup import escape

    return escape("" if value is None else str(value))
