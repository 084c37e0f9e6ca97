"""The state file's transactions and schema history, found by mutation testing (docs/testing.md):
a failed transaction leaves nothing behind and the file usable, and a file written before the
schema version was recorded is brought up to date with what it holds kept."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.storage.state import SqlState
from engine.storage.state_schema import SCHEMA_VERSION


def test_a_failing_transaction_writes_nothing_and_the_next_one_works(location: str) -> None:
    state = SqlState(location)
    with pytest.raises(RuntimeError, match="half way"):
        with state.transaction() as c:
            c.execute("INSERT INTO sync_meta (key, value) VALUES ('inbound_cursor', 'half')")
            raise RuntimeError("half way")
    assert state.get_meta("inbound_cursor") == ""
    with state.transaction() as c:  # no transaction was left open on the connection
        c.execute("INSERT INTO sync_meta (key, value) VALUES ('inbound_cursor', 'whole')")
    state.close()
    reopened = SqlState(location)
    assert reopened.get_meta("inbound_cursor") == "whole"
    reopened.close()


def test_a_file_from_before_the_schema_version_is_migrated_keeping_its_rows(
        tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    old.execute("INSERT INTO sync_meta VALUES ('inbound_cursor', '{\"t\": 1}')")
    old.commit()
    old.close()
    state = SqlState(path)
    assert state.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert state.get_meta("inbound_cursor") == '{"t": 1}'
    assert state.pending_actions() == []  # the outbox and the rest were created
    tables = {r[0] for r in state.db.rows("SELECT name FROM sqlite_master")}
    assert {"sync_store_orders", "sync_inbox", "sync_outbox", "sync_decisions",
            "sync_retries"} <= tables
    state.close()


def test_the_queue_age_is_zero_when_nothing_waits_and_counts_from_the_oldest(
        tmp_path: Path) -> None:
    from engine.storage.inbox import Inbox

    inbox = Inbox(SqlState(tmp_path / "state.sqlite"))
    assert inbox.oldest_age() == 0
    assert inbox.add("h1", 7, "store/order/updated", "{}", "2000-01-01T00:00:00+00:00")
    assert inbox.oldest_age() > 365 * 24 * 3600  # received long ago, still waiting
    inbox.state.close()


def test_pending_actions_come_back_in_the_order_they_were_decided(location: str) -> None:
    """After a crash the next run finishes the pending actions in decision order (an order is
    imported before it is marked paid): sequence numbers run on across decisions."""
    state = SqlState(location)

    def decide(event_id: str, order_id: int, actions: list[str]) -> None:
        row = {"order_id": order_id, "direction": "inbound", "event_id": event_id,
               "event": "{}", "rules": "r", "rules_version": 1, "rules_sha256": "x",
               "matched": "[]", "actions": "[]", "no_update": "[]", "outcome": "",
               "at": "t"}
        state.record_decision(row, [
            {"key": f"{event_id}:r:{a}", "order_id": order_id, "direction": "inbound",
             "action": a, "params": {}, "rule_id": "r", "event": "{}", "at": "t"}
            for a in actions])

    decide("e1", 1, ["import_order", "mark_paid", "mark_packed"])
    decide("e2", 2, ["import_order"])
    decide("e3", 1, ["close_order"])
    pending = state.pending_actions()
    assert [a["key"] for a in pending] == [
        "e1:r:import_order", "e1:r:mark_paid", "e1:r:mark_packed", "e2:r:import_order",
        "e3:r:close_order"]
    seqs = [a["seq"] for a in pending]
    assert seqs == sorted(set(seqs))  # strictly increasing, never restarting
    state.close()
