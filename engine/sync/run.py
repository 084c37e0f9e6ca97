"""One sync run, both directions: changes -> events -> rules -> outbox -> effects.

Every decision and its actions are written to the state store before any action runs; each
action is marked done after it ran. A rerun first finishes what an earlier run left pending, and
because event ids are deterministic, re-reading the same change finds its actions already done.
`plan` runs this same path on a private copy of the state file against a store it cannot write
(engine/storage/planning.py), so what it shows is what `apply` would do.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.connect.ports import HistoryEntry, OrderChange
from engine.errors import BadRecord, ConfigError, StoreError
from engine.language.catalog import INBOUND, NOT_IMPORTED_STATE, OUTBOUND
from engine.sync.actions import SeenRows
from engine.sync.events import ledger_event, present_events, store_events
from engine.sync.progress import HELD_ORDERS, LEDGER_CHANGES, STORE_ORDERS, Progress
from engine.sync.retrying import Retrying, raise_if_unauthorized
from engine.sync.summary import PUSH, Summary

LEDGER_BATCH = 500  # ledger history entries read at a time


def own_write(last_seen: dict[str, Any] | None, order: Mapping[str, Any] | None
              ) -> dict[str, Any] | None:
    """What the sync last saw of an order, with the status a store write of rulesync's was
    setting (`writing_status`, marked just before the write) when the store now has it: the
    process was killed after the store took the write, before it remembered it, and reading
    it back is no change. When the mark goes: `mark_kept`."""
    marked = None if last_seen is None else last_seen.get("writing_status")
    if last_seen is None or marked is None or order is None or order["status_id"] != marked:
        return last_seen
    return {**last_seen, "status_id": marked}


def mark_kept(last_seen: Mapping[str, Any] | None, order: Mapping[str, Any]) -> dict[str, Any]:
    """The mark stays when the read is no newer than what was last seen: read before the write
    (a slice's page, engine/distributed/syncing.py), it says nothing of whether the store took
    it. Any newer read does: the store has the status it shows."""
    if last_seen is None or last_seen.get("writing_status") is None \
            or order["date_modified"] > last_seen["date_modified"]:
        return {"writing_status": None}
    return {}


class Sync(Retrying):
    """One run: pending actions finished, due retries, the store's changes in, the ledger's
    changes out (engine/sync/actions.py decides and acts; engine/sync/retrying.py retries)."""

    def run(self, *, progress: Progress | None = None, push_current: bool = False) -> Summary:
        if push_current and not self.push_on:
            raise ConfigError(f"--push-current pushes ledger changes to the store, but {PUSH} "
                              f"is off: turn it on (--set {PUSH}=true, or settings.{PUSH} in "
                              "rulesync.yaml)")
        summary = Summary()
        if progress is not None:
            self.progress = progress
        with self.state.exclusive():
            # Only this run changes the store's retry set while it holds the lock: read once.
            self._waiting = self.retries.waiting()
            try:
                self._both_directions(summary, push_current)
            finally:
                self._waiting = None
            return self.tally(summary)

    def _both_directions(self, summary: Summary, push_current: bool) -> None:
        self.finish_pending(summary)
        # A failed push may still have taken effect in the store (a shipment made, then an
        # error): like a pending action, it is retried (and so linked) before inbound reads
        # the store back, which it does up to the current second.
        self.retry_due(summary, OUTBOUND)
        self.inbound(summary)
        self.retry_due(summary, INBOUND)
        self.outbound(summary)
        if push_current:
            self.push_present(summary)

    def inbound(self, summary: Summary) -> None:
        raw = self.state.get_meta("inbound_cursor")
        self.progress.phase(STORE_ORDERS, count=lambda: self.store.count_changes(raw))
        # (Distributed mode never comes here: its tasks read the rows under the orders'
        # locks, engine/distributed/syncing.py.)
        self._seen = SeenRows(self.state, self.ledger)
        try:
            batch = self.store.changes(raw, self._seen)
            for n, change in enumerate(batch, 1):
                self.store_change(change, summary)
                self.progress.step(n)
        finally:
            self._seen = None  # kept for this run's inbound only: never for a later refresh
        self.state.set_meta("inbound_cursor", batch.cursor)

    def store_change(self, change: OrderChange, summary: Summary, *,
                     shipments_changed: bool = False) -> None:
        """Events for one changed store order, decided and applied.

        An order that cannot be read, or whose events fail, goes to the retry set and is not
        remembered as seen: a retry derives the same events again (same ids) and re-runs what
        failed. An order that went through leaves the retry set."""
        oid, mark = change.order_id, len(summary.failures)
        last_seen = self._last_seen(oid)
        current = self._current(change, last_seen)
        if current is None:
            return
        change, seen, last_seen = current, last_seen, own_write(last_seen, current.order)
        summary.read.add(oid)
        if change.order is None:  # an unknown status or a broken record: reported, not guessed
            message = change.error.message if change.error else "unreadable order"
            self.fail_order(oid, INBOUND, message, summary)
            return
        order = self._ledger_order(oid)
        recorded = order.shipments if order else ()
        moved = last_seen is not None and last_seen["date_modified"] != change.order["date_modified"]
        # Also when the store counts more units shipped than the ledger recorded: shipments made
        # before the ledger had the order (first read, it decided nothing) are taken in now.
        shipments_changed = shipments_changed or moved and (
            change.order["status_id"] in (2, 3) or any(s.store_id for s in recorded)
            or change.order["items_shipped"] > sum(i.quantity for s in recorded for i in s.items))
        try:
            shipments = self._shipments(change, shipments_changed)
            events = store_events(change.order, shipments, last_seen, recorded)
        except (StoreError, BadRecord, KeyError, TypeError) as e:
            raise_if_unauthorized(e)
            self.fail_order(oid, INBOUND, f"cannot read its shipments: {e}", summary)
            return
        state, acted = order.state() if order else dict(NOT_IMPORTED_STATE), False
        for event in events:
            if acted:  # the previous event's actions may have changed the ledger order
                state = self.ledger.state_of(oid)
            acted = self._decide(self.rulesets[INBOUND], event, state, summary)
            if summary.failed_since(mark, oid, INBOUND):
                break  # the later events build on this one: the retry derives them again
        if not summary.failed_since(mark, oid, INBOUND):
            self.state.remember_store_order(
                oid, deferred=True, status_id=change.order["status_id"],
                items_shipped=change.order["items_shipped"],
                date_modified=change.order["date_modified"], **mark_kept(seen, change.order))
            self._succeeded(oid, INBOUND, summary)

    def _current(self, change: OrderChange, last_seen: Mapping[str, Any] | None
                 ) -> OrderChange | None:
        """The change to sync; None when a newer read of the order was synced already: only
        where several workers sync at once (engine/distributed/syncing.py)."""
        return change

    def _shipments(self, change: OrderChange, changed: bool) -> Any:
        """The change feed fetches shipments when items_shipped moved. A shipment deleted and
        made again (how BigCommerce changes a shipment's items, FACTS §3) leaves it as it was,
        so `changed` also covers a shipped order, or one with recorded store shipments, that was
        modified since we last saw it."""
        order = change.order or {}
        if change.shipments is not None or not changed:
            return change.shipments
        return self.store.shipments(change.order_id, order.get("line_items", ()))

    def outbound(self, summary: Summary) -> int:
        """Handle the ledger's changes since the last run; returns how many were read."""
        seq = kept = start = int(self.state.get_meta("outbound_seq", "0"))
        handled = 0
        while entries := self.ledger.changes_since(seq, LEDGER_BATCH):
            # The total is known once the rest fits in one batch.
            total = handled + len(entries) if len(entries) < LEDGER_BATCH else None
            if not handled:
                self.progress.phase(LEDGER_CHANGES, total)
            for entry in entries:
                seq = entry.seq
                # A decided change is never decided again: decided a second time, on the
                # order's state then, its rules might attach other actions. A change with no
                # event (most: rulesync's own) is only read again, so it is kept once a batch.
                if self.ledger_change(entry, summary):
                    self.state.set_meta("outbound_seq", str(seq))
                    kept = seq
                handled += 1
                self.progress.step(handled, total)
            if seq != kept:
                self.state.set_meta("outbound_seq", str(seq))
                kept = seq
        return seq - start

    def ledger_change(self, entry: HistoryEntry, summary: Summary) -> bool:
        """One change of the ledger's history, decided on the order's ledger state now;
        returns whether it had an event to decide."""
        event = ledger_event(entry)
        if event is None:
            return False
        self._decide(self.rulesets[OUTBOUND], event, self.ledger.state_of(entry.order_id),
                     summary)
        return True

    def push_present(self, summary: Summary) -> None:
        """`apply --push-current`: each order with ledger changes held while push was off gets
        its present ledger state pushed once, through the outbound rules (docs/sync.md says why
        not a replay of each change). Event ids name the last held decision, so a rerun after a
        crash makes the same ids and the outbox does each action once."""
        held = self.state.held_changes()
        last = {order_id: decision_id for decision_id, order_id in held}
        for order_id, decision_id in self._steps(HELD_ORDERS, list(last.items())):
            order = self.ledger.get(order_id)
            if order is None:
                continue
            for event in present_events(order, f"ledger:present:{order_id}@{decision_id}"):
                self._decide(self.rulesets[OUTBOUND], event, order.state(), summary)
        if held:
            self.state.release_held(held[-1][0])
