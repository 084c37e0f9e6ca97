"""The API pipeline for one request: route, count, latency, auth, quota, faults, handler."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import routes_v2, routes_v3  # noqa: F401  (registers the routes)
from .errors import ApiError
from .faults import Fault, FaultInjector
from .ratelimit import RateLimiter
from .routing import Request, Response, match
from .store import Store

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
WRITES = frozenset({"POST", "PUT", "DELETE"})


@dataclass(frozen=True)
class Outcome:
    """What the HTTP layer sends; drop=True means close the socket without any response."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def error_body(version: str, status: int, message: str, errors: dict[str, str]) -> Any:
    """v2: an array of {status, message} ([v2] components.responses.404_Resp);
    v3: {status, title, type[, errors]} ([wh] components.schemas.error_Full and
    errorDetailed_Full)."""
    if version == "v2":
        return [{"status": status, "message": message}]
    body: dict[str, Any] = {"status": status, "title": message, "type": ERROR_TYPE}
    if errors:
        body["errors"] = errors
    return body


class App:
    def __init__(
        self, store: Store, token: str, limiter: RateLimiter, faults: FaultInjector
    ) -> None:
        self.store, self.token, self.limiter, self.faults = store, token, limiter, faults
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()

    def api_calls(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._calls)

    def reset_counts(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Outcome:
        """`path` is below /stores/{hash}, e.g. /v2/orders/101; header names are lower case."""
        version = path.split("/")[1] if path.count("/") >= 1 else "v2"
        version = version if version in ("v2", "v3") else "v2"
        found, args, known = match(method, path)
        if found is None:
            status = 405 if known else 404
            return self._error(
                version,
                ApiError(
                    status,
                    "No such endpoint." if status == 404 else f"{method} is not allowed here.",
                ),
                {},
            )
        with self._calls_lock:
            self._calls[found.template] += 1
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        if headers.get("x-auth-token") != self.token:
            return self._error(
                version, ApiError(401, "Unauthorized: missing or invalid X-Auth-Token."), {}
            )
        verdict = self.limiter.check()
        if not verdict.allowed:
            return self._error(version, ApiError(429, "Too many requests."), verdict.headers)
        fault = self.faults.draw(method in WRITES)
        if fault is not None and not fault.after_write:
            return self._fault(version, fault)
        try:
            body = _parse(method, version, headers, raw)
            response = found.handler(Request(method, found.template, args, query, body, self.store))
        except ApiError as e:
            response = Response(e.status, error_body(version, e.status, e.message, e.errors))
        if fault is not None:
            return self._fault(version, fault)  # the change is applied, but the answer is lost
        return Outcome(response.status, response.body, {**verdict.headers, **response.headers})

    def _error(self, version: str, e: ApiError, extra: dict[str, str]) -> Outcome:
        return Outcome(e.status, error_body(version, e.status, e.message, e.errors), extra)

    def _fault(self, version: str, fault: Fault) -> Outcome:
        if fault.kind == "drop":
            return Outcome(drop=True)
        status = int(fault.kind)
        # An injected 429 carries no rate-limit headers: "the platform is under load" (FACTS.md §8).
        message = {
            500: "Internal Server Error",
            503: "Service Unavailable",
            429: "Too many requests (platform under load).",
        }[status]
        return self._error(version, ApiError(status, message), {})


def _accepts_json(accept: str) -> bool:
    return not accept or any(
        t.split(";")[0].strip() in ("application/json", "*/*", "application/*")
        for t in accept.split(",")
    )


def _parse(method: str, version: str, headers: dict[str, str], raw: bytes) -> Any:
    """Accept must allow JSON (406); POST/PUT bodies must be JSON objects (415 / 400)."""
    if not _accepts_json(headers.get("accept", "")):
        raise ApiError(406, "Only application/json responses are served.")
    if method not in ("POST", "PUT"):
        return None
    if not headers.get("content-type", "").lower().startswith("application/json"):
        raise ApiError(415, "Content-Type must be application/json.")
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"The request body is not valid JSON: {e}.") from e
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body
