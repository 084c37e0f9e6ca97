"""The one place that sends HTTP: pacing, retries and error classification.

Idempotent methods (GET, PUT, DELETE) are retried on 429, 5xx, timeouts and dropped connections.
A POST is retried only on 429 (the request was refused, so nothing was created); any other
transient failure is raised as an *ambiguous* `RetriableApiError` for the caller to reconcile.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from connectors.bigcommerce.errors import (
    FatalApiError,
    NotFoundError,
    RefusedRequestError,
    RetriableApiError,
    redact,
)
from connectors.bigcommerce.policy import RatePacer, RetryPolicy, rate_limited_delay

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
_TRANSIENT_EXC = (
    requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class _Transient(Exception):
    """Internal: a failure worth retrying; `delay` is how long to wait first."""

    def __init__(self, error: RetriableApiError, delay: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def render_path(template: str, params: Mapping[str, Any]) -> str:
    """Fill `{name}` slots; every id must be a positive int or a non-empty string."""
    values = {}
    for name, value in params.items():
        text = str(value)
        if text == "" or (isinstance(value, int) and value <= 0):
            raise ValueError(f"{template}: {name} must be a non-empty id, got {value!r}")
        values[name] = quote(text, safe="")
    return template.format(**values)


def refuse_unsafe(method: str, path: str) -> None:
    """DELETE /v2/orders without an id archives ALL orders (FACTS §3): never send it."""
    normal = "/" + "/".join(part for part in path.split("?")[0].split("/") if part)
    if method.upper() == "DELETE" and normal.lower() == "/v2/orders":
        raise RefusedRequestError(method, "/v2/orders",
                                  reason="refused: it would archive every order")


class Transport:
    """Sends requests to `{api_url}/stores/{store_hash}{path}` on a pooled session."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        token: str,
        timeout: tuple[float, float],
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = session
        self._token = token
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep
        self._rng = rng
        self.pacer = RatePacer(clock)
        self.stats = {"requests": 0, "rate_limited": 0, "retries": 0}

    def request(
        self,
        method: str,
        template: str,
        path_params: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one logical request; return the decoded JSON (None for 204 or an empty body)."""
        method = method.upper()
        path = render_path(template, path_params or {})
        refuse_unsafe(method, path)
        attempt = 0
        while True:
            try:
                return self._attempt(method, template, path, params, body, attempt)
            except _Transient as t:
                if attempt >= self._policy.max_retries:
                    raise t.error from None
                self.stats["retries"] += 1
                self._sleep(t.delay)
                attempt += 1

    def _attempt(self, method: str, template: str, path: str, params: Any, body: Any,
                 attempt: int) -> Any:
        wait = self.pacer.delay()
        if wait > 0:
            self._sleep(wait)
            self.pacer.forget()
        self.stats["requests"] += 1
        try:
            resp = self._session.request(method, self._base + path, params=params, json=body,
                                         timeout=self._timeout)
        except _TRANSIENT_EXC as exc:
            reason = redact(f"{type(exc).__name__}: {exc}", self._token)
            raise self._transient(method, template, None, None, reason, attempt) from None
        except requests.RequestException as exc:
            reason = redact(f"{type(exc).__name__}: {exc}", self._token)
            raise FatalApiError(method, template, reason=reason, secret=self._token) from None
        self.pacer.observe(resp.headers)
        return self._classify(method, template, resp, attempt)

    def _classify(self, method: str, template: str, resp: requests.Response, attempt: int) -> Any:
        status = resp.status_code
        if 200 <= status < 300:
            return self._decode(method, template, resp, attempt)
        body = _body(resp)
        if status == 429:
            self.stats["rate_limited"] += 1
            self.pacer.forget()
            error = RetriableApiError(method, template, status, body, secret=self._token)
            delay = rate_limited_delay(resp.headers, attempt, self._policy, self._rng)
            raise _Transient(error, delay)
        if status >= 500:
            raise self._transient(method, template, status, body, "", attempt)
        cls = NotFoundError if status == 404 else FatalApiError
        raise cls(method, template, status, body, secret=self._token)

    def _decode(self, method: str, template: str, resp: requests.Response, attempt: int) -> Any:
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            # A 2xx with a cut-off body: the connection dropped mid-response.
            raise self._transient(method, template, resp.status_code, resp.text[:200],
                                  "invalid JSON in a success response", attempt) from None

    def _transient(self, method: str, template: str, status: int | None, body: Any, reason: str,
                   attempt: int) -> Exception:
        error = RetriableApiError(method, template, status, body, reason, secret=self._token,
                                  ambiguous=True)
        if method not in IDEMPOTENT:
            return error  # never blindly repeat a write that may have been applied
        write = method != "GET"
        if status is not None and status >= 500:
            delay = self._policy.server_error_delay(attempt, self._rng, write=write)
            return _Transient(error, delay)
        return _Transient(error, self._policy.backoff(attempt, self._rng, write=write))


def _body(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:500]
