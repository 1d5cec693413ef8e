"""Each benchmark owns one marked section of docs/benchmarks.md and rewrites only that one."""

from __future__ import annotations

import contextlib
import os
import platform
from datetime import datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Measured on demand with the scripts in `benchmarks/`, each writing its own section below. "
    "These machines are noisy (2 cores shared with other work): compare the ratios measured "
    "within one run, not absolute times across runs.\n"
)


def write_section(name: str, body: str, path: Path = DOC) -> None:
    """Replace (or append) the section between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else HEADER
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def machine(*libraries: tuple[str, str]) -> list[tuple[str, str]]:
    """The machine's rows of a results table (CPU, RAM, OS, Python), then ``libraries``."""
    cpu = platform.processor() or platform.machine()
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("RAM", ram),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        *libraries,
    ]


def log(message: str) -> None:
    """A progress line with the time of day."""
    print(f"{datetime.now():%H:%M:%S} {message}", flush=True)


def publish(name: str, section: str, path: Path) -> int:
    """Write ``section`` as section ``name`` of ``path``, say so and print it; the exit code."""
    write_section(name, section, path)
    log(f"wrote {path}")
    print(section)
    return 0
