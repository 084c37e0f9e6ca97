"""Decisions and their actions, the part of a sync run shared by both directions: an event is
decided by the rules, the decision and its actions are written to the state before any action
runs, and each action is marked done after it ran (so a rerun finds what is left). An order
whose evaluation or action failed goes to the retry set (engine/sync/retrying.py retries it)."""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engine.connect.ports import LedgerOrder, Oms, RetrySet, Store, SyncState
from engine.errors import ActionFailed, EvaluationError, StaleOrder, StoreError
from engine.language.catalog import INBOUND, OUTBOUND
from engine.language.effects import ActionCall, Outcome
from engine.language.interpreter import evaluate, event_id
from engine.language.model import Decision, RuleSet
from engine.sync.progress import PENDING, SILENT, Phase, Progress
from engine.sync.summary import HELD, PUSH, Summary, action_view, counter, decision_row, iso, utc_now

CRASH_ENV = "RULESYNC_TEST_CRASH_AT"  # test-only: SIGKILL this process at the Nth crash point
T = TypeVar("T")


def raise_if_unauthorized(error: Exception) -> None:
    """A refused token fails every order alike: it stops the run instead of filling the
    retry set, whether it refused a read or a push."""
    if isinstance(error, StoreError) and error.status == 401:
        raise error


class SeenRows:
    """The change feed's question, what the sync last saw of its page's orders, answered with
    one read of their rows; the rows are kept for store_change (each read once, not twice).
    Only while nobody else can change those rows: while `run` holds the store's exclusive
    lock, or a worker the orders' locks (engine/distributed/syncing.py `store_changes`).

    The page's OMS orders are read with them where the OMS can read many at once (`get_many`,
    engine/connect/ports.py), each used once: an order is synced only by its own events, so
    the one read for its page is the one it would read when its turn comes, unless a person
    changed it in the OMS since (then its rules decide on the state of a moment earlier, as
    they would had that change come a moment later; the OMS checks each action against the
    order as it is)."""

    def __init__(self, state: SyncState, oms: Oms) -> None:
        self.state, self.rows, self.orders = state, dict[int, Any](), dict[int, Any]()
        self._get_many = getattr(oms, "get_many", None)

    def __call__(self, order_id: int) -> int | None:
        return self.many([order_id])[order_id]

    def many(self, order_ids: list[int]) -> dict[int, int | None]:
        self.rows.update(self.state.store_orders(order_ids))
        if self._get_many is not None:
            self.orders.update(self._get_many(order_ids))
        return {i: None if self.rows[i] is None else int(self.rows[i]["items_shipped"])
                for i in order_ids}


@dataclass
class Decisions:
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
    # While a run holds the store's lock: the orders in the retry set, so that an order that
    # went through costs no look in the retry set when it never failed (sync/run.py `run`).
    _waiting: set[tuple[int, str]] | None = field(default=None, init=False, repr=False,
                                                  compare=False)
    # Rows read for the change feed's pages, for store_change (sync/run.py `inbound` only).
    _seen: SeenRows | None = field(default=None, init=False, repr=False, compare=False)

    def _last_seen(self, order_id: int) -> dict[str, Any] | None:
        """What the sync last saw of a store order: the row read for the change feed's page,
        when there is one, else read now."""
        if self._seen is not None and order_id in self._seen.rows:
            return self._seen.rows.pop(order_id)
        return self.state.store_order(order_id)

    def _ledger_order(self, order_id: int) -> LedgerOrder | None:
        """The OMS's order: read with the change feed's page, when it was, else read now."""
        if self._seen is not None and order_id in self._seen.orders:
            return self._seen.orders.pop(order_id)
        return self.ledger.get(order_id)

    def _crash_point(self) -> None:
        self._points += 1
        if self._points == self.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def _steps(self, phase: Phase, items: Sequence[T]) -> Iterator[T]:
        """`items`, each reported to the progress as a step of `phase` once handled."""
        if items:
            self.progress.phase(phase, len(items))
        for n, item in enumerate(items, 1):
            yield item
            self.progress.step(n)

    def tally(self, summary: Summary) -> Summary:
        """The summary with the retry set's counts and the ledger changes held, as a run ends."""
        held = self.state.held_changes()
        summary.retries = self.retries.counts(self.clock())
        summary.held.update(on=self.push_on, new=summary.counts[HELD], changes=len(held),
                            orders=len({order_id for _, order_id in held}))
        return summary

    @property
    def push_on(self) -> bool:
        defaults = self.rulesets[OUTBOUND].settings
        return bool({**defaults, **self.settings}.get(PUSH, True))

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
        written = self.state.record_decision(
            decision_row(ruleset, event, decision, self.now(), outcome), rows)
        self._crash_point()
        for i, (row, outbox) in enumerate(zip(rows, written)):
            failures = len(summary.failures)
            self._execute(outbox, summary)
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
        # A store write must find its attempt counted even after a database server crash
        # (record_decision may have counted an OMS write's).
        attempts = row["attempts"] if row.get("counted") else self.state.start_attempt(
            row["key"], durable=row["direction"] == OUTBOUND)
        self._crash_point()
        call = ActionCall(row["key"], row["order_id"], row["action"], json.loads(row["params"]),
                          json.loads(row["event"]), attempts)
        try:
            outcome = self._effect(call, row["direction"], summary)
        except ActionFailed as e:
            raise_if_unauthorized(e)  # the push stays pending: the next run sends it
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
            # Unless reading it in failed and waits for its retry: that waits for its backoff
            # (the push with it), not retried by every run that finds the push still pending.
            waiting = {e["direction"] for e in self.retries.entries(call.order_id)}
            due = {e["direction"] for e in self.retries.entries(call.order_id,
                                                                due_by=self.clock())}
            if INBOUND in waiting - due:
                raise
            self.refresh(call.order_id, summary)
            return self.store.execute(call, self.ledger, self.state)

    def refresh(self, order_id: int, summary: Summary, *, shipments_changed: bool = False
                ) -> None:
        """Inbound for one order, read now (engine/sync/retrying.py)."""
        raise NotImplementedError

    @property
    def retries(self) -> RetrySet:
        return self.state.retries()

    def fail_order(self, order_id: int, direction: str, reason: str, summary: Summary) -> None:
        """Reported, and written to the retry set at once, before any cursor moves past it.
        A second failure of the order in the same run is not a new attempt."""
        summary.fail(order_id, direction, reason)
        again = (order_id, direction) in summary.recorded
        now = self.clock()  # one reading: the failure's time and its next attempt agree
        at = iso(now)
        self.retries.failed(order_id, direction, reason, at, now, again=again)
        summary.recorded.add((order_id, direction))
        if self._waiting is not None:
            self._waiting.add((order_id, direction))

    def _succeeded(self, order_id: int, direction: str, summary: Summary) -> None:
        if self._waiting is not None:
            if (order_id, direction) not in self._waiting:
                return
            self._waiting.discard((order_id, direction))
        if self.retries.succeeded(order_id, direction):
            summary.recorded.discard((order_id, direction))

    def finish_pending(self, summary: Summary) -> None:
        """Actions an earlier run recorded and did not finish (it crashed, or the store was down).
        First, before anything reads the store: our own effects must be linked before they are
        read back."""
        for row in self._steps(PENDING, self.state.pending_actions()):
            self._execute(row, summary)
