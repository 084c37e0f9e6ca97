"""Classified API errors: nothing above the connector ever sees a `requests` exception.

`RetriableApiError` is worth trying again later (429, 5xx, timeouts, dropped connections);
`FatalApiError` is not (other 4xx, a refused call). Both carry the HTTP method, the endpoint as a
path *template* (never a URL with ids or the token) and the API's error body.
"""
from __future__ import annotations

import json
from typing import Any

from engine.errors import RulesyncError

REDACTED = "***"
_BODY_LIMIT = 500


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of `secret` in `text`; a no-op for an empty secret."""
    if not secret:
        return text
    return text.replace(secret, REDACTED)


def _summary(body: Any) -> str:
    """A short, one-line rendering of an API error body (v2: a list, v3: an object)."""
    if body is None or body == "":
        return "no body"
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _BODY_LIMIT else text[:_BODY_LIMIT] + "..."


class ApiError(RulesyncError):
    """A BigCommerce API call failed; `status` is None when no HTTP response arrived."""

    def __init__(
        self,
        method: str,
        endpoint: str,
        status: int | None = None,
        body: Any = None,
        reason: str = "",
        secret: str | None = None,
    ) -> None:
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.body = body
        where = f"{method} {endpoint}"
        what = f"HTTP {status}: {_summary(body)}" if status is not None else reason
        if status is not None and reason:
            what = f"{what} ({reason})"
        super().__init__(redact(f"BigCommerce {where}: {what}", secret))


class RetriableApiError(ApiError):
    """Transient: rate limited, server error, timeout or dropped connection.

    `ambiguous` is True when the request may have been applied by the server although no
    success reached us (a timeout, a dropped connection or a 5xx after a POST was sent).
    """

    def __init__(self, *args: Any, ambiguous: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ambiguous = ambiguous


class FatalApiError(ApiError):
    """Permanent: bad token (401), scope (403), missing (404), invalid data (422) and the like."""


class NotFoundError(FatalApiError):
    """404: the order, shipment or hook does not exist."""


class RefusedRequestError(FatalApiError):
    """The connector refused to send a request, e.g. one that would archive every order."""
