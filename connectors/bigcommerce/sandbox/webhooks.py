"""Webhook delivery from a background thread, with retries ([wh], FACTS.md §7).

The API request only queues the event; a worker thread POSTs it to each active hook whose scope
matches. A failed attempt (non-2xx or no response) is retried after each of `retry_delays`
seconds (BigCommerce uses 60 s ... 86400 s; tests use short delays); after the last retry fails
the hook is made inactive, as BigCommerce does.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .store import Store

TIMEOUT_S = 5.0  # GAP (FACTS.md §7): no timeout is documented; a slow receiver counts as failed.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Delivery:
    hook_id: int
    payload: dict[str, Any]
    attempt: int  # 0 = first try, n = n-th retry


def payload(store: Store, scope: str, data: dict[str, Any]) -> dict[str, Any]:
    """The callback body of [wh] components.schemas.webhook_callback_base (see webhook-samples/)."""
    body = {
        "scope": scope,
        "store_id": store.store_id,
        "data": data,
        "created_at": store.now(),
        "producer": f"stores/{store.store_hash}",
    }
    # `hash` is a SHA-1 of the payload; retries send the same body, so the same hash.
    body["hash"] = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return body


class Dispatcher:
    def __init__(self, store: Store, retry_delays: tuple[float, ...]) -> None:
        self._store = store
        self._delays = tuple(retry_delays)
        self._queue: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.log: list[dict[str, Any]] = []  # one entry per attempt, for tests and /_sandbox

    def on_event(self, scope: str, data: dict[str, Any]) -> None:
        """Store listener: queue one delivery per matching hook. Never blocks on the network."""
        hooks = self._store.hooks().matching(scope)
        if hooks:
            body = payload(self._store, scope, data)
            for hook in hooks:
                self._push(time.monotonic(), Delivery(hook["id"], body, 0))

    def _push(self, due: float, delivery: Delivery) -> None:
        with self._cond:
            heapq.heappush(self._queue, (due, next(self._seq), delivery))
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_S + 1)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stopped:
                if self._queue and self._queue[0][0] <= time.monotonic():
                    return heapq.heappop(self._queue)[2]
                timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                self._cond.wait(timeout)
            return None

    def _run(self) -> None:
        while (delivery := self._next()) is not None:
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        try:
            hook = self._store.hooks().get(delivery.hook_id)
        except Exception:  # deleted since the event: nothing to deliver
            return
        if not hook["is_active"]:
            return
        status = _post(hook["destination"], delivery.payload, hook["headers"] or {})
        ok = status is not None and 200 <= status < 300
        self.log.append(
            {
                "hook_id": hook["id"],
                "scope": delivery.payload["scope"],
                "hash": delivery.payload["hash"],
                "attempt": delivery.attempt,
                "status": status,
                "ok": ok,
            }
        )
        if ok:
            return
        if delivery.attempt < len(self._delays):
            due = time.monotonic() + self._delays[delivery.attempt]
            self._push(due, Delivery(delivery.hook_id, delivery.payload, delivery.attempt + 1))
        else:
            self._store.hooks().deactivate(hook["id"])


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> int | None:
    """POST the callback; the HTTP status, or None when there was no response."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "rulesync-sandbox", **headers},
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)
    except (OSError, ValueError):
        return None
