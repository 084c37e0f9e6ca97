"""The state file's transactions and schema history, found by mutation testing (docs/testing.md):
a failed transaction leaves nothing behind and the file usable, and a file written before the
schema version was recorded is brought up to date with what it holds kept."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.state import SCHEMA_VERSION, SqlState


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
    from engine.state import Inbox

    inbox = Inbox(SqlState(tmp_path / "state.sqlite"))
    assert inbox.oldest_age() == 0
    assert inbox.add("h1", 7, "store/order/updated", "{}", "2000-01-01T00:00:00+00:00")
    assert inbox.oldest_age() > 365 * 24 * 3600  # received long ago, still waiting
    inbox.state.close()
