from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors.ledger import Ledger, LedgerError, SchemaTooNew
from connectors.ledger.schema import MIGRATIONS, SCHEMA_VERSION, connect, schema_version


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_a_new_file_gets_the_whole_schema_in_wal_mode(db_path: Path) -> None:
    conn = connect(db_path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute("INSERT INTO ledger_history (order_id, kind, origin, at) "
                         "VALUES (404, 'paid', 'user', 'now')")
    finally:
        conn.close()
    assert {t for t in _tables(db_path) if not t.startswith("sqlite_")} == {
        "ledger_schema_version", "ledger_orders", "ledger_shipments", "ledger_shipment_items",
        "ledger_history"}


def test_a_file_shared_with_other_tables_is_left_alone(db_path: Path) -> None:
    with sqlite3.connect(db_path) as other:
        other.execute("CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT)")
        other.execute("INSERT INTO sync_state VALUES ('cursor', '42')")
        other.execute("PRAGMA user_version = 5")
    with Ledger(db_path) as ledger:
        assert ledger.state_of(1)["imported"] is False
    with sqlite3.connect(db_path) as other:
        assert other.execute("SELECT value FROM sync_state").fetchall() == [("42",)]
        assert other.execute("PRAGMA user_version").fetchone()[0] == 5
    assert "ledger_orders" in _tables(db_path)


def test_reopening_a_current_file_changes_nothing(db_path: Path) -> None:
    Ledger(db_path).close()
    with sqlite3.connect(db_path) as conn:
        before = conn.execute("SELECT version FROM ledger_schema_version").fetchall()
    Ledger(db_path).close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT version FROM ledger_schema_version").fetchall() == before


TOY = (
    ("CREATE TABLE ledger_toy (id INTEGER PRIMARY KEY)", "INSERT INTO ledger_toy VALUES (1)"),
    ("ALTER TABLE ledger_toy ADD COLUMN name TEXT NOT NULL DEFAULT 'x'",),
    ("CREATE TABLE ledger_toy_more (id INTEGER)", "INSERT INTO ledger_toy VALUES (2, 'y')"),
)


def test_an_older_file_is_migrated_in_order(db_path: Path) -> None:
    connect(db_path, TOY[:1]).close()
    conn = connect(db_path, TOY)
    try:
        assert schema_version(conn) == 3
        assert conn.execute("SELECT id, name FROM ledger_toy ORDER BY id").fetchall() == [
            (1, "x"), (2, "y")]
        assert [r[0] for r in conn.execute("SELECT version FROM ledger_schema_version")] == [
            1, 2, 3]
    finally:
        conn.close()


def test_a_failing_migration_leaves_the_file_at_its_old_version(db_path: Path) -> None:
    connect(db_path, TOY[:1]).close()
    broken = (*TOY[:1], ("ALTER TABLE ledger_toy ADD COLUMN name TEXT", "NOT SQL"))
    with pytest.raises(LedgerError, match="cannot use ledger database"):
        connect(db_path, broken)
    conn = connect(db_path, TOY[:1])
    try:
        assert schema_version(conn) == 1
        columns = [r[1] for r in conn.execute("PRAGMA table_info(ledger_toy)")]
        assert columns == ["id"]
    finally:
        conn.close()


def test_a_file_from_a_newer_version_is_a_clear_error(db_path: Path) -> None:
    Ledger(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO ledger_schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaTooNew) as info:
        Ledger(db_path)
    assert str(info.value) == (
        f"ledger database {db_path} has schema version {SCHEMA_VERSION + 1}, but this rulesync "
        f"knows versions up to {SCHEMA_VERSION}: upgrade rulesync to open it")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some words that fill the header " * 20)
    with pytest.raises(LedgerError, match=f"cannot use ledger database {path}: "):
        Ledger(path)
