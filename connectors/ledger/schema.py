"""The ledger's SQLite file: connection settings and versioned migrations.

The sync engine may keep its own tables in the same file through another connection, so every
table here is prefixed ``ledger_`` and the schema version lives in ``ledger_schema_version``
rather than ``PRAGMA user_version`` (one per file, which the other tables could claim).
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from connectors.ledger.errors import LedgerError, SchemaTooNew

BUSY_TIMEOUT_MS = 30_000

# Each entry is one schema version: the statements that take the file from the previous version
# to this one. Append only; never edit a released entry (files in the field already ran it).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # version 1
        """CREATE TABLE ledger_orders (
            order_id    INTEGER PRIMARY KEY,
            billed      INTEGER NOT NULL DEFAULT 0 CHECK (billed IN (0, 1)),
            paid        INTEGER NOT NULL DEFAULT 0 CHECK (paid IN (0, 1)),
            packed      INTEGER NOT NULL DEFAULT 0 CHECK (packed IN (0, 1)),
            closed      INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
            void        INTEGER NOT NULL DEFAULT 0 CHECK (void IN (0, 1)),
            refunded    INTEGER NOT NULL DEFAULT 0 CHECK (refunded IN (0, 1)),
            details     TEXT NOT NULL,
            warnings    TEXT NOT NULL DEFAULT '[]',
            imported_at TEXT NOT NULL
        )""",
        """CREATE TABLE ledger_shipments (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id        INTEGER NOT NULL REFERENCES ledger_orders (order_id),
            source_id       TEXT NOT NULL,
            store_id        TEXT,
            order_address_id INTEGER,
            tracking_number TEXT NOT NULL DEFAULT '',
            carrier         TEXT NOT NULL DEFAULT '',
            tracking_link   TEXT NOT NULL DEFAULT '',
            origin          TEXT NOT NULL,
            recorded_at     TEXT NOT NULL,
            UNIQUE (order_id, source_id),
            UNIQUE (order_id, store_id)
        )""",
        """CREATE TABLE ledger_shipment_items (
            shipment_id      INTEGER NOT NULL REFERENCES ledger_shipments (id),
            order_product_id INTEGER NOT NULL,
            product_id       INTEGER,
            sku              TEXT NOT NULL,
            quantity         INTEGER NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (shipment_id, order_product_id)
        )""",
        """CREATE TABLE ledger_history (
            seq      INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id INTEGER NOT NULL REFERENCES ledger_orders (order_id),
            kind     TEXT NOT NULL,
            origin   TEXT NOT NULL CHECK (origin IN ('store', 'user', 'rulesync')),
            note     TEXT NOT NULL DEFAULT '',
            at       TEXT NOT NULL,
            details  TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX ledger_history_by_order ON ledger_history (order_id, seq)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def connect(
    path: str | Path, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the ledger file; transactions are explicit."""
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open ledger database {path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode
        migrate(conn, migrations, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise LedgerError(f"cannot use ledger database {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (persistent, so a no-op once done).

    Switching needs an exclusive lock and SQLite does not call the busy handler for it: two
    processes opening a fresh file at once get "database is locked" at once. So retry here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]], path: object) -> int:
    """Apply the pending migrations in one write transaction; return the file's version.

    BEGIN IMMEDIATE takes the write lock before reading the version, so two processes opening a
    fresh file at once cannot both run the same migration.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS ledger_schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM ledger_schema_version").fetchone()
        current = row[0] or 0
        if current > len(migrations):
            raise SchemaTooNew(
                f"ledger database {path} has schema version {current}, but this rulesync "
                f"knows versions up to {len(migrations)}: upgrade rulesync to open it"
            )
        for version in range(current + 1, len(migrations) + 1):
            for statement in migrations[version - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO ledger_schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return max(current, len(migrations))


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the file (0 for a file the ledger never touched)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_schema_version'"
    ).fetchone()
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM ledger_schema_version").fetchone()[0]
