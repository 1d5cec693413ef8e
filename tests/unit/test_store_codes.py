"""The smallint codes of the compact per-minute tables (migration 0012): every metric the
collector reads has one, they never change, and what has no code is refused with a clear error
instead of being stored as something else."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from collector import metric_names
from collector.errors import StoreError
from collector.store.types import METRIC_CODES, MetricCode, StatusClassCode

MIGRATION = Path(__file__).parents[2] / "migrations" / "versions" / "0012_compact_minutes.py"


def test_every_metric_the_collector_reads_has_a_distinct_code() -> None:
    assert set(metric_names.KNOWN) <= set(METRIC_CODES)
    assert len(set(METRIC_CODES.values())) == len(METRIC_CODES)


def test_the_codes_migration_0012_wrote_are_unchanged() -> None:
    spec = importlib.util.spec_from_file_location("m0012", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {k: METRIC_CODES[k] for k in module.METRIC_CODES} == module.METRIC_CODES


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_names_and_classes_go_in_as_codes_and_come_back(dialect: object) -> None:
    metric, klass = MetricCode(), StatusClassCode()
    for name, code in METRIC_CODES.items():
        assert metric.process_bind_param(name, dialect) == code  # type: ignore[arg-type]
        assert metric.process_result_value(code, dialect) == name  # type: ignore[arg-type]
    for digit in range(10):
        assert klass.process_bind_param(f"{digit}xx", dialect) == digit  # type: ignore[arg-type]
        assert klass.process_result_value(digit, dialect) == f"{digit}xx"  # type: ignore[arg-type]
    assert metric.process_bind_param(None, dialect) is None  # type: ignore[arg-type]


def test_a_metric_without_a_code_is_refused_with_the_fix() -> None:
    with pytest.raises(StoreError, match=r"'TokensPerSecond' has no code .*METRIC_CODES"):
        MetricCode().process_bind_param("TokensPerSecond", sqlite.dialect())


@pytest.mark.parametrize("value", ["2XX", "xx", "200", "22xx", ""])
def test_a_status_class_not_of_the_form_digit_xx_is_refused(value: str) -> None:
    with pytest.raises(StoreError, match="is not a digit followed by 'xx'"):
        StatusClassCode().process_bind_param(value, sqlite.dialect())
