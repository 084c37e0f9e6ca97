"""Introspection and control endpoints under /_sandbox (no token, never limited or faulted)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .clock import FrozenClock

if TYPE_CHECKING:
    from . import Sandbox


def handle(sandbox: Sandbox, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """(status, JSON body) for a /_sandbox request."""
    action = (method, path.removeprefix("/_sandbox"))
    if action == ("GET", "/calls"):
        return 200, sandbox.api_calls()
    if action == ("POST", "/reset-calls"):
        sandbox.reset_counts()
        return 200, {}
    if action == ("POST", "/faults"):
        faults = sandbox.faults
        faults.configure(
            float(body.get("fault_rate", faults.rate)),
            int(body.get("latency_ms", faults.latency_ms)),
            int(body.get("fault_seed", faults.seed)),
        )
        return 200, {
            "fault_rate": faults.rate,
            "latency_ms": faults.latency_ms,
            "fault_seed": faults.seed,
        }
    if action == ("GET", "/quota"):
        limiter = sandbox.limiter
        return 200, {"quota": limiter.quota, "window_ms": limiter.window_ms,
                     "refused": limiter.refused, "most_in_window": limiter.most_in_window}
    if action == ("POST", "/quota"):
        limiter = sandbox.limiter
        limiter.configure(
            body.get("quota", limiter.quota), int(body.get("window_ms", limiter.window_ms))
        )
        return 200, {"quota": limiter.quota, "window_ms": limiter.window_ms}
    if action == ("POST", "/clock"):
        return 200, {"now": _clock(sandbox, body)}
    if action == ("GET", "/webhook-log"):
        return 200, list(sandbox.dispatcher.log)
    if action == ("GET", "/health"):
        return 200, {"ok": True, "store_hash": sandbox.store.store_hash}
    return 404, {"error": f"unknown sandbox endpoint {method} {path}"}


def _clock(sandbox: Sandbox, body: dict[str, Any]) -> int:
    """{"now": epoch} freezes the clock there, {"advance": s} moves a frozen clock,
    {"real": true} unfreezes it."""
    store = sandbox.store
    if body.get("real"):
        store.clock = time.time
    elif "now" in body:
        store.clock = FrozenClock(float(body["now"]))
    elif "advance" in body:
        if not isinstance(store.clock, FrozenClock):
            store.clock = FrozenClock(store.clock())
        store.clock.advance(float(body["advance"]))
    return store.now()
