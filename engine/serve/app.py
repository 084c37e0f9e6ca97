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
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.config import Config
from engine.connect.ports import DEFAULT_STORE, Inbox, SyncState
from engine.connect.session import open_state, open_sync
from engine.errors import DatabaseError, OrderNotFound, RulesyncError, StoreError
from engine.language.catalog import INBOUND
from engine.secrets import redact
from engine.serve import hooks
from engine.serve.status_page import StatusPage, claims
from engine.serve.webhooks import MAX_BODY, authenticated, check
from engine.sync.run import Sync
from engine.sync.summary import Summary, utc_now

log = logging.getLogger("rulesync.serve")
STALLED_AFTER = 60.0  # seconds without a worker heartbeat before /healthz says "stalled"
HOOKS_REFRESH = 60.0  # seconds between reads of the store's hooks for /healthz
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
    worker heartbeat. degraded: orders wait in the retry set, the worker's last turn failed (the
    store refused the token or was unavailable) or deliveries wait too long."""
    if health.get("state_error"):
        return "failed"
    if not alive:
        return "stalled"
    if health["failing_orders"] or health["worker_error"] or (
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
            return self._reply(start, 503, f"the state cannot be used: {e}")

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


class Worker(threading.Thread):
    """`on_state_error(message)` hears when the state cannot be used (deleted, a full disk),
    and "" once it can again: the error cannot be written where /healthz reads the others."""

    def __init__(self, config: Config, poll_seconds: float, stop: threading.Event,
                 on_state_error: Callable[[str], None] = lambda message: None) -> None:
        super().__init__(name=f"rulesync-worker-{config.store_name}", daemon=True)
        # With several stores, each worker's lines name its store.
        named = config.store_name != DEFAULT_STORE
        self.log = StoreLog(log, {"store": config.store_name}) if named else log
        self.config, self.poll_seconds, self.stop = config, poll_seconds, stop
        self.on_state_error, self.state_error = on_state_error, ""
        self.hook_scopes: set[str] = set()  # active hooks as last read, for /healthz
        self.next_poll, self.poll_failed = 0.0, False
        self.last_hooks, self.hooks_stale = -HOOKS_REFRESH, True

    def run(self) -> None:
        with open_sync(self.config) as sync:
            inbox = sync.state.inbox()
            while not self.stop.is_set():
                try:
                    self.turn(sync, inbox)
                    self.state_failed("")
                except DatabaseError as e:
                    self.state_failed(str(e))
                    self.stop.wait(1.0)

    def state_failed(self, message: str) -> None:
        if message != self.state_error:
            self.log.log(logging.ERROR if message else logging.INFO, "%s",
                         message or "the state can be used again")
            self.state_error = message
            self.on_state_error(message)

    def turn(self, sync: Sync, inbox: Inbox) -> None:
        sync.state.set_meta("worker_heartbeat", str(time.time()))
        try:
            busy = self.step(sync, inbox)
        except DatabaseError:
            raise  # the state itself: `run` keeps it in memory, it cannot be written there
        except Exception as e:  # noqa: BLE001 - the worker must outlive any one failure
            self.log.warning("sync failed, retrying shortly: %s", e)
            # Shown on /healthz and the status page, kept in the state: never a secret.
            sync.state.set_meta("worker_error", redact(f"{utc_now()}: {e}"))
            self.stop.wait(1.0)
            return
        if not self.poll_failed and sync.state.get_meta("worker_error"):
            sync.state.set_meta("worker_error", "")  # a whole turn went through
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
                _logged(retrying, self.log)
                busy = bool(scopes) or bool(retried) or bool(sync.outbound(Summary()))
        except StoreError as e:  # the store refused the token or is unavailable
            failure, busy = e, False
        if time.monotonic() >= self.next_poll:
            self.poll(sync, inbox)
            busy = True
        if failure is not None:
            raise failure
        self.hooks_stale |= not scopes <= self.hook_scopes  # a delivery from a hook not seen yet
        now = time.monotonic()
        if now >= self.last_hooks + HOOKS_REFRESH or (self.hooks_stale and now >= self.last_hooks + 1):
            found = hooks.status(sync.store, None)
            sync.state.set_meta("hooks", redact(json.dumps(found)))  # a destination's password
            self.hook_scopes = {h["scope"] for h in found if h["is_active"]}
            self.last_hooks, self.hooks_stale = now, False
        return busy

    def poll(self, sync: Sync, inbox: Inbox) -> None:
        """The catch-up poll (+ pending actions, due retries and outbound). The next one is
        scheduled first: a poll that fails (a page the store got wrong, the store down) waits
        for its turn like one that went through instead of being read again every second, and
        its error stays on /healthz until a poll goes through."""
        self.next_poll, self.poll_failed = time.monotonic() + self.poll_seconds, True
        _logged(sync.run(), self.log)
        self.prune(inbox)
        self.poll_failed = False

    def prune(self, inbox: Inbox) -> None:
        """Handled deliveries older than the retention go; the decision log keeps what they led to."""
        cutoff = datetime.now(UTC) - timedelta(days=self.config.inbox_retention_days)
        pruned = inbox.prune(cutoff.isoformat(timespec="seconds"))
        if pruned:
            self.log.info("pruned %d handled webhook deliveries received before %s", pruned,
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
                self.log.warning("order %s from a webhook is not in the store: ignored",
                                 order_id)
            except Exception as e:  # noqa: BLE001 - one bad order must not block the queue
                if isinstance(e, StoreError) and e.status == 401:
                    raise  # every order would fail alike: keep the deliveries
                sync.fail_order(order_id, INBOUND, str(e), summary)
            _logged(summary, self.log)  # a failed order waits in the retry set: the delivery is done
            inbox.mark_done(ids)
        return {row["scope"] for row in rows}


class StoreLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger whose lines begin with the store they are about."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"store {self.extra['store']}: {msg}", kwargs  # type: ignore[index]


def _logged(summary: Summary, logger: logging.Logger | StoreLog) -> Summary:
    for problem in summary.problems:
        logger.warning("%s", problem)
    return summary
