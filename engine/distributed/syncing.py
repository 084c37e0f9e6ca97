"""The engine's Sync with the distributed locks (locks.py), and the sessions a worker keeps:
one open Sync per thread and store, reused by the tasks that thread runs.

Under an order's lock, a task reads what rulesync last saw of the order, decides and acts; an
action's row is read again once the lock is held (another task may have done it meanwhile), and
a store record read before a newer one was synced is skipped (it would move the order back).
"""
from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, cast

from engine.config import Config
from engine.connect.ports import HistoryEntry, Oms, OrderChange
from engine.connect.session import (
    check_plugins,
    check_settings,
    open_oms,
    open_state,
    open_store,
    rulesets_by_direction,
)
from engine.distributed.locks import Locks
from engine.distributed.runs import Runs
from engine.errors import RulesyncError
from engine.storage.retries import RetrySet as StoredRetries
from engine.storage.state import SqlState
from engine.sync.actions import SeenRows
from engine.sync.events import ledger_event
from engine.sync.run import Sync
from engine.sync.summary import Summary

log = logging.getLogger("rulesync.worker")
GROUP = 50  # a page's orders locked at once, at most (PageLocks)


@dataclass
class LockedSync(Sync):
    locks: Locks | None = field(default=None, repr=False)

    def _order(self, order_id: int, lead: bool = False) -> Any:
        assert self.locks is not None
        return self.locks.order(order_id, lead=lead)

    def store_change(self, change: OrderChange, summary: Summary, *,
                     shipments_changed: bool = False) -> None:
        # The lock travels with the read of what rulesync last saw of the order, its first
        # statement (sync/run.py), in one round trip.
        with self._order(change.order_id, lead=True):
            super().store_change(change, summary, shipments_changed=shipments_changed)

    def store_changes(self, feed: Callable[[SeenRows], Iterable[OrderChange]],
                      summary: Summary) -> None:
        """A change-feed slice's changes, `feed(known)` giving them a page at a time; each
        page's orders are synced under their locks, taken when the feed asks what rulesync
        last saw of them (PageLocks), and given back once they are synced."""
        with ExitStack() as held:
            self._seen = PageLocks(self, held)
            try:
                for change in feed(self._seen):
                    self.store_change(change, summary)
            finally:
                self._seen = None

    def _current(self, change: OrderChange, last_seen: Mapping[str, Any] | None
                 ) -> OrderChange | None:
        # `last_seen` is read under the order's lock; `change` may have been read before it
        # (a slice's page). A newer read of the order synced meanwhile: this one is skipped.
        # One synced in the same second with other content (the store's dates count whole
        # seconds), which of the two is newer cannot be told: the order is read again now.
        if not (last_seen and change.order):
            return change
        seen, read = last_seen["date_modified"], change.order["date_modified"]
        if seen > read:
            return None
        if seen == read and (last_seen["status_id"], last_seen["items_shipped"]) != (
                change.order["status_id"], change.order["items_shipped"]):
            shipped = int(last_seen["items_shipped"])
            return self.store.order_change(change.order_id, lambda _: shipped)
        return change

    def refresh(self, order_id: int, summary: Summary, *, shipments_changed: bool = False
                ) -> None:
        with self._order(order_id):
            super().refresh(order_id, summary, shipments_changed=shipments_changed)

    def retry(self, order_id: int, direction: str, summary: Summary) -> None:
        """Only if still due as read under the order's lock (the lock travels with that read):
        two copies of a retry running at once (beat queues one every retry_seconds, a run
        retries the due ones too) count one attempt, not two. So `retry_now`, which retries
        whatever the backoff says, is for the single-process sync only."""
        with self._order(order_id, lead=True):
            if any(e["direction"] == direction
                   for e in self.retries.entries(order_id, due_by=self.clock())):
                super().retry(order_id, direction, summary)

    def _succeeded(self, order_id: int, direction: str, summary: Summary) -> None:
        # Not in the retry set as read with its page (PageLocks): nothing to delete. Else no
        # look first: the delete travels with the order's unlock, in no round trip of its own
        # (distributed mode runs on the built-in state only: Sessions._thread).
        if self._waiting is not None and isinstance(self._seen, PageLocks) \
                and order_id in self._seen.ids:
            if (order_id, direction) not in self._waiting:
                return
            self._waiting.discard((order_id, direction))
        cast(StoredRetries, self.retries).succeeded_later(order_id, direction)
        summary.recorded.discard((order_id, direction))

    def _execute(self, row: dict[str, Any], summary: Summary) -> None:
        if row.get("status") != "pending":
            return
        with self._order(row["order_id"]) as taken_here:
            # A row read before the lock may be stale (another task may have run the action
            # meanwhile): it is read again. Under a lock already held (a decision, a retry),
            # the caller read it under that lock.
            super()._execute(self.state.action(row["key"]) or {} if taken_here else row,
                             summary)

    def _decide(self, ruleset: Any, event: dict[str, Any], state: dict[str, Any],
                summary: Summary) -> bool:
        with self._order(event["order_id"]):
            return super()._decide(ruleset, event, state, summary)

    def outbound(self, summary: Summary, wait: bool = True) -> int:
        """The ledger's changes since the store's outbound position, one pusher at a time per
        store; each change decided on the ledger state read under its order's lock. Not
        `wait`ing: nothing when another pusher is at it (what it leaves, the next push takes)."""
        assert self.locks is not None
        if not wait:
            with self.locks.try_named("outbound") as mine:
                return super().outbound(summary) if mine else 0
        with self.locks.named("outbound"):
            return super().outbound(summary)

    def ledger_change(self, entry: HistoryEntry, summary: Summary) -> bool:
        if ledger_event(entry) is None:  # nothing to decide: no need of the order's lock
            return False
        with self._order(entry.order_id):
            return super().ledger_change(entry, summary)


class PageLocks(SeenRows):
    """The feed's question for a page, what rulesync last saw of its orders, answered under
    their locks: taken in one statement in the round trip of the one read of their rows (the
    OMS's orders are read in one more), held until the feed asks for the next page or the slice
    ends, and then given back in one statement with the writes made under them. An order's
    webhook waits for its page at most.

    A page of more than GROUP orders takes no locks here (so few are held at once, whatever
    slice_orders says): its rows are only answered, and each order takes its own lock and
    reads its row again under it."""

    def __init__(self, sync: LockedSync, held: ExitStack) -> None:
        super().__init__(sync.state, sync.ledger)
        assert sync.locks is not None
        self.sync, self.locks, self.held = sync, sync.locks, held
        self.ids: frozenset[int] = frozenset()  # the page whose locks are held

    def many(self, order_ids: list[int]) -> dict[int, int | None]:
        self.held.close()  # the feed's previous page is synced
        if not order_ids:
            return {}
        if len(order_ids) > GROUP:
            return {i: None if row is None else int(row["items_shipped"])
                    for i, row in self.state.store_orders(order_ids).items()}
        self.held.enter_context(self.locks.orders(order_ids, lead=True))
        known = super().many(order_ids)
        # Which of them are in the retry set: only those have a row to delete once synced
        # (Decisions._waiting, for this page's orders only while their locks are held).
        self.sync._waiting = cast(StoredRetries, self.sync.retries).waiting(order_ids)
        self.ids = frozenset(order_ids)
        self.held.callback(self._forget)
        return known

    def _forget(self) -> None:
        """Once the page's locks go, nothing read under them is trusted."""
        self.rows.clear()
        self.orders.clear()
        self.ids, self.sync._waiting = frozenset(), None


@dataclass
class Session:
    sync: LockedSync
    runs: Runs

    @property
    def locks(self) -> Locks:
        assert self.sync.locks is not None
        return self.sync.locks


Rules = dict[str, tuple[Any, Any]]  # store -> (its rule sets by direction, its settings)


def read_rules(config: Config) -> Rules:
    """Every store's rules, read and checked when a worker starts rather than by the store's
    first task (a bad one stops it there), each set of rule files once however many stores use
    it."""
    found: Rules = {}
    loaded: dict[tuple[Any, ...], Any] = {}
    for store in config.each_store():
        if store.rules not in loaded:
            loaded[store.rules] = rulesets_by_direction(store)
        check_plugins(store)
        found[store.store_name] = (loaded[store.rules], check_settings(
            loaded[store.rules], store.settings, store.origins))
    return found


@dataclass
class _Thread:
    """One worker thread's connections (the state's, the OMS's), shared by its stores' views,
    and each store's client: a worker holds two connections per thread, however many stores."""

    state: SqlState
    oms: Oms
    sessions: dict[str, Session] = field(default_factory=dict)

    def close(self) -> None:
        for closing in (self.state.close, self.oms.close):
            try:
                closing()
            except Exception as e:  # noqa: BLE001 - a broken connection may fail to close
                log.debug("closing a broken connection: %s", e)


class Sessions:
    """Open syncs by store, one set per thread; after a failed task the thread's connections
    are closed and opened afresh by the next one (a database error may leave them unusable)."""

    def __init__(self, config: Config, rules: Rules | None = None) -> None:
        self.stores = {s.store_name: s for s in config.each_store()}
        self.first = next(iter(self.stores.values()))
        self._local = threading.local()
        self._rules = read_rules(config) if rules is None else rules

    def _thread(self) -> _Thread:
        found: _Thread | None = getattr(self._local, "thread", None)
        if found is None:
            state = open_state(self.first.state, self.first.store_name)
            try:
                if not isinstance(state, SqlState):
                    raise RulesyncError("distributed mode needs the built-in state on PostgreSQL")
                oms = open_oms(self.first, self.first.state)
            except BaseException:
                state.close()
                raise
            found = self._local.thread = _Thread(state, oms)
        return found

    def get(self, store: str) -> Session:
        if store not in self.stores:
            raise RulesyncError(f"store {store}: not in this worker's configuration "
                                f"(configured: {', '.join(self.stores)})")
        thread = self._thread()
        if store not in thread.sessions:
            config = self.stores[store]
            rulesets, settings = self._rules[store]
            state = thread.state.for_store(store)
            locked = LockedSync(rulesets, settings, _oms_view(thread.oms, store), state,
                                open_store(config), locks=Locks(state))
            thread.sessions[store] = Session(locked, Runs(state))
        return thread.sessions[store]

    def fail_run(self, store: str, run_id: str, error: Exception) -> None:
        """End a run with its task's error; also for a store this worker is not configured
        for (a store added without restarting the workers), whose session cannot be opened."""
        try:
            Runs(self._thread().state.for_store(store)).fail(run_id, error)
        except Exception:
            self.drop()
            raise

    def drop(self) -> None:
        found: _Thread | None = getattr(self._local, "thread", None)
        self._local.thread = None
        if found is not None:
            found.close()

    def using(self, store: str, work: Callable[[Session], Any]) -> Any:
        """`work` on the store's session, holding the store's sync lock shared."""
        session = self.get(store)
        try:
            with session.locks.store_shared():
                return work(session)
        except Exception:
            self.drop()
            raise


def _oms_view(oms: Oms, store: str) -> Oms:
    """The OMS as one store sees it, through the same connection: its `for_store` if it has
    one; else a copy with its `store` set (the built-in ledger keys everything by it)."""
    view = getattr(oms, "for_store", None)
    if callable(view):
        found: Oms = view(store)
        return found
    if not hasattr(oms, "store"):
        raise RulesyncError(f"the OMS connector {type(oms).__name__} serves one store: "
                            "distributed mode needs for_store(name) or a `store` attribute")
    other = copy.copy(oms)
    other.store = store
    return other
