"""Classified API errors: nothing above the connector ever sees a `requests` exception.

`RetriableApiError` is worth trying again later (429, 5xx, timeouts, dropped connections);
`FatalApiError` is not (other 4xx, a refused call). Both carry the HTTP method, the endpoint as a
path *template* (never a URL with ids or the token) and the API's error body.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from engine.errors import ActionFailed, OrderNotFound, StoreError
from engine.secrets import REDACTED, redact_urls
from engine.secrets import redact as redact_all

_BODY_LIMIT = 500


def redact(text: str, secret: str | None) -> str:
    """Replace `secret`, every registered secret and the userinfo of every URL in `text`."""
    if secret:
        text = text.replace(secret, REDACTED)
    return redact_all(text)


def token_problem(token: str, name: str) -> str | None:
    """Why `token` cannot be sent in an HTTP header, naming its variable, never its value."""
    if any(ord(c) < 32 or ord(c) == 127 for c in token):
        return f"the token in {name} contains control characters"
    try:
        token.encode("latin-1")
    except UnicodeEncodeError:
        return (f"the token in {name} contains characters outside Latin-1, which an HTTP "
                "header cannot carry: copy the token again from the store's API account")
    return None


def api_url_problem(url: str) -> str | None:
    """Why `url` cannot be the API address (checked before any request), or None."""
    shown = redact_urls(repr(url))
    try:
        parts = urlsplit(url.strip()) if isinstance(url, str) else None
    except ValueError as e:  # "https://[::1": an unclosed IPv6 address
        return (f"the API URL {shown} (BIGCOMMERCE_API_URL / store.api_url) is not a URL: "
                f"{str(e)[:1].lower()}{str(e)[1:]}")
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return (f"the API URL {shown} (BIGCOMMERCE_API_URL / store.api_url) must start with "
                "https:// (or http:// for a local sandbox) and name a host")
    try:
        _ = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError:
        return f"the API URL {shown} (BIGCOMMERCE_API_URL / store.api_url) has an invalid port"
    return None


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, without userinfo or path: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _summary(body: Any) -> str:
    """A short, one-line rendering of an API error body (v2: a list, v3: an object)."""
    if body is None or body == "":
        return "no body"
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _BODY_LIMIT else text[:_BODY_LIMIT] + "..."


class ApiError(StoreError):
    """A BigCommerce API call failed; `status` is None when no HTTP response arrived."""

    def __init__(
        self,
        method: str,
        endpoint: str,
        status: int | None = None,
        body: Any = None,
        reason: str = "",
        secret: str | None = None,
        hint: str = "",
    ) -> None:
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.body = body
        where = f"{method} {endpoint}"
        what = f"HTTP {status}: {_summary(body)}" if status is not None else reason
        if status is not None and reason:
            what = f"{what} ({reason})"
        if hint:  # what to fix first, then what the store said
            what = f"{hint} ({what})" if what else hint
        super().__init__(redact(f"BigCommerce {where}: {what}", secret))


class RetriableApiError(ApiError):
    """Transient: rate limited, server error, timeout or dropped connection.

    `ambiguous` is True when the request may have been applied by the server although no
    success reached us (a timeout, a dropped connection or a 5xx after a POST was sent).
    """

    def __init__(self, *args: Any, ambiguous: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ambiguous = ambiguous


class RateLimitError(RetriableApiError):
    """The store asked for a wait longer than the configured limit (`max_wait_seconds`): the
    run stops instead of hanging. Nothing was sent (or the request was refused), so it is not
    ambiguous; a later run tries again."""


class FatalApiError(ApiError, ActionFailed):
    """Permanent: bad token (401), scope (403), missing (404), invalid data (422) and the like."""


class StoreReplyError(FatalApiError):
    """The store answered 2xx with something that is not what the endpoint returns (an object
    where a list belongs, an id that is not a number): the page or endpoint cannot be used."""


class NotFoundError(FatalApiError, OrderNotFound):
    """404: the order, shipment or hook does not exist."""


class RefusedRequestError(FatalApiError):
    """The connector refused to send a request, e.g. one that would archive every order."""
