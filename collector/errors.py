"""Typed errors of the core. Each message says what is wrong and how to fix it; the CLI prints
it as one line and exits with the error's ``exit_code``."""

from __future__ import annotations


class FoundryMonitorError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1


class ConfigError(FoundryMonitorError):
    """A setting is missing or has a bad value."""

    exit_code = 2


class StoreError(FoundryMonitorError):
    """The database cannot be reached or its schema is not what this version expects."""


class RowKeyMissing(StoreError):
    """A row to write has a NULL in its natural key (NULL never matches ON CONFLICT)."""


class InvalidRequestId(FoundryMonitorError):
    """A look-up id that cannot be an apim-request-id or a request-id."""

    exit_code = 2


class RequestNotFound(FoundryMonitorError):
    """The id is well-formed but not in the store."""
