"""The engine's Sync with the distributed locks (locks.py), and the sessions a worker keeps:
one open Sync per thread and store, reused by the tasks that thread runs.

Under an order's lock, a task reads what rulesync last saw of the order, decides and acts; an
action's row is read again once the lock is held (another task may have done it meanwhile), and
a store record read before a newer one was synced is skipped (it would move the order back).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from engine.config import Config
from engine.connect.ports import OrderChange
from engine.connect.session import open_sync
from engine.distributed.locks import Locks
from engine.distributed.runs import Runs
from engine.errors import RulesyncError
from engine.storage.state import SqlState
from engine.sync.run import OUTBOUND, Summary, Sync

log = logging.getLogger("rulesync.worker")


@dataclass
class LockedSync(Sync):
    locks: Locks | None = field(default=None, repr=False)

    def _order(self, order_id: int) -> Any:
        assert self.locks is not None
        return self.locks.order(order_id)

    def store_change(self, change: OrderChange, summary: Summary, *,
                     shipments_changed: bool = False) -> None:
        with self._order(change.order_id):
            seen = self.state.store_order(change.order_id)
            if seen and change.order and seen["date_modified"] > change.order["date_modified"]:
                return  # a newer read of this order was synced meanwhile
            super().store_change(change, summary, shipments_changed=shipments_changed)

    def refresh(self, order_id: int, summary: Summary, *, shipments_changed: bool = False
                ) -> None:
        with self._order(order_id):
            super().refresh(order_id, summary, shipments_changed=shipments_changed)

    def retry(self, order_id: int, direction: str, summary: Summary) -> None:
        with self._order(order_id):
            super().retry(order_id, direction, summary)

    def _execute(self, row: dict[str, Any], summary: Summary) -> None:
        if row.get("status") != "pending":
            return
        with self._order(row["order_id"]):
            super()._execute(self.state.action(row["key"]) or {}, summary)

    def _decide(self, ruleset: Any, event: dict[str, Any], state: dict[str, Any],
                summary: Summary) -> dict[str, Any]:
        with self._order(event["order_id"]):
            return super()._decide(ruleset, event, state, summary)

    def outbound(self, summary: Summary) -> int:
        """The ledger's changes since the store's outbound position, one pusher at a time per
        store; each change decided on the ledger state read under its order's lock."""
        assert self.locks is not None
        from engine.sync.events import ledger_event

        with self.locks.named("outbound"):
            seq = start = int(self.state.get_meta("outbound_seq", "0"))
            while entries := self.ledger.changes_since(seq, 500):
                for entry in entries:
                    event = ledger_event(entry)
                    if event is not None:
                        with self._order(entry.order_id):
                            self._decide(self.rulesets[OUTBOUND], event,
                                         self.ledger.state_of(entry.order_id), summary)
                    seq = entry.seq
                    self.state.set_meta("outbound_seq", str(seq))
            return seq - start


@dataclass
class Session:
    sync: LockedSync
    runs: Runs
    closing: ExitStack

    @property
    def locks(self) -> Locks:
        assert self.sync.locks is not None
        return self.sync.locks


class Sessions:
    """Open syncs by store, one set per thread; a session whose task failed on a database or
    connection error is closed and opened afresh by the next task."""

    def __init__(self, config: Config) -> None:
        self.stores = {s.store_name: s for s in config.each_store()}
        self._local = threading.local()

    def get(self, store: str) -> Session:
        cache: dict[str, Session] = self._local.__dict__.setdefault("sessions", {})
        if store in cache:
            return cache[store]
        if store not in self.stores:
            raise RulesyncError(f"store {store}: not in this worker's configuration "
                                f"(configured: {', '.join(self.stores)})")
        closing = ExitStack()
        try:
            sync = closing.enter_context(open_sync(self.stores[store]))
            if not isinstance(sync.state, SqlState):
                raise RulesyncError("distributed mode needs the built-in state on PostgreSQL")
            locked = LockedSync(sync.rulesets, sync.settings, sync.ledger, sync.state,
                                sync.store, crash_at=sync.crash_at, locks=Locks(sync.state))
            cache[store] = Session(locked, Runs(sync.state), closing)
        except BaseException:
            closing.close()
            raise
        return cache[store]

    def drop(self, store: str) -> None:
        cache: dict[str, Session] = self._local.__dict__.setdefault("sessions", {})
        found = cache.pop(store, None)
        if found is not None:
            try:
                found.closing.close()
            except Exception as e:  # noqa: BLE001 - a broken connection may fail to close
                log.debug("closing a broken session: %s", e)

    def using(self, store: str, work: Callable[[Session], Any]) -> Any:
        """`work` on the store's session, holding the store's sync lock shared."""
        session = self.get(store)
        try:
            with session.locks.store_shared():
                return work(session)
        except Exception:
            self.drop(store)  # a database error may leave the connection unusable
            raise
