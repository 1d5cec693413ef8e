"""Model versions and hosting of Claude deployments on Microsoft Foundry (pure).

ARM's ``properties.model.version`` of a Claude deployment is either a date (``20250929``) or a
small integer (``1``, ``2``), and one model can be deployed in several versions (Foundry's
Claude models come as "Version 1: hosted on Anthropic infrastructure" and "Version 2: hosted on
Azure"). Quotas, prices and pools follow the model *and* its version, so versions must be
ordered, and "the highest version" is not a string comparison (``"10" > "9"``).

Ordering (:func:`version_key`), lowest first:

1. ``None`` (no version known);
2. small integers (up to 7 digits, e.g. ``1``, ``2``, ``10``), compared as integers;
3. dates (exactly 8 digits forming a valid ``YYYYMMDD`` day, e.g. ``20250929``), compared as
   dates;
4. anything else (``2024-07-18``, ``v2``, ``preview``), compared as text (case-insensitive, then
   exact).

Integers and dates are different numbering schemes that never meet on one deployment, so they
are ranked apart rather than compared by value: the rule puts every date above every small
integer (a dated snapshot is treated as newer than a numbered hosting version). An 8-digit
number that is not a valid day (``99999999``) ranks with the text.

Hosting (:func:`hosting_of`): for Claude (model format ``Anthropic``) version ``1`` is hosted
on Anthropic's infrastructure and version ``2`` on Azure, as Foundry documents. How *date*
versions map to hosting is not documented, so they (and any other version or format) give
None: unknown, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

ANTHROPIC_HOSTED = "Anthropic-hosted"
AZURE_HOSTED = "Azure-hosted"
ANTHROPIC_FORMAT = "anthropic"

#: Documented hosting of Claude's integer versions.
_CLAUDE_HOSTING: Mapping[int, str] = {1: ANTHROPIC_HOSTED, 2: AZURE_HOSTED}

_RANK_NONE, _RANK_INT, _RANK_DATE, _RANK_TEXT = 0, 1, 2, 3

#: A sortable key: (rank, integer or ordinal day, text)
VersionKey = tuple[int, int, str, str]


def _as_int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _as_date(text: str) -> date | None:
    if len(text) != 8 or _as_int(text) is None:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def version_key(version: str | None) -> VersionKey:
    """A key ordering versions as the module describes: None, integers, dates, then text."""
    if version is None:
        return (_RANK_NONE, 0, "", "")
    text = version.strip()
    day = _as_date(text)
    if day is not None:
        return (_RANK_DATE, day.toordinal(), "", "")
    number = _as_int(text)
    if number is not None and len(text) < 8:
        return (_RANK_INT, number, "", "")
    return (_RANK_TEXT, 0, text.lower(), text)


def highest(versions: Iterable[str | None]) -> str | None:
    """The highest version by :func:`version_key` (None when there is none)."""
    listed = list(versions)
    return max(listed, key=version_key) if listed else None


def is_claude_format(model_format: str | None) -> bool:
    return model_format is not None and model_format.strip().lower() == ANTHROPIC_FORMAT


def is_claude_deployment(model_format: str | None, model: str | None) -> bool:
    """Whether a deployment serves a Claude model: ARM's ``properties.model.format`` is
    ``Anthropic``; without a format, a ``claude-`` model; with neither (seen in metrics before
    the inventory) it counts as Claude, so that it is flagged unpriced rather than ignored."""
    if model_format:
        return model_format.strip().lower() == ANTHROPIC_FORMAT
    if model:
        return model.strip().lower().startswith("claude")
    return True


def hosting_of(model_format: str | None, version: str | None) -> str | None:
    """Where a deployment's model runs: "Anthropic-hosted" for Claude version 1, "Azure-hosted"
    for Claude version 2, None when unknown (other formats, date versions, anything else)."""
    if not is_claude_format(model_format) or version is None:
        return None
    key = version_key(version)
    if key[0] != _RANK_INT:
        return None
    return _CLAUDE_HOSTING.get(key[1])


def short_version(version: str) -> str:
    """How a version is shown in a label: ``v2`` for an integer, the text otherwise."""
    text = version.strip()
    return f"v{text}" if version_key(text)[0] == _RANK_INT else text


def model_label(
    model: str | None, version: str | None, model_format: str | None, *, show_version: bool
) -> str | None:
    """A deployment's model as shown: the model alone, or with its version (and hosting, when
    known) when ``show_version``, e.g. ``claude-sonnet-4-5 (v2, Azure-hosted)``."""
    if not model or not show_version or not version:
        return model
    parts = [short_version(version)]
    hosting = hosting_of(model_format, version)
    if hosting:
        parts.append(hosting)
    return f"{model} ({', '.join(parts)})"


def multi_version_models(pairs: Iterable[tuple[str | None, str | None]]) -> set[str]:
    """The models (lower-cased) deployed in more than one version among ``(model, version)``."""
    seen: dict[str, set[str | None]] = {}
    for model, version in pairs:
        if model:
            seen.setdefault(model.strip().lower(), set()).add(version.strip() if version else None)
    return {m for m, vs in seen.items() if len(vs) > 1}
