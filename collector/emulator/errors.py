"""Azure's error payloads, one helper per service family, raised as :class:`ApiError`."""

from __future__ import annotations

import uuid
from typing import Any


class ApiError(Exception):
    """An HTTP error answer: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def arm_error(status: int, code: str, message: str, **headers: str) -> ApiError:
    """ARM / Cost Management / Monitor shape: ``{"error": {"code", "message"}}``."""
    return ApiError(status, {"error": {"code": code, "message": message}}, dict(headers))


def logs_error(
    status: int, code: str, message: str, inner: dict[str, Any] | None = None
) -> ApiError:
    """Log Analytics shape: ``{"error": {"message", "code", "correlationId", "innererror"}}``."""
    error: dict[str, Any] = {"message": message, "code": code, "correlationId": str(uuid.uuid4())}
    if inner is not None:
        error["innererror"] = inner
    return ApiError(status, {"error": error})


def kql_syntax_error(query: str) -> ApiError:
    """What Log Analytics answers to KQL it cannot run: 400 BadArgumentError."""
    token = (query.strip().split() or [""])[0][:40]
    return logs_error(
        400,
        "BadArgumentError",
        "The request had some invalid properties",
        {
            "code": "SyntaxError",
            "message": "A recognition error occurred in the query.",
            "innererror": {
                "code": "SYN0002",
                "message": f"Query could not be parsed at '{token}' on line [1,0]",
                "line": 1,
                "pos": 0,
                "token": token,
            },
        },
    )
