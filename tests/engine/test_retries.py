"""The retry set and what a retry needs from the state: backoff, attempts, due entries, the
schema migration that adds the table, and failed work made pending again when decided again."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.storage.retries import FIRST_WAIT, MAX_WAIT, RetrySet, wait_after
from engine.storage.state import SqlState
from engine.storage.state_schema import MIGRATIONS, SCHEMA_VERSION

T = 1_790_000_000.0


@pytest.fixture
def state(location: str) -> Any:
    s = SqlState(location)
    yield s
    s.close()


def test_the_wait_doubles_from_30_seconds_up_to_an_hour() -> None:
    assert [wait_after(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert wait_after(10_000) == MAX_WAIT and wait_after(0) == FIRST_WAIT


def test_a_failure_is_kept_with_its_attempts_and_next_attempt(state: SqlState) -> None:
    retries = RetrySet(state)
    assert retries.failed(7, "inbound", "bad status", "t1", T) == 1
    assert retries.due(T + FIRST_WAIT - 1) == []
    (entry,) = retries.due(T + FIRST_WAIT)
    assert entry["reason"] == "bad status" and entry["first_failed_at"] == "t1"
    assert retries.counts(T) == {"waiting": 1, "due": 0}
    # a second failure in the same pass: the reason is updated, the attempt is not counted
    assert retries.failed(7, "inbound", "and its action", "t1", T, again=True) == 1
    assert retries.entries()[0]["reason"] == "and its action"
    # a later pass fails again: one more attempt, twice the wait from now
    assert retries.failed(7, "inbound", "still bad", "t2", T + 40) == 2
    (entry,) = retries.entries()
    assert (entry["first_failed_at"], entry["last_failed_at"]) == ("t1", "t2")
    assert retries.due(T + 40 + 2 * FIRST_WAIT - 1) == []
    assert len(retries.due(T + 40 + 2 * FIRST_WAIT)) == 1
    assert retries.counts(T + 1000) == {"waiting": 1, "due": 1}


def test_success_and_forget_take_orders_out(state: SqlState) -> None:
    retries = RetrySet(state)
    retries.failed(7, "inbound", "x", "t", T)
    retries.failed(7, "outbound", "y", "t", T)
    retries.failed(8, "inbound", "z", "t", T)
    assert retries.counts(T) == {"waiting": 2, "due": 0}  # orders, not rows
    assert retries.waiting() == {(7, "inbound"), (7, "outbound"), (8, "inbound")}
    assert RetrySet(state.for_store("other")).waiting() == set()
    assert retries.waiting([7, 9]) == {(7, "inbound"), (7, "outbound")}
    assert RetrySet(state.for_store("other")).waiting([7, 8]) == set()
    assert retries.succeeded(8, "inbound") is True
    assert retries.succeeded(8, "inbound") is False
    assert [e["direction"] for e in retries.entries(7)] == ["inbound", "outbound"]
    assert retries.forget(7) == 2 and retries.forget(7) == 0
    assert retries.entries() == []


def test_a_long_reason_is_cut(state: SqlState) -> None:
    RetrySet(state).failed(1, "inbound", "x" * 5000, "t", T)
    assert len(RetrySet(state).entries()[0]["reason"]) == 1000


def test_a_version_1_state_file_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO sync_meta VALUES ('schema_version', '1'), ('outbound_seq', '42')")
    conn.commit()
    conn.close()
    state = SqlState(path)
    assert state.get_meta("schema_version") == str(SCHEMA_VERSION) == "6"
    assert state.get_meta("outbound_seq") == "42"
    RetrySet(state).failed(1, "inbound", "x", "t", T)
    state.close()
    reopened = SqlState(path)  # a second open runs nothing again
    assert len(RetrySet(reopened).entries()) == 1
    reopened.close()


def _decision(event_id: str, outcome: str) -> dict[str, Any]:
    return {"order_id": 1, "direction": "outbound", "event_id": event_id, "event": "{}",
            "rules": "r", "rules_version": 1, "rules_sha256": "x", "matched": "[]",
            "actions": "[]", "no_update": "[]", "outcome": outcome, "at": "t"}


def _action(key: str, event: str) -> dict[str, Any]:
    return {"key": key, "order_id": 1, "direction": "outbound", "action": "set_store_status",
            "params": {"status_id": 11}, "rule_id": "r", "event": event, "at": "t"}


def test_a_failed_action_decided_again_is_pending_with_the_new_event(state: SqlState) -> None:
    first = state.record_decision(_decision("e1", "recorded"), [_action("k1", '{"v": 1}'),
                                                                _action("k2", '{"v": 1}')])
    # Store writes: no attempt counted with the decision (each is counted right before it runs).
    assert [(r["key"], r["status"], r["attempts"], r.get("counted")) for r in first] == [
        ("k1", "pending", 0, None), ("k2", "pending", 0, None)]
    assert first[1]["seq"] == first[0]["seq"] + 1 == state.action("k2")["seq"]  # type: ignore[index]
    for key, status in (("k1", "failed"), ("k2", "done")):
        state.start_attempt(key)
        state.finish_action(key, status, "", "t")
    assert [r["key"] for r in state.failed_actions(1, "outbound")] == ["k1"]
    written = state.record_decision(_decision("e1", "recorded"), [_action("k1", '{"v": 2}'),
                                                                  _action("k2", '{"v": 2}')])
    k1, k2 = state.action("k1"), state.action("k2")
    assert k1 is not None and k2 is not None
    assert written == [k1, k2]  # the rows as they now are, the reopened one and the done one
    assert (k1["status"], k1["event"], k1["attempts"]) == ("pending", '{"v": 2}', 1)
    assert (k2["status"], k2["event"]) == ("done", '{"v": 1}')  # done work is never redone


def test_reopen_makes_only_a_failed_action_pending(state: SqlState) -> None:
    state.record_decision(_decision("e1", "recorded"), [_action("k1", "{}")])
    state.finish_action("k1", "conflict", "no", "t")
    state.reopen_action("k1", "t2")
    assert state.action("k1")["status"] == "conflict"  # type: ignore[index]
    state.record_decision(_decision("e2", "recorded"), [_action("k2", "{}")])
    state.finish_action("k2", "failed", "boom", "t")
    state.reopen_action("k2", "t2")
    assert state.action("k2")["status"] == "pending"  # type: ignore[index]


def test_an_error_decision_is_replaced_when_decided_again(state: SqlState) -> None:
    state.record_decision(_decision("e1", "error: boom"), [])
    assert [d["event_id"] for d in state.failed_decisions(1, "outbound")] == ["e1"]
    state.record_decision(_decision("e1", "recorded"), [])
    assert state.failed_decisions(1, "outbound") == []
    state.record_decision(_decision("e1", "error: later"), [])  # a good one is never replaced
    assert [d["outcome"] for d in state.decisions(1)] == ["recorded"]
