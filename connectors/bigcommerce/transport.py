"""The one place that sends HTTP: pacing, retries and error classification.

Idempotent methods (GET, PUT, DELETE) are retried on 429, 5xx, timeouts and dropped connections.
A POST is retried only on 429 (the request was refused, so nothing was created); any other
transient failure is raised as an *ambiguous* `RetriableApiError` for the caller to reconcile.
A refused connection or an unknown host is retried only briefly (`unreachable_retries`). Every
retry and every wait is one log line (reason, delay, attempt), so a slow run is never silent.
"""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from connectors.bigcommerce.diagnose import (
    FATAL,
    UNREACHABLE,
    StoreNames,
    network_failure,
    status_hint,
)
from connectors.bigcommerce.errors import (
    FatalApiError,
    NotFoundError,
    RateLimitError,
    RefusedRequestError,
    RetriableApiError,
    StoreReplyError,
)
from connectors.bigcommerce.policy import (
    REQUESTS_LEFT,
    RatePacer,
    RetryPolicy,
    WaitTooLong,
    rate_limited_delay,
)
from connectors.bigcommerce.quota import QuotaBucket
from connectors.bigcommerce.sessions import Sessions
from engine.errors import DatabaseError

log = logging.getLogger("rulesync.store")
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})


class _Transient(Exception):
    """Internal: a failure worth retrying; `delay` is how long to wait first, `why` says what
    happened in a few words, `retries` how many retries this kind of failure gets."""

    def __init__(self, error: RetriableApiError, delay: float, why: str, retries: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay
        self.why = why
        self.retries = retries


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
    """Sends requests to `{api_url}/stores/{store_hash}{path}` on pooled sessions, from any
    number of threads: every attempt first takes a token from the store's `quota` bucket
    (connectors/bigcommerce/quota.py), and every reply's rate-limit headers go back to it."""

    def __init__(
        self,
        base_url: str,
        sessions: Sessions,
        token: str,
        timeout: tuple[float, float],
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
        names: StoreNames,
        quota: QuotaBucket | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._sessions = sessions
        self.quota = quota  # None: no bucket, only the pacer (a bare client, in tests)
        self._lock = threading.Lock()  # the counters and the pacer, shared by the threads
        self._token = token
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep
        self._rng = rng
        self._names = names
        self.pacer = RatePacer(clock, max_wait=policy.max_wait,
                               fallback=min(policy.base_delay, policy.max_wait))
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
                if attempt >= t.retries:
                    raise t.error from None
                self._count("retries")
                log.warning("%s %s: %s; retry %d of %d in %.1f s", method, template, t.why,
                            attempt + 1, t.retries, t.delay)
                self._sleep(t.delay)
                attempt += 1

    def _attempt(self, method: str, template: str, path: str, params: Any, body: Any,
                 attempt: int) -> Any:
        self._pace(method, template)
        if self.quota is not None:
            try:
                self.quota.acquire()
            except WaitTooLong as e:
                raise RateLimitError(method, template, reason=f"not sent: {e}",
                                     secret=self._token) from None
        self._count("requests")
        try:
            with self._sessions.borrowed() as session:
                resp = session.request(method, self._base + path, params=params, json=body,
                                       timeout=self._timeout)
        except requests.RequestException as exc:
            kind, reason = network_failure(exc, self._names, self._timeout)
            if kind == FATAL:
                raise FatalApiError(method, template, reason=reason, secret=self._token) from None
            raise self._transient(method, template, None, None, reason, attempt,
                                  unreachable=kind == UNREACHABLE) from None
        with self._lock:
            self.pacer.observe(resp.headers, f"{method} {template}")
        if self.quota is not None:
            self.quota.observe(resp.headers, f"{method} {template}")
        return self._classify(method, template, resp, attempt)

    def _pace(self, method: str, template: str) -> None:
        """Wait for the rate-limit window to refill when the last reply said it is used up."""
        with self._lock:
            try:
                wait, left = self.pacer.delay(), self.pacer.left
            except WaitTooLong as e:
                self.pacer.forget()
                raise RateLimitError(method, template, reason=f"not sent: {e}",
                                     secret=self._token) from None
        if wait > 0:
            log.warning("%s %s: the store's rate limit is used up (%s: %g); waiting %.1f s",
                        method, template, REQUESTS_LEFT, left, wait)
            self._sleep(wait)
            with self._lock:
                self.pacer.forget()

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def _classify(self, method: str, template: str, resp: requests.Response, attempt: int) -> Any:
        status = resp.status_code
        if 200 <= status < 300:
            return self._decode(method, template, resp, attempt)
        body = _body(resp)
        if status == 429:
            self._count("rate_limited")
            with self._lock:
                self.pacer.forget()
            try:
                delay = rate_limited_delay(resp.headers, attempt, self._policy, self._rng)
            except WaitTooLong as e:
                raise RateLimitError(method, template, status, body, str(e),
                                     secret=self._token) from None
            if self.quota is not None:  # everyone waits, not only this thread (FACTS §8)
                try:
                    self.quota.pause(delay)
                except DatabaseError as e:  # the 429 is still retried, by this thread at least
                    log.warning("%s %s: HTTP 429: could not pause the shared quota: %s",
                                method, template, e)
            error = RetriableApiError(method, template, status, body, secret=self._token)
            raise _Transient(error, delay, "HTTP 429 (rate limited)", self._policy.max_retries)
        if status >= 500:
            raise self._transient(method, template, status, body, "", attempt)
        cls = NotFoundError if status == 404 else FatalApiError
        raise cls(method, template, status, body, secret=self._token,
                  hint=status_hint(status, template, self._names))

    def _decode(self, method: str, template: str, resp: requests.Response, attempt: int) -> Any:
        if resp.status_code == 204 or not resp.content:
            return None
        kind = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind and "json" not in kind:  # a web page, not the API: no retry will change that
            raise StoreReplyError(method, template, reason=f"unexpected reply: {kind}, not JSON "
                                  f"(is {self._names.url_name} the API address?)",
                                  secret=self._token)
        try:
            return resp.json()
        except ValueError:
            # A 2xx with a cut-off body: the connection dropped mid-response.
            raise self._transient(method, template, resp.status_code, resp.text[:200],
                                  "invalid JSON in a success response", attempt) from None

    def _transient(self, method: str, template: str, status: int | None, body: Any, reason: str,
                   attempt: int, *, unreachable: bool = False) -> Exception:
        # Nothing reached a store we could not connect to: that failure is never ambiguous.
        error = RetriableApiError(method, template, status, body, reason, secret=self._token,
                                  ambiguous=not unreachable)
        policy, write = self._policy, method != "GET"
        if unreachable:
            return _Transient(error, policy.unreachable_delay(attempt, self._rng), reason,
                              min(policy.unreachable_retries, policy.max_retries))
        if method not in IDEMPOTENT:
            return error  # never blindly repeat a write that may have been applied
        if status is not None and status >= 500:
            delay = policy.server_error_delay(attempt, self._rng, write=write)
            return _Transient(error, delay, f"HTTP {status}", policy.max_retries)
        return _Transient(error, policy.backoff(attempt, self._rng, write=write), reason,
                          policy.max_retries)


def _body(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:500]
