"""`rulesync serve`'s worker: one thread per store applies what the app (engine/serve/app.py)
wrote to the inbox, through the same engine as `apply`.

It coalesces the deliveries of each order into one re-fetch of the order's current state
(payloads are hints, not truth), runs outbound pushes and due retries, polls the change feed
every `poll_seconds` to catch webhooks that never arrive, and keeps what /healthz shows of it
(heartbeat, last error, the store's hooks) in the state.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.config import Config
from engine.connect.ports import DEFAULT_STORE, Inbox
from engine.connect.session import open_sync
from engine.errors import DatabaseError, OrderNotFound, StoreError
from engine.language.catalog import INBOUND
from engine.secrets import redact
from engine.serve import hooks
from engine.sync.run import Sync
from engine.sync.summary import Summary, utc_now

log = logging.getLogger("rulesync.serve")
HOOKS_REFRESH = 60.0  # seconds between reads of the store's hooks for /healthz


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
        before = self.config.inbox_cutoff()
        pruned = inbox.prune(before)
        if pruned:
            self.log.info("pruned %d handled webhook deliveries received before %s", pruned,
                          before)

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
