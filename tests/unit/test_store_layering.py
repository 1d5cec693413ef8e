"""The store imports nothing above it: no spend logic, no Azure sources, no Azure clients.

Checked in a fresh interpreter (this test session has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import importlib, json, pkgutil, sys
import collector.store
import collector.store.queries
for info in pkgutil.walk_packages(collector.store.__path__, "collector.store."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""

_ABOVE = ("collector.spend", "collector.sources", "collector.runner", "azure")


def test_importing_the_store_imports_nothing_above_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True
    ).stdout
    loaded = json.loads(out)
    assert "collector.store.queries.traffic" in loaded  # the probe did import the package
    above = [m for m in loaded if m == "azure" or m.startswith(tuple(p + "." for p in _ABOVE))]
    above += [m for m in loaded if m in _ABOVE]
    assert not above, f"collector.store imports modules above it: {sorted(set(above))}"
