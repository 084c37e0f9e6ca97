"""One sync run, both directions: changes -> events -> rules -> outbox -> effects.

Every decision and its actions are written to the state store before any action runs; each
action is marked done after it ran. A rerun first finishes what an earlier run left pending, and
because event ids are deterministic, re-reading the same change finds its actions already done.
`plan` runs this same path on a private copy of the state file against a store it cannot write
(engine/storage/planning.py), so what it shows is what `apply` would do.
"""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from engine.connect.ports import HistoryEntry, Oms, OrderChange, RetrySet, Store, SyncState
from engine.errors import (
    ActionFailed,
    BadRecord,
    ConfigError,
    EvaluationError,
    OrderNotFound,
    StaleOrder,
    StoreError,
)
from engine.language.catalog import INBOUND, NOT_IMPORTED_STATE, OUTBOUND
from engine.language.effects import ActionCall, Outcome
from engine.language.interpreter import evaluate, event_id
from engine.language.model import Decision, RuleSet
from engine.sync.events import ledger_event, present_events, store_events
from engine.sync.progress import (
    HELD_ORDERS,
    LEDGER_CHANGES,
    PENDING,
    RETRIES,
    SILENT,
    STORE_ORDERS,
    Phase,
    Progress,
)
from engine.sync.summary import (
    HELD,
    PUSH,
    Summary,
    action_view,
    counter,
    decision_row,
    utc_now,
)

CRASH_ENV = "RULESYNC_TEST_CRASH_AT"  # test-only: SIGKILL this process at the Nth crash point
LEDGER_BATCH = 500  # ledger history entries read at a time
T = TypeVar("T")


@dataclass
class Sync:
    rulesets: Mapping[str, RuleSet]
    settings: Mapping[str, Any]
    ledger: Oms  # the OMS: the built-in ledger unless rulesync.yaml names another
    state: SyncState
    store: Store
    now: Callable[[], str] = utc_now
    clock: Callable[[], float] = time.time  # epoch seconds, for the retry set's backoff
    crash_at: int = field(default_factory=lambda: int(os.environ.get(CRASH_ENV) or 0))
    progress: Progress = SILENT  # told each phase and step of a run
    _points: int = 0

    def run(self, *, progress: Progress | None = None, push_current: bool = False) -> Summary:
        if push_current and not self.push_on:
            raise ConfigError(f"--push-current pushes ledger changes to the store, but {PUSH} "
                              f"is off: turn it on (--set {PUSH}=true, or settings.{PUSH} in "
                              "rulesync.yaml)")
        summary = Summary()
        if progress is not None:
            self.progress = progress
        with self.state.exclusive():
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
            held = self.state.held_changes()
            summary.retries = self.retries.counts(self.clock())
        summary.held.update(on=self.push_on, new=summary.counts[HELD], changes=len(held),
                            orders=len({order_id for _, order_id in held}))
        return summary

    def _crash_point(self) -> None:
        self._points += 1
        if self._points == self.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    # -- directions ----------------------------------------------------------------------

    def _steps(self, phase: Phase, items: Sequence[T]) -> Iterator[T]:
        """`items`, each reported to the progress as a step of `phase` once handled."""
        if items:
            self.progress.phase(phase, len(items))
        for n, item in enumerate(items, 1):
            yield item
            self.progress.step(n)

    def inbound(self, summary: Summary) -> None:
        raw = self.state.get_meta("inbound_cursor")
        self.progress.phase(STORE_ORDERS, count=lambda: self.store.count_changes(raw))
        batch = self.store.changes(raw, self.state.known_items_shipped)
        for n, change in enumerate(batch, 1):
            self.store_change(change, summary)
            self.progress.step(n)
        self.state.set_meta("inbound_cursor", batch.cursor)

    def store_change(self, change: OrderChange, summary: Summary, *,
                     shipments_changed: bool = False) -> None:
        """Events for one changed store order, decided and applied.

        An order that cannot be read, or whose events fail, goes to the retry set and is not
        remembered as seen: a retry derives the same events again (same ids) and re-runs what
        failed. An order that went through leaves the retry set."""
        oid, mark = change.order_id, len(summary.failures)
        last_seen = self.state.store_order(oid)
        if self._superseded(change, last_seen):
            return
        summary.read.add(oid)
        if change.order is None:  # an unknown status or a broken record: reported, not guessed
            message = change.error.message if change.error else "unreadable order"
            self.fail_order(oid, INBOUND, message, summary)
            return
        order = self.ledger.get(oid)
        recorded = order.shipments if order else ()
        moved = last_seen is not None and last_seen["date_modified"] != change.order["date_modified"]
        shipments_changed = shipments_changed or moved and (
            change.order["status_id"] in (2, 3) or any(s.store_id for s in recorded))
        try:
            shipments = self._shipments(change, shipments_changed)
            events = store_events(change.order, shipments, last_seen, recorded)
        except (StoreError, BadRecord, KeyError, TypeError) as e:
            _raise_if_unauthorized(e)
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
                oid, status_id=change.order["status_id"],
                items_shipped=change.order["items_shipped"],
                date_modified=change.order["date_modified"])
            self._succeeded(oid, INBOUND, summary)

    def _superseded(self, change: OrderChange, last_seen: Mapping[str, Any] | None) -> bool:
        """Whether a newer read of the order was synced already: only where several workers
        sync at once (engine/distributed/syncing.py)."""
        return False

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
        seq = start = int(self.state.get_meta("outbound_seq", "0"))
        handled = 0
        while entries := self.ledger.changes_since(seq, LEDGER_BATCH):
            # The total is known once the rest fits in one batch.
            total = handled + len(entries) if len(entries) < LEDGER_BATCH else None
            if not handled:
                self.progress.phase(LEDGER_CHANGES, total)
            for entry in entries:
                self.ledger_change(entry, summary)
                seq = entry.seq
                self.state.set_meta("outbound_seq", str(seq))
                handled += 1
                self.progress.step(handled, total)
        return seq - start

    def ledger_change(self, entry: HistoryEntry, summary: Summary) -> None:
        """One change of the ledger's history, decided on the order's ledger state now."""
        event = ledger_event(entry)
        if event is not None:
            self._decide(self.rulesets[OUTBOUND], event, self.ledger.state_of(entry.order_id),
                         summary)

    @property
    def push_on(self) -> bool:
        defaults = self.rulesets[OUTBOUND].settings
        return bool({**defaults, **self.settings}.get(PUSH, True))

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

    # -- decisions and actions -----------------------------------------------------------

    def _decide(self, ruleset: RuleSet, event: dict[str, Any], state: dict[str, Any],
                summary: Summary) -> bool:
        """The event decided on `state` (the order's ledger state), recorded, and its actions
        run; returns whether it had actions (then the ledger order may have changed)."""
        try:
            decision = evaluate(ruleset, event, state, self.settings)
        except EvaluationError as e:  # this event is reported; the run goes on with the next
            failed = Decision(event_id(event), (), (), ())
            self.state.record_decision(
                decision_row(ruleset, event, failed, self.now(), f"error: {e}"), [])
            self.fail_order(event["order_id"], ruleset.direction, str(e), summary)
            return False
        outcome = ""
        if decision.no_update or not decision.actions:
            summary.counts["skipped"] += 1
            if self._held_back(ruleset, event, state):
                summary.counts[HELD] += 1
                outcome = HELD
        rows = [{"key": a.key, "order_id": event["order_id"], "direction": ruleset.direction,
                 "action": a.name, "params": dict(a.params), "rule_id": a.rule_id,
                 "event": json.dumps(event, default=str), "at": self.now()}
                for a in decision.actions]
        self.state.record_decision(decision_row(ruleset, event, decision, self.now(), outcome),
                                   rows)
        self._crash_point()
        for i, row in enumerate(rows):
            failures = len(summary.failures)
            self._execute(self.state.action(row["key"]) or {}, summary)
            if len(summary.failures) > failures:
                # The rest builds on it (mark_paid after import_order): not run, so the order's
                # reason in the retry set stays the first failure; a retry runs them in order.
                for later in rows[i + 1:]:
                    self.state.finish_action(later["key"], "failed",
                                             f"not run: {row['action']} failed", self.now())
                break
        return bool(rows)

    def _held_back(self, ruleset: RuleSet, event: dict[str, Any], state: dict[str, Any]
                   ) -> bool:
        """A ledger change that only push_order_info being off kept from the store: the same
        rules with it on would send something."""
        if ruleset.direction != OUTBOUND or PUSH not in ruleset.settings or self.push_on:
            return False
        try:
            return bool(evaluate(ruleset, event, state, {**self.settings, PUSH: True}).actions)
        except EvaluationError:
            return False

    def _execute(self, row: dict[str, Any], summary: Summary) -> None:
        if row.get("status") != "pending":
            return
        # A store write must find its attempt counted even after a database server crash.
        attempts = self.state.start_attempt(row["key"], durable=row["direction"] == OUTBOUND)
        self._crash_point()
        call = ActionCall(row["key"], row["order_id"], row["action"], json.loads(row["params"]),
                          json.loads(row["event"]), attempts)
        try:
            outcome = self._effect(call, row["direction"], summary)
        except ActionFailed as e:
            outcome = Outcome("failed", str(e))
        except StaleOrder as e:  # changed again meanwhile: the next run retries
            summary.problems.append(f"{e}; {call.action} is left for the next run")
            return
        self._crash_point()
        self.state.finish_action(row["key"], outcome.status, outcome.message, self.now())
        summary.actions.append({**action_view(row["direction"], call.event, {
            "action": call.action, "params": call.params, "rule": row["rule_id"],
            "key": call.key}), "outcome": outcome.status, "message": outcome.message})
        if outcome.status == "failed":  # a conflict is shown, not retried: it would not change
            self.fail_order(call.order_id, row["direction"], f"{call.action}: {outcome.message}",
                            summary)
            return
        summary.counts[counter(row, outcome)] += 1
        if outcome.status == "conflict":
            summary.problems.append(f"order {call.order_id}: {call.action}: {outcome.message}")

    def _effect(self, call: ActionCall, direction: str, summary: Summary) -> Outcome:
        if direction == INBOUND:
            return self.ledger.execute(call)
        try:
            return self.store.execute(call, self.ledger, self.state)
        except StaleOrder:
            # The merchant changed the order since inbound read it: sync that in first, so our
            # write does not hide it (e.g. paid in the store while it was packed in the ledger).
            self.refresh(call.order_id, summary)
            return self.store.execute(call, self.ledger, self.state)

    def refresh(self, order_id: int, summary: Summary, *, shipments_changed: bool = False
                ) -> None:
        """Inbound for one order, read now: a webhook's order, a retry, or one found stale.

        An order the store will not give (403, 422, a 5xx after the client's retries) goes to
        the retry set; a missing one (404) and a refused token (401) raise, for the caller."""
        try:
            change = self.store.order_change(order_id, self.state.known_items_shipped)
        except StoreError as e:
            if isinstance(e, OrderNotFound):
                raise
            _raise_if_unauthorized(e)
            self.fail_order(order_id, INBOUND, str(e), summary)
            return
        self.store_change(change, summary, shipments_changed=shipments_changed)

    # -- the retry set -------------------------------------------------------------------

    @property
    def retries(self) -> RetrySet:
        return self.state.retries()

    def fail_order(self, order_id: int, direction: str, reason: str, summary: Summary) -> None:
        """Reported, and written to the retry set at once, before any cursor moves past it.
        A second failure of the order in the same run is not a new attempt."""
        summary.fail(order_id, direction, reason)
        again = (order_id, direction) in summary.recorded
        now = self.clock()  # one reading: the failure's time and its next attempt agree
        at = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
        self.retries.failed(order_id, direction, reason, at, now, again=again)
        summary.recorded.add((order_id, direction))

    def _succeeded(self, order_id: int, direction: str, summary: Summary) -> None:
        if self.retries.succeeded(order_id, direction):
            summary.recorded.discard((order_id, direction))

    def retry_due(self, summary: Summary, direction: str | None = None) -> int:
        """Retry the orders whose next attempt is due (in `direction`, or both; not those this
        run read already); returns how many were retried."""
        due = [e for e in self.retries.due(self.clock())
               if direction in (None, e["direction"])
               and not (e["direction"] == INBOUND and e["order_id"] in summary.read)]
        for entry in self._steps(RETRIES, due):
            self.retry(entry["order_id"], entry["direction"], summary)
        return len(due)

    def retry(self, order_id: int, direction: str, summary: Summary) -> None:
        """Inbound: read the order from the store again and sync it (failed actions of events
        derived again run again). Outbound: decide the events whose evaluation failed again and
        run the failed pushes again. Success takes the order out of the retry set."""
        mark, shown = len(summary.failures), len(summary.actions)
        if direction == INBOUND:
            try:
                self.refresh(order_id, summary, shipments_changed=True)
            except OrderNotFound as e:
                self.fail_order(order_id, INBOUND, f"not in the store: {e}", summary)
        else:
            for decision in self.state.failed_decisions(order_id, OUTBOUND):
                self._decide(self.rulesets[OUTBOUND], decision["event"],
                             self.ledger.state_of(order_id), summary)
            for row in self.state.failed_actions(order_id, OUTBOUND):
                self.state.reopen_action(row["key"], self.now())
                self._execute(self.state.action(row["key"]) or {}, summary)
            if not summary.failed_since(mark, order_id, OUTBOUND):
                self._succeeded(order_id, OUTBOUND, summary)
        for action in summary.actions[shown:]:
            action["retry"] = True

    def retry_now(self, order_id: int) -> Summary:
        """Retry every entry of one order now, whatever its backoff says."""
        summary = Summary()
        with self.state.exclusive():
            for entry in self.retries.entries(order_id):
                self.retry(order_id, entry["direction"], summary)
            summary.retries = self.retries.counts(self.clock())
        return summary

    def finish_pending(self, summary: Summary) -> None:
        """Actions an earlier run recorded and did not finish (it crashed, or the store was down).
        First, before anything reads the store: our own effects must be linked before they are
        read back."""
        for row in self._steps(PENDING, self.state.pending_actions()):
            self._execute(row, summary)


def _raise_if_unauthorized(error: Exception) -> None:
    """A refused token fails every order alike: it stops the run instead of filling the
    retry set."""
    if isinstance(error, StoreError) and error.status == 401:
        raise error
