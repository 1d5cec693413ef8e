"""Credentials the Azure clients use besides ``DefaultAzureCredential``.

:class:`StaticTokenCredential` serves ``FOUNDRY_MONITOR_STATIC_TOKEN``: one fixed bearer token,
for the Foundry emulator and the tests. The emulator re-exports it as
``collector.emulator.StaticTokenCredential``; product code never imports the emulator.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions


class StaticTokenCredential:
    """Implements azure-core's ``TokenCredential`` and ``SupportsTokenInfo`` with a fixed token.

    The token never expires (it is re-issued with a fresh expiry one hour ahead on each call).
    ``scopes`` records every scope asked for, so a test can check which audience a client used.
    """

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("StaticTokenCredential needs a non-empty token")
        self._token = token
        self.scopes: list[str] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self._token, int(time.time()) + 3600)

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        self.scopes.extend(scopes)
        return AccessTokenInfo(self._token, int(time.time()) + 3600)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> StaticTokenCredential:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the token
        return "StaticTokenCredential(token=***)"
