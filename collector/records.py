"""Building one record type from another that shares its field names."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def project(cls: type[T], source: object, **given: Any) -> T:
    """A ``cls`` dataclass whose fields take the same-named attributes of ``source``, except
    those ``given``."""
    names = [f.name for f in fields(cls) if f.init and f.name not in given]  # type: ignore[arg-type]
    return cls(**{name: getattr(source, name) for name in names}, **given)
