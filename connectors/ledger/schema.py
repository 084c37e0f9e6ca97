"""The ledger's tables (SQLite or PostgreSQL, engine/storage/db.py) and their versioned migrations.

The sync engine keeps its own tables in the same database through another connection, so every
table here is prefixed ``ledger_`` and the schema version lives in ``ledger_schema_version``
rather than SQLite's ``PRAGMA user_version`` (one per file, which the other tables could claim).
The statements are written as SQLite spells them; engine/storage/postgres.py translates the types.
"""
from __future__ import annotations

from pathlib import Path

from connectors.ledger.errors import LedgerError, SchemaTooNew
from connectors.ledger.schema_stores import BY_STORE
from engine.errors import DatabaseError
from engine.storage.db import Database
from engine.storage.db import connect as open_database
from engine.storage.migrate import Migrations, Step, Versioned, migrate

DEFAULT_STORE = "default"  # the store of orders when one ledger serves one store

# Each entry is one schema version: the statements that take the file from the previous version
# to this one. Append only; never edit a released entry (files in the field already ran it).
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
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
    BY_STORE,  # version 2: orders keyed by store (connectors/ledger/schema_stores.py)
)

SCHEMA_VERSION = len(MIGRATIONS)
PREPARE = ("CREATE TABLE IF NOT EXISTS ledger_schema_version (version INTEGER NOT NULL)",)


def connect(location: str | Path, migrations: Migrations = MIGRATIONS, *,
            durable: bool = True) -> Database:
    """Open (creating if needed) and migrate the ledger's tables at ``location``: a SQLite file
    or a PostgreSQL URL. Transactions are explicit."""
    try:
        db = open_database(location, "ledger", durable=durable)
    except DatabaseError as exc:
        raise LedgerError(f"cannot {exc.doing} ledger database {exc.where}: {exc.reason}"
                          ) from None
    try:
        migrate(db, versioned(migrations))
    except DatabaseError as exc:
        db.close()
        raise LedgerError(f"cannot use ledger database {db.where}: {exc.reason}") from None
    except BaseException:
        db.close()
        raise
    return db


def _too_new(found: int, known: int, where: str) -> SchemaTooNew:
    return SchemaTooNew(f"ledger database {where} has schema version {found}, but this "
                        f"rulesync knows versions up to {known}: upgrade rulesync to open it")


def versioned(migrations: Migrations = MIGRATIONS) -> Versioned:
    """The ledger's migrations and where its version is kept (engine/storage/migrate.py)."""
    return Versioned(migrations, PREPARE, schema_version, _record, _too_new)


def _record(db: Database, version: int) -> None:
    db.execute("INSERT INTO ledger_schema_version (version) VALUES (?)", (version,))


def schema_version(db: Database) -> int:
    """The version recorded in the database (0 for one the ledger never touched)."""
    if not db.has_table("ledger_schema_version"):
        return 0
    row = db.one("SELECT coalesce(max(version), 0) FROM ledger_schema_version")
    return int(row[0]) if row else 0
