"""Messages that say what to fix: a failed connection or an HTTP error in the user's terms.

A bare `401` or `HTTPConnectionPool(...) Max retries exceeded` tells a merchant nothing; these
functions name the setting to check (the token's environment variable, the store hash) or the
address that could not be reached, without ever printing the token or a URL's password.
"""
from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import RemoteDisconnected

import requests

# How a failed request is retried: "unreachable" briefly (more often a wrong URL than a passing
# fault), "transient" with the normal backoff, "fatal" not at all.
UNREACHABLE, TRANSIENT, FATAL = "unreachable", "transient", "fatal"


@dataclass(frozen=True)
class StoreNames:
    """What the user configured, for messages. `url` is an origin without userinfo."""

    url: str
    store_hash: str
    token_name: str = "BIGCOMMERCE_ACCESS_TOKEN"
    store_hash_name: str = "BIGCOMMERCE_STORE_HASH / store.store_hash"
    url_name: str = "BIGCOMMERCE_API_URL / store.api_url"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (requests -> urllib3 -> socket), a few levels deep."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 12:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        yield e
        todo += [x for x in (getattr(e, "reason", None), e.__cause__, e.__context__,
                             *(a for a in e.args if isinstance(a, BaseException)))
                 if isinstance(x, BaseException)]


def network_failure(exc: requests.RequestException, names: StoreNames,
                    timeout: tuple[float, float]) -> tuple[str, str]:
    """(how to retry, one-line reason) for a request that got no HTTP response."""
    causes = list(_causes(exc))
    where = f"cannot reach {names.url}"
    if any(isinstance(c, ssl.SSLError) for c in causes) or isinstance(
            exc, requests.exceptions.SSLError):
        return FATAL, f"{where} (TLS failed: check the address and its certificate)"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return UNREACHABLE, f"{where} (connection refused)"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return UNREACHABLE, f"{where} (unknown host name)"
    if isinstance(exc, requests.ConnectTimeout):
        return UNREACHABLE, f"{where} (no connection within {timeout[0]:g} s)"
    if isinstance(exc, requests.Timeout):
        return TRANSIENT, f"no answer from {names.url} within {timeout[1]:g} s"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or any(
            isinstance(c, RemoteDisconnected | ConnectionResetError) for c in causes):
        return TRANSIENT, f"the connection to {names.url} dropped before the reply"
    if isinstance(exc, requests.ConnectionError):
        return TRANSIENT, f"the connection to {names.url} failed ({type(causes[-1]).__name__})"
    return FATAL, f"request to {names.url} not sent ({type(exc).__name__})"


def status_hint(status: int, template: str, names: StoreNames) -> str:
    """What to check for an HTTP error status, or "" when the store's own message suffices."""
    if status == 401:
        return f"401 from the store: check {names.token_name}"
    if status == 403:
        return f"403 from the store: the API account behind {names.token_name} lacks a scope " \
               "this call needs"
    if status == 404 and "{" not in template:
        # A store-wide endpoint (time, orders, statuses, hooks) is never missing on a real store:
        # the store hash (or the API address) is wrong.
        return f"404: no store with hash {names.store_hash!r} ({names.store_hash_name}) " \
               f"at {names.url}"
    return ""
