"""A clone with nothing beside it is complete: no file reads or links outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
TEXT_SUFFIXES = {".py", ".sh", ".md", ".toml", ".ini", ".cfg", ".mako", ".txt", ".json", ".yml"}

# "../x" not preceded by a dot (so the "..." of an elided ARM path is not one).
RELATIVE = re.compile(r"(?<![.\w])((?:\.\./)+)([\w.-]*)")
PARENTS = re.compile(r"__file__\)\.resolve\(\)\.parents\[(\d+)\]")
PARENT_CHAIN = re.compile(r"__file__\)(?:\.resolve\(\))?((?:\.parent)+)\b")


def _files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "run"):
            out.append(path)
    return out


def _escapes(base: Path, up: int) -> bool:
    """True when going ``up`` folders from ``base`` leaves the repository."""
    return len(base.relative_to(ROOT).parts) < up


def outside_references(path: Path, text: str) -> list[str]:
    """Every place in ``text`` (the content of ``path``) that reaches above the repository root."""
    found = []
    depth_base = path.parent
    for match in RELATIVE.finditer(text):
        up = match.group(1).count("../")
        if _escapes(depth_base, up) or match.group(2) == "shared":
            found.append(match.group(0))
    for match in PARENTS.finditer(text):
        if int(match.group(1)) >= len(path.relative_to(ROOT).parts):
            found.append(match.group(0))
    for match in PARENT_CHAIN.finditer(text):
        if match.group(1).count(".parent") > len(path.relative_to(ROOT).parts):
            found.append(match.group(0))
    return found


def test_no_file_reads_or_links_outside_the_repository() -> None:
    offenders = {}
    for path in _files():
        hits = outside_references(path, path.read_text(encoding="utf-8", errors="replace"))
        if hits:
            offenders[str(path.relative_to(ROOT))] = hits
    assert offenders == {}


def test_the_check_catches_what_it_is_for() -> None:
    test_file = ROOT / "tests" / "contract" / "test_x.py"
    up = ".." + "/"  # built, so that this file does not match its own check
    assert outside_references(test_file, "Path(__file__).resolve().parents" + '[3] / "shared"')
    assert outside_references(test_file, "Path(__file__)" + ".parent" * 4)
    assert outside_references(ROOT / "docs" / "a.md", f"see `{up}shared/DESIGN.md`")
    assert outside_references(ROOT / "docs" / "a.md", f"[x]({up}{up}elsewhere.md)")
    assert not outside_references(ROOT / "docs" / "a.md", "[readme](../README.md)")
    assert not outside_references(test_file, "Path(__file__).resolve().parents[2]")
    assert not outside_references(test_file, "GET .../resourceGroups/{rg}")


def test_contract_fixtures_name_their_public_source() -> None:
    import json

    fixtures = sorted((ROOT / "tests" / "contract" / "fixtures").glob("*.json"))
    assert len(fixtures) == 5  # arm-ListUsages.json: the usages list (issue 17)
    for path in fixtures:
        source = json.loads(path.read_text())["x-source"]
        assert source["repository"] == "https://github.com/Azure/azure-rest-api-specs"
        assert source["path"].startswith("specification/") and source["licence"].startswith("MIT")
