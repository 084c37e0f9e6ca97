"""The sync state file: created on first use, refused when a newer rulesync wrote it."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RulesyncError
from engine.state import SCHEMA_VERSION, SqliteState


def test_a_state_file_from_a_newer_rulesync_is_refused(tmp_path: Path) -> None:
    state = SqliteState(tmp_path / "state.sqlite")
    assert state.get_meta("schema_version") == str(SCHEMA_VERSION)
    state.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    state.close()
    with pytest.raises(RulesyncError, match="newer rulesync"):
        SqliteState(tmp_path / "state.sqlite")


def test_the_outbox_keeps_one_row_per_key_and_finishes_only_pending_rows(tmp_path: Path) -> None:
    state = SqliteState(tmp_path / "state.sqlite")
    row = {"order_id": 1, "direction": "inbound", "event_id": "e1", "event": "{}", "rules": "r",
           "rules_version": 1, "rules_sha256": "x", "matched": "[]", "actions": "[]",
           "no_update": "[]", "outcome": "recorded", "at": "t"}
    action = {"key": "e1:r:mark_paid", "order_id": 1, "direction": "inbound",
              "action": "mark_paid", "params": {}, "rule_id": "r", "event": "{}", "at": "t"}
    state.record_decision(row, [action])
    state.record_decision(row, [action])  # a rerun re-reading the same change
    assert [a["key"] for a in state.pending_actions()] == ["e1:r:mark_paid"]
    assert state.start_attempt("e1:r:mark_paid") == 1
    state.finish_action("e1:r:mark_paid", "done", "", "t")
    state.finish_action("e1:r:mark_paid", "failed", "late", "t")  # a stale second finisher
    assert state.action("e1:r:mark_paid")["status"] == "done"
    assert state.pending_actions() == []
    assert len(state.decisions(1)) == 1
    state.close()


def test_a_failed_delivery_waits_longer_each_time_then_is_dead(tmp_path: Path) -> None:
    from engine.state import Inbox

    inbox = Inbox(SqliteState(tmp_path / "state.sqlite"))
    assert inbox.add("h1", 7, "store/order/created", "{}", "t")
    assert not inbox.add("h1", 7, "store/order/created", "{}", "t")  # same hash: one effect
    (row,) = inbox.pending()
    inbox.failed([row["id"]], "boom")
    assert inbox.pending() == [] and inbox.depth() == 1  # not before its retry time
    for _ in range(Inbox.MAX_ATTEMPTS - 1):
        inbox.state.conn.execute("UPDATE sync_inbox SET retry_at = 0")
        inbox.failed([row["id"]], "boom")
    assert inbox.dead() == 1 and inbox.depth() == 0
