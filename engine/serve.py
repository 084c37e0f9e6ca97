"""`rulesync serve`: acknowledge webhooks at once, apply them from a durable queue.

The WSGI app (served by waitress) only authenticates, validates and writes each delivery to the
inbox, then answers 200. A worker thread drains the inbox through the same engine as `apply`:
it coalesces the deliveries of each order into one re-fetch of the order's current state
(payloads are hints, not truth), runs outbound pushes, and polls the change feed every
`poll_seconds` to catch webhooks that never arrive. SIGTERM stops accepting, lets the worker
finish the order in hand and exits; a SIGKILL loses nothing that was acknowledged.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.catalog import INBOUND
from engine.config import Config
from engine.errors import OrderNotFound, StoreError
from engine.ports import Inbox, SyncState
from engine.session import open_state, open_sync
from engine.status_page import StatusPage, claims
from engine.sync import Summary, Sync, utc_now
from engine.webhooks import MAX_BODY, authenticated, check

log = logging.getLogger("rulesync.serve")
STALLED_AFTER = 60.0  # seconds without a worker heartbeat before /healthz says "stalled"
HOOKS_REFRESH = 60.0  # seconds between reads of the store's hooks for /healthz
QUEUE_AGE_LIMIT = 120.0  # seconds the oldest queued delivery may wait before "degraded"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
REASONS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 404: "404 Not Found",
           405: "405 Method Not Allowed", 413: "413 Payload Too Large"}


def public(health: dict[str, Any]) -> dict[str, Any]:
    """What /healthz shows without the secret header: the status and the counts. Error texts,
    hook destinations and times only go to a caller that has the secret."""
    return {k: v for k, v in health.items() if k == "status" or type(v) is int}


def health_status(alive: bool, health: dict[str, Any]) -> str:
    """stalled: no worker heartbeat. degraded: orders wait in the retry set, the worker's last
    turn failed (the store refused the token or was unavailable) or deliveries wait too long."""
    if not alive:
        return "stalled"
    if health["failing_orders"] or health["worker_error"] or (
            health["queue_age_seconds"] > QUEUE_AGE_LIMIT):
        return "degraded"
    return "ok"


class App:
    """The WSGI application: POST `path` for deliveries, GET /healthz for health, and the
    status page (engine/status_page.py) behind the admin token."""

    def __init__(self, config: Config, path: str, secret: str, header: str,
                 admin_token: str | None = None) -> None:
        self.config, self.path, self.secret = config, path, secret
        self.header_key = "HTTP_" + header.upper().replace("-", "_")
        self._local = threading.local()  # one database connection per server thread
        self.page = StatusPage(config, admin_token, self.state, self.health)

    def state(self) -> SyncState:
        if not hasattr(self._local, "state"):
            self._local.state = open_state(self.config.state)
        found: SyncState = self._local.state
        return found

    def inbox(self) -> Inbox:
        return self.state().inbox()

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
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
        if verdict.delivery:
            d = verdict.delivery
            fresh = self.inbox().add(d.hash, d.order_id, d.scope, json.dumps(d.payload), utc_now())
            log.info("%s order %s: %s", d.scope, d.order_id, "queued" if fresh else "duplicate")
        else:  # refused, or a scope rulesync does not handle: acknowledged and ignored
            log.warning("delivery answered %s: %s", verdict.status, verdict.message)
        return self._reply(start, verdict.status, "" if verdict.status == 200 else verdict.message)

    def health(self) -> dict[str, Any]:
        state = self.state()
        beat = float(state.get_meta("worker_heartbeat", "0"))
        alive = time.time() - beat < STALLED_AFTER
        retries = state.retries().counts(time.time())
        health = {"queue_depth": self.inbox().depth(),
                  "queue_age_seconds": self.inbox().oldest_age(),
                  "failing_orders": retries["waiting"], "retries_due": retries["due"],
                  "dead_deliveries": self.inbox().dead(),
                  "worker_error": state.get_meta("worker_error") or None,
                  "last_sync": state.get_meta("last_sync") or None,
                  "hooks": json.loads(state.get_meta("hooks", "null")),
                  "last_received": self.inbox().last_received()}
        return {"status": health_status(alive, health), **health}

    @staticmethod
    def _reply(start: StartResponse, status: int, body: str,
               kind: str = "text/plain") -> list[bytes]:
        data = body.encode()
        start(REASONS[status], [("Content-Type", kind), ("Content-Length", str(len(data)))])
        return [data]


class Worker(threading.Thread):
    def __init__(self, config: Config, poll_seconds: float, stop: threading.Event) -> None:
        super().__init__(name="rulesync-worker", daemon=True)
        self.config, self.poll_seconds, self.stop = config, poll_seconds, stop
        self.hook_scopes: set[str] = set()  # active hooks as last read, for /healthz
        self.next_poll = 0.0
        self.last_hooks, self.hooks_stale = -HOOKS_REFRESH, True

    def run(self) -> None:
        with open_sync(self.config) as sync:
            inbox = sync.state.inbox()
            while not self.stop.is_set():
                sync.state.set_meta("worker_heartbeat", str(time.time()))
                try:
                    busy = self.step(sync, inbox)
                except Exception as e:  # noqa: BLE001 - the worker must outlive any one failure
                    log.warning("sync failed, retrying shortly: %s", e)
                    sync.state.set_meta("worker_error", f"{utc_now()}: {e}")
                    self.stop.wait(1.0)
                    continue
                if sync.state.get_meta("worker_error"):  # a whole turn went through: recovered
                    sync.state.set_meta("worker_error", "")
                if busy:
                    sync.state.set_meta("last_sync", utc_now())
                else:
                    self.stop.wait(0.05)

    def step(self, sync: Sync, inbox: Inbox) -> bool:
        """One turn: queued deliveries, due retries, ledger pushes, and the catch-up poll when
        it is due, also after the rest of the turn failed."""
        failure: Exception | None = None
        scopes: set[str] = set()
        try:
            with sync.state.exclusive():
                sync.finish_pending(Summary())  # our own effects are linked before webhooks
                scopes = self.drain(sync, inbox)
                retried = sync.retry_due(retrying := Summary())  # due, or a Retry press
                _logged(retrying)
                busy = bool(scopes) or bool(retried) or bool(sync.outbound(Summary()))
        except StoreError as e:  # the store refused the token or is unavailable
            failure, busy = e, False
        if time.monotonic() >= self.next_poll:
            _logged(sync.run())  # catch-up poll + pending actions + due retries + outbound
            self.prune(inbox)
            self.next_poll, busy = time.monotonic() + self.poll_seconds, True
        if failure is not None:
            raise failure
        self.hooks_stale |= not scopes <= self.hook_scopes  # a delivery from a hook not seen yet
        now = time.monotonic()
        if now >= self.last_hooks + HOOKS_REFRESH or (self.hooks_stale and now >= self.last_hooks + 1):
            found = sync.store.hook_status()
            sync.state.set_meta("hooks", json.dumps(found))
            self.hook_scopes = {h["scope"] for h in found if h["is_active"]}
            self.last_hooks, self.hooks_stale = now, False
        return busy

    def prune(self, inbox: Inbox) -> None:
        """Handled deliveries older than the retention go; the decision log keeps what they led to."""
        cutoff = datetime.now(UTC) - timedelta(days=self.config.inbox_retention_days)
        pruned = inbox.prune(cutoff.isoformat(timespec="seconds"))
        if pruned:
            log.info("pruned %d handled webhook deliveries received before %s", pruned,
                     cutoff.isoformat(timespec="seconds"))

    def drain(self, sync: Sync, inbox: Inbox) -> set[str]:
        """Apply queued deliveries: one re-fetch per order, orders in order of first arrival.

        Returns the scopes of the deliveries applied."""
        rows = inbox.pending()
        by_order: dict[int, list[int]] = {}
        shipment_news = {row["order_id"] for row in rows if row["scope"].startswith(
            "store/shipment/")}
        for row in rows:
            by_order.setdefault(row["order_id"], []).append(row["id"])
        for order_id, ids in by_order.items():
            if self.stop.is_set():
                break
            summary = Summary()
            try:
                sync.refresh(order_id, summary, shipments_changed=order_id in shipment_news)
            except OrderNotFound:
                log.warning("order %s from a webhook is not in the store: ignored", order_id)
            except Exception as e:  # noqa: BLE001 - one bad order must not block the queue
                if isinstance(e, StoreError) and e.status == 401:
                    raise  # every order would fail alike: keep the deliveries
                sync.fail_order(order_id, INBOUND, str(e), summary)
            _logged(summary)  # a failed order waits in the retry set: the delivery is done
            inbox.mark_done(ids)
        return {row["scope"] for row in rows}


def _logged(summary: Summary) -> Summary:
    for problem in summary.problems:
        log.warning("%s", problem)
    return summary
