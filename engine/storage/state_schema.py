"""The sync state's tables and their versioned migrations (engine/storage/migrate.py), on SQLite
and PostgreSQL alike; version 3, every row keyed by its store, is in state_stores.py."""
from __future__ import annotations

from engine.errors import RulesyncError
from engine.storage import db as databases
from engine.storage.db import Database
from engine.storage.migrate import Step, Versioned
from engine.storage.state_stores import BY_STORE

# Each entry takes the file from the previous schema version to this one. Append only, never
# edit a released entry: files in the field already ran it. Version 1 keeps IF NOT EXISTS
# because files written before the version was recorded already have its tables.
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    (  # version 1
        """CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS sync_store_orders (
            order_id INTEGER PRIMARY KEY, status_id INTEGER,
            items_shipped INTEGER NOT NULL DEFAULT 0, date_modified TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE IF NOT EXISTS sync_inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE, order_id INTEGER,
            scope TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
            retry_at REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE IF NOT EXISTS sync_outbox (
            key TEXT PRIMARY KEY, seq INTEGER NOT NULL, order_id INTEGER NOT NULL,
            direction TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL,
            rule_id TEXT NOT NULL, event TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'done', 'noop', 'conflict', 'failed')),
            outcome TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        """CREATE INDEX IF NOT EXISTS sync_outbox_pending ON sync_outbox (status, seq)""",
        """CREATE TABLE IF NOT EXISTS sync_decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL,
            direction TEXT NOT NULL, event_id TEXT NOT NULL, event TEXT NOT NULL,
            rules TEXT NOT NULL, rules_version INTEGER, rules_sha256 TEXT NOT NULL,
            matched TEXT NOT NULL, actions TEXT NOT NULL, no_update TEXT NOT NULL,
            outcome TEXT NOT NULL, at TEXT NOT NULL)""",
        """CREATE INDEX IF NOT EXISTS sync_decisions_order ON sync_decisions (order_id, id)""",
        # One decision per event: a rerun that re-reads the same change does not log it twice.
        """CREATE UNIQUE INDEX IF NOT EXISTS sync_decisions_event
            ON sync_decisions (direction, event_id)""",
    ),
    (  # version 2: the retry set, one row per order and direction that failed (engine/storage/retries.py)
        """CREATE TABLE sync_retries (
            order_id INTEGER NOT NULL, direction TEXT NOT NULL, reason TEXT NOT NULL,
            attempts INTEGER NOT NULL, first_failed_at TEXT NOT NULL,
            last_failed_at TEXT NOT NULL, next_attempt_at REAL NOT NULL,
            PRIMARY KEY (order_id, direction))""",
        """CREATE INDEX sync_retries_due ON sync_retries (next_attempt_at)""",
    ),
    BY_STORE,  # version 3: every row keyed by its store (engine/storage/state_stores.py)
    (  # version 4: a store's newest decisions along an index, not by sorting all of its own
        """CREATE INDEX sync_decisions_recent ON sync_decisions (store, id)""",
    ),
    (  # version 5: the outbox's next sequence number along an index, not by reading it all
        """CREATE INDEX sync_outbox_seq ON sync_outbox (seq)""",
    ),
    (  # version 6: the status a store write is about to set, marked before it is sent
        # (connectors/bigcommerce/actions.py `set_store_status`)
        """ALTER TABLE sync_store_orders ADD COLUMN writing_status INTEGER""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
PREPARE = ("CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",)


def schema_version(db: Database) -> int:
    """The version the state was written with; 0 for a new database."""
    if not db.has_table("sync_meta"):
        return 0
    row = db.one("SELECT value FROM sync_meta WHERE key = 'schema_version'")
    return int(row[0]) if row else 0


def _record(db: Database, version: int) -> None:
    db.execute("INSERT INTO sync_meta (key, value) VALUES ('schema_version', ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))


def _too_new(found: int, known: int, where: str) -> RulesyncError:
    return RulesyncError(f"the state {noun(where)} {where} was written by a newer rulesync "
                         f"(state schema {found}, this one knows {known}): upgrade rulesync")


def noun(where: str) -> str:
    return "database" if databases.is_url(where) else "file"


VERSIONED = Versioned(MIGRATIONS, PREPARE, schema_version, _record, _too_new)
