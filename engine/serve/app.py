"""`rulesync serve`: acknowledge webhooks at once, apply them from a durable queue.

The WSGI app (served by waitress) only authenticates, validates and writes each delivery to the
inbox, then answers 200; it also answers /healthz and hands the status page its requests. A
worker thread per store (engine/serve/worker.py) drains the inbox through the same engine as
`apply`. SIGTERM stops accepting, lets the worker finish the order in hand and exits; a SIGKILL
loses nothing that was acknowledged.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import Any

from engine.config import Config
from engine.connect.ports import Inbox, SyncState
from engine.connect.session import open_state
from engine.errors import DatabaseError, RulesyncError
from engine.serve.status_page import StatusPage, claims
from engine.serve.webhooks import MAX_BODY, authenticated, check
from engine.sync.summary import utc_now

log = logging.getLogger("rulesync.serve")
STALLED_AFTER = 60.0  # seconds without a worker heartbeat before /healthz says "stalled"
QUEUE_AGE_LIMIT = 120.0  # seconds the oldest queued delivery may wait before "degraded"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
REASONS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 404: "404 Not Found",
           405: "405 Method Not Allowed", 413: "413 Payload Too Large",
           503: "503 Service Unavailable"}


STATUSES = ("ok", "degraded", "stalled", "failed")  # from best to worst


def public(health: dict[str, Any]) -> dict[str, Any]:
    """What /healthz shows without the secret header: the status and the counts (each store's,
    with several). Error texts, hook destinations and times only go to a caller that has the
    secret."""
    shown = {k: v for k, v in health.items() if k == "status" or type(v) is int}
    if "stores" in health:
        shown["stores"] = {name: public(h) for name, h in health["stores"].items()}
    return shown


def health_status(alive: bool, health: dict[str, Any]) -> str:
    """failed: the state cannot be used (deleted, a full disk: `state_error`). stalled: no
    worker heartbeat. degraded: orders wait in the retry set, the worker's last turn (with
    --queue: the last run) failed (the store refused the token or was unavailable) or
    deliveries wait too long."""
    if health.get("state_error"):
        return "failed"
    if not alive:
        return "stalled"
    if health["failing_orders"] or health["worker_error"] or health.get("last_run_error") or (
            health["queue_age_seconds"] > QUEUE_AGE_LIMIT):
        return "degraded"
    return "ok"


class App:
    """The WSGI application: POST `path` for deliveries, GET /healthz for health, and the
    status page (engine/serve/status_page.py) behind the admin token."""

    def __init__(self, config: Config, path: str, secret: str, header: str,
                 admin_token: str | None = None) -> None:
        self.config, self.path, self.secret = config, path, secret
        self.stores = config.each_store()
        # With several stores, a delivery's `producer` (stores/{store_hash}) says whose it is.
        self.producers = {f"stores/{s.store_hash}": s.store_name for s in self.stores}
        self.header_key = "HTTP_" + header.upper().replace("-", "_")
        self._local = threading.local()  # one database connection per server thread
        self.page = StatusPage(config, admin_token, self.state, self.health)
        self._poke: Callable[[], None] = lambda: None
        self._workers: Callable[[SyncState], list[str]] | None = None
        self._queued_view: Callable[[SyncState], dict[str, Any]] = lambda state: {}
        self.state_errors: dict[str, str] = {}  # by store: what its worker found (`Worker`)

    def queued(self, poke: Callable[[], None], workers: Callable[[SyncState], list[str]],
               view: Callable[[SyncState], dict[str, Any]] | None = None) -> None:
        """serve --queue: a delivery written to the inbox pokes the relay to the broker
        (engine/distributed/relay.py); the workers alive are distributed mode's, and `view`
        adds what else waits for them (a run's slices)."""
        self._poke, self._workers = poke, workers
        if view is not None:
            self._queued_view = view

    def state(self, store: str | None = None) -> SyncState:
        """The state as `store` sees it (the first configured store by default), through this
        thread's connection."""
        if not hasattr(self._local, "state"):
            self._local.state = open_state(self.config.state, self.stores[0].store_name)
        found: SyncState = self._local.state
        return found if store is None else found.for_store(store)

    def inbox(self, store: str | None = None) -> Inbox:
        return self.state(store).inbox()

    def store_of(self, payload: Mapping[str, Any]) -> str | None:
        """The store a delivery is for; with `stores:` (even one of them, `--store`), None when
        its producer is none of those served. A configuration without `stores:` takes any."""
        if not self.config.stores:
            return self.config.store_name
        return self.producers.get(str(payload.get("producer")))

    def state_failed(self, store: str, message: str) -> None:
        """A worker found `store`'s state unusable (deleted, a full disk), or usable again ("")."""
        self.state_errors[store] = message

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        try:
            return self._answer(environ, start)
        except RulesyncError as e:  # the state cannot be used: nothing is acknowledged
            log.error("%s", e)
            if isinstance(e, DatabaseError):  # a dropped connection: a new one next time
                self._forget_state()
            return self._reply(start, 503, f"the state cannot be used: {e}")

    def _forget_state(self) -> None:
        state = self._local.__dict__.pop("state", None)
        if state is not None:
            with suppress(RulesyncError):
                state.close()

    def _answer(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/healthz" and method == "GET":
            health = self.health()
            if not authenticated(environ.get(self.header_key), self.secret):
                health = public(health)
            return self._reply(start, 200, json.dumps(health), "application/json")
        if path != self.path and claims(path):
            return self.page(environ, start)
        if path != self.path:
            return self._reply(start, 404, "not found")
        if method != "POST":
            return self._reply(start, 405, "POST only")
        if not authenticated(environ.get(self.header_key), self.secret):
            log.warning("refused a delivery (401): missing or wrong secret header")
            return self._reply(start, 401, "missing or wrong secret header")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return self._reply(start, 413, "payload too large")
        verdict = check(environ["wsgi.input"].read(min(length, MAX_BODY + 1)),
                        environ.get(self.header_key), self.secret)
        store = self.store_of(verdict.delivery.payload) if verdict.delivery else None
        if verdict.delivery and store is None:
            log.warning("refused a delivery (400): producer %r is no configured store",
                        str(verdict.delivery.payload.get("producer"))[:100])
            return self._reply(start, 400, "unknown store: the producer is no configured store")
        if verdict.delivery and store is not None:
            d = verdict.delivery
            fresh = self.inbox(store).add(d.hash, d.order_id, d.scope, json.dumps(d.payload),
                                          utc_now())
            named = f"store {store}: " if len(self.stores) > 1 else ""
            log.info("%s%s order %s: %s", named, d.scope, d.order_id,
                     "queued" if fresh else "duplicate")
            self._poke()
        else:  # refused, or a scope rulesync does not handle: acknowledged and ignored
            log.warning("delivery answered %s: %s", verdict.status, verdict.message)
        return self._reply(start, verdict.status, "" if verdict.status == 200 else verdict.message)

    def health(self, store: str | None = None) -> dict[str, Any]:
        """One store's health; with several stores and none named, the worst status and each
        store's health under `stores`."""
        if store is None and len(self.stores) > 1:
            each = {s.store_name: self.health(s.store_name) for s in self.stores}
            worst = max((h["status"] for h in each.values()), key=STATUSES.index)
            return {"status": worst, "stores": each}
        try:
            health = self._health(store)
        except RulesyncError as e:  # this thread cannot open or read the state either
            return {"status": "failed", "state_error": str(e)}
        failed = self.state_errors.get(store or self.stores[0].store_name)
        if failed:  # this thread's connection may still read what was deleted
            health.update(status="failed", state_error=failed)
        return health

    def _health(self, store: str | None) -> dict[str, Any]:
        state = self.state(store)
        inbox = state.inbox()
        beat = float(state.get_meta("worker_heartbeat", "0"))
        alive = time.time() - beat < STALLED_AFTER
        workers = self._workers(state) if self._workers else None
        if workers is not None:  # serve --queue: distributed mode's workers do the work
            alive = bool(workers)
        retries = state.retries().counts(time.time())
        health = {"queue_depth": inbox.depth(),
                  "queue_age_seconds": inbox.oldest_age(),
                  "failing_orders": retries["waiting"], "retries_due": retries["due"],
                  "dead_deliveries": inbox.dead(),
                  "worker_error": state.get_meta("worker_error") or None,
                  "last_sync": state.get_meta("last_sync") or None,
                  "hooks": json.loads(state.get_meta("hooks", "null")),
                  "last_received": inbox.last_received()}
        if workers is not None:
            health.update(workers=len(workers), **self._queued_view(state))
        return {"status": health_status(alive, health), **health}

    @staticmethod
    def _reply(start: StartResponse, status: int, body: str,
               kind: str = "text/plain") -> list[bytes]:
        data = body.encode()
        start(REASONS[status], [("Content-Type", kind), ("Content-Length", str(len(data)))])
        return [data]
