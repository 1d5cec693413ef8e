"""Rewrite the README's configuration table from collector.config.Settings.

Run after adding or changing a setting: python scripts/settings_table.py
"""

from __future__ import annotations

from pathlib import Path

from collector.config import ENV_PREFIX, Settings

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"
SPECIAL = {
    "data_dir": "`~/.local/share/foundry-monitor`",
    "database_url": "SQLite file in the data dir",
    "subscriptions": "(none)",
    "resource_ids": "(none)",
    "cost_scopes": "one per subscription",
    "budgets": "(none)",
}


def table() -> str:
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if name in SPECIAL:
            default = SPECIAL[name]
        elif field.default_factory is not None:  # a list or table, empty unless set
            default = "(none)"
        elif field.default in (None, ""):
            default = "(unset)"
        else:
            default = f"`{field.default}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {default} | {description} |")
    return "\n".join(lines)


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
