from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors.ledger import Ledger, LedgerError, SchemaTooNew
from connectors.ledger.schema import MIGRATIONS, SCHEMA_VERSION, connect, schema_version
from engine.storage.db import connect as open_database


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


LEDGER_TABLES = {"ledger_schema_version", "ledger_orders", "ledger_shipments",
                 "ledger_shipment_items", "ledger_history"}


def test_a_new_file_gets_the_whole_schema_in_wal_mode(db_path: Path) -> None:
    db = connect(db_path)
    try:
        assert schema_version(db) == SCHEMA_VERSION == len(MIGRATIONS)
        assert db.one("PRAGMA journal_mode") == ("wal",)
        assert db.one("PRAGMA foreign_keys") == (1,)
        found = db.one("PRAGMA busy_timeout")
        assert found is not None and found[0] >= 5000
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            db.execute("INSERT INTO ledger_history (store, order_id, kind, origin, at) "
                       "VALUES ('default', 404, 'paid', 'user', 'now')")
    finally:
        db.close()
    assert {t for t in _tables(db_path) if not t.startswith("sqlite_")} == LEDGER_TABLES


def test_a_new_database_gets_the_whole_schema(location: str) -> None:
    db = connect(location)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        assert all(db.has_table(name) for name in LEDGER_TABLES)
        with pytest.raises(Exception, match="(?i)foreign key"):
            db.execute("INSERT INTO ledger_history (store, order_id, kind, origin, at) "
                       "VALUES ('default', 404, 'paid', 'user', 'now')")
    finally:
        db.close()


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


def _versions(location: str) -> list[int]:
    db = open_database(location, "test")
    try:
        return [r[0] for r in db.rows("SELECT version FROM ledger_schema_version ORDER BY 1")]
    finally:
        db.close()


def test_reopening_a_current_database_changes_nothing(location: str) -> None:
    Ledger(location).close()
    before = _versions(location)
    Ledger(location).close()
    assert _versions(location) == before == list(range(1, SCHEMA_VERSION + 1))


TOY = (
    ("CREATE TABLE ledger_toy (id INTEGER PRIMARY KEY)", "INSERT INTO ledger_toy VALUES (1)"),
    ("ALTER TABLE ledger_toy ADD COLUMN name TEXT NOT NULL DEFAULT 'x'",),
    ("CREATE TABLE ledger_toy_more (id INTEGER)", "INSERT INTO ledger_toy VALUES (2, 'y')"),
)


def test_an_older_database_is_migrated_in_order(location: str) -> None:
    connect(location, TOY[:1]).close()
    db = connect(location, TOY)
    try:
        assert schema_version(db) == 3
        assert db.rows("SELECT id, name FROM ledger_toy ORDER BY id") == [(1, "x"), (2, "y")]
    finally:
        db.close()
    assert _versions(location) == [1, 2, 3]


def test_a_failing_migration_leaves_the_database_at_its_old_version(location: str) -> None:
    connect(location, TOY[:1]).close()
    broken = (*TOY[:1], ("ALTER TABLE ledger_toy ADD COLUMN name TEXT", "NOT SQL"))
    with pytest.raises(LedgerError, match="cannot use ledger database"):
        connect(location, broken)
    db = connect(location, TOY[:1])
    try:
        assert schema_version(db) == 1
        assert db.rows("SELECT * FROM ledger_toy") == [(1,)]  # the one column, no "name"
    finally:
        db.close()


def test_a_database_from_a_newer_version_is_a_clear_error(location: str) -> None:
    with Ledger(location) as ledger:
        where = ledger.where
    db = open_database(location, "test")
    db.execute("INSERT INTO ledger_schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(SchemaTooNew) as info:
        Ledger(location)
    assert str(info.value) == (
        f"ledger database {where} has schema version {SCHEMA_VERSION + 1}, but this rulesync "
        f"knows versions up to {SCHEMA_VERSION}: upgrade rulesync to open it")
    assert "password" not in where


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some words that fill the header " * 20)
    with pytest.raises(LedgerError, match=f"cannot use ledger database {path}: "):
        Ledger(path)


def test_an_unreachable_server_is_a_clear_error() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    url = "postgresql://rulesync:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(LedgerError) as info:
        Ledger(url)
    message = str(info.value)
    assert message.startswith("cannot connect to ledger database "
                              "postgresql://rulesync@127.0.0.1:1/nowhere: "), message
    assert "s3cret" not in message and "\n" not in message
