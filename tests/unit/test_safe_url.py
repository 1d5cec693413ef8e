"""Database URLs shown to users (CLI, dashboard, doctor, errors) never carry a secret."""

from __future__ import annotations

import pytest

from collector.store.migrate import safe_url


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://app:hunter2@db.example/fm", "hunter2"),
        ("postgresql://app@db.example/fm?password=hunter2", "hunter2"),
        ("postgresql://app@db.example/fm?PASSWORD=hunter2&sslmode=require", "hunter2"),
        ("postgresql://app@db.example/fm?sslpassword=hunter2", "hunter2"),
        ("postgresql://app@db.example/fm?passfile=/home/app/.hunter2", "hunter2"),
        ("postgresql://app@db.example/fm?sslkey=/keys/hunter2.key", "hunter2"),
    ],
)
def test_passwords_in_the_user_info_or_the_query_are_hidden(url: str, secret: str) -> None:
    shown = safe_url(url)
    assert secret not in shown and "***" in shown
    assert "db.example" in shown  # still says where


def test_harmless_parameters_and_sqlite_paths_are_kept() -> None:
    assert safe_url("postgresql://app@h/fm?sslmode=require").endswith("?sslmode=require")
    assert safe_url("sqlite:////var/lib/fm/store.db") == "sqlite:////var/lib/fm/store.db"
