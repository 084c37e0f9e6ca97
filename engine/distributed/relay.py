"""`rulesync serve --queue`: every delivery is in the PostgreSQL inbox before its 200 goes out
(engine/serve/app.py, as without --queue); this thread then queues a `sync_order` task per order
for the workers, who mark the deliveries done.

A delivery is claimed before it is queued (its `retry_at` set RESEND_S ahead, in one statement
that several `serve` processes can run at once without taking the same rows), and unclaimed again
when the broker refused it: while the broker is away deliveries wait in the inbox, acknowledged,
and are queued once it is back. One queued but never done (a message lost with the broker's
disk) is queued again after RESEND_S; the task is idempotent, so twice is harmless.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress

from engine.config import Config
from engine.connect.session import open_state
from engine.distributed.app import make_app, queue_of, reachable
from engine.distributed.settings import Settings, shown
from engine.errors import DatabaseError, RulesyncError
from engine.storage.inbox import Inbox
from engine.storage.state import SqlState

log = logging.getLogger("rulesync.serve")
RESEND_S = 600.0
IDLE_S = 1.0  # a look at the inbox at least this often, besides every delivery's nudge
BACKOFF_S = 2.0
PRUNE_S = 3600.0


def _closed(state: SqlState | None) -> None:
    if state is not None:
        with suppress(DatabaseError):  # its connection may be gone already
            state.close()


class Relay(threading.Thread):
    def __init__(self, config: Config, settings: Settings, stop: threading.Event) -> None:
        super().__init__(name="rulesync-relay", daemon=True)
        self.config, self.settings, self.stop = config, settings, stop
        self.wake = threading.Event()
        self.stores = list(config.each_store())

    def run(self) -> None:
        app = make_app(self.settings)
        state: SqlState | None = None
        trouble, pruned = "", -PRUNE_S
        broker = f"the broker {shown(self.settings.url)}"
        try:  # a wrong URL said at start, not at the first delivery; the deliveries wait
            reachable(app, self.settings)
        except RulesyncError as e:
            log.warning("%s: deliveries wait in the inbox until it answers", e)
            trouble = broker
        try:
            while not self.stop.is_set():
                self.wake.wait(IDLE_S)
                self.wake.clear()
                try:
                    if trouble == broker:  # back only once it answers, deliveries or not
                        reachable(app, self.settings)
                    if state is None:  # (again) after the database was unreachable
                        found = open_state(self.config.state, self.stores[0].store_name)
                        assert isinstance(found, SqlState)
                        state = found
                    for store in self.stores:
                        self.relay(app, state.for_store(store.store_name))
                    if time.monotonic() - pruned >= PRUNE_S:
                        self.prune(state)
                        pruned = time.monotonic()
                    if trouble:
                        log.info("deliveries go to the workers again")
                    trouble = ""
                except Exception as e:  # noqa: BLE001 - kombu raises many kinds
                    where = "the inbox" if isinstance(e, DatabaseError) else broker
                    _closed(state)  # whatever failed, a new connection next time
                    state = None
                    if trouble != where:
                        log.warning("cannot queue deliveries (they wait in the inbox): %s: %s",
                                    where, e)
                    trouble = where
                    self.stop.wait(BACKOFF_S)
        finally:
            _closed(state)

    def prune(self, state: SqlState) -> None:
        """Handled deliveries older than each store's retention go, as `serve` without --queue
        does after each poll."""
        for store in self.stores:
            before = store.inbox_cutoff()
            pruned = state.for_store(store.store_name).inbox().prune(before)
            if pruned:
                log.info("store %s: pruned %d handled webhook deliveries received before %s",
                         store.store_name, pruned, before)

    def relay(self, app: object, state: SqlState) -> int:
        """Claim the store's waiting deliveries and queue one task per order."""
        now = time.time()
        rows = state.db.rows(
            "UPDATE sync_inbox SET retry_at = ? WHERE id IN (SELECT id FROM sync_inbox WHERE "
            "store = ? AND done = 0 AND attempts < ? AND retry_at <= ? ORDER BY id LIMIT 500 "
            "FOR UPDATE SKIP LOCKED) RETURNING id, order_id, scope",
            (now + RESEND_S, state.store, Inbox.MAX_ATTEMPTS, now))
        by_order: dict[int, tuple[list[int], bool]] = {}
        for row_id, order_id, scope in sorted(rows):
            ids, shipments = by_order.setdefault(int(order_id), ([], False))
            ids.append(int(row_id))
            by_order[int(order_id)] = (ids, shipments or str(scope).startswith("store/shipment/"))
        sent: list[int] = []
        try:
            for order_id, (ids, shipments) in by_order.items():
                app.send_task("rulesync.sync_order",  # type: ignore[attr-defined]
                              args=[state.store, order_id, ids, shipments, False],
                              queue=queue_of(self.settings, "sync_order"))
                sent += ids
        except BaseException:
            unsent = [i for i, _, _ in rows if i not in set(sent)]
            state.db.executemany("UPDATE sync_inbox SET retry_at = 0 WHERE id = ?",
                                 [(i,) for i in unsent])
            raise
        return len(by_order)
