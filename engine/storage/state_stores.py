"""Sync state schema version 3: every row keyed by its store, so one state serves several stores
(two stores may both have an order 101, and both send deliveries with the same hash).

A primary key or an inline UNIQUE cannot be changed in place the same way on both databases, so
those tables are rebuilt: made anew under a `_v3` name with `store` in their keys, filled from
the old one (every existing row belongs to the store `default`, the one store of a configuration
that names none), the old table dropped and the new one renamed. The decision log only gains a
column and new indexes. Generated ids are kept, so nothing that refers to one moves.

Cursors and other values in `sync_meta` are scoped by their key instead (engine/storage/state.py,
`meta_key`): the default store's keep their names, so they need no migration.
"""
from __future__ import annotations

from engine.storage.db import Database
from engine.storage.migrate import Step

STORE = "store TEXT NOT NULL DEFAULT 'default'"


def _rebuild(table: str, create: str, columns: str, *, identity: str = "") -> tuple[Step, ...]:
    def continue_identity(db: Database) -> None:
        db.continue_identity(f"{table}_v3", table, identity)

    return (f"CREATE TABLE {table}_v3 ({create})",
            f"INSERT INTO {table}_v3 (store, {columns}) SELECT 'default', {columns} FROM {table}",
            *((continue_identity,) if identity else ()),
            f"DROP TABLE {table}",
            f"ALTER TABLE {table}_v3 RENAME TO {table}")


BY_STORE: tuple[Step, ...] = (
    *_rebuild("sync_store_orders", f"""
        {STORE}, order_id INTEGER NOT NULL, status_id INTEGER,
        items_shipped INTEGER NOT NULL DEFAULT 0, date_modified TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (store, order_id)""",
              "order_id, status_id, items_shipped, date_modified"),
    *_rebuild("sync_inbox", f"""
        id INTEGER PRIMARY KEY AUTOINCREMENT, {STORE}, hash TEXT NOT NULL,
        order_id INTEGER, scope TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
        retry_at REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
        UNIQUE (store, hash)""",
              "id, hash, order_id, scope, payload, received_at, done, attempts, retry_at, "
              "last_error", identity="id"),
    "CREATE INDEX sync_inbox_pending ON sync_inbox (store, done, id)",
    *_rebuild("sync_outbox", f"""
        {STORE}, key TEXT NOT NULL, seq INTEGER NOT NULL, order_id INTEGER NOT NULL,
        direction TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL,
        rule_id TEXT NOT NULL, event TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'done', 'noop', 'conflict', 'failed')),
        outcome TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (store, key)""",
              "key, seq, order_id, direction, action, params, rule_id, event, status, outcome, "
              "attempts, created_at, updated_at"),
    "CREATE INDEX sync_outbox_pending ON sync_outbox (store, status, seq)",
    *_rebuild("sync_retries", f"""
        {STORE}, order_id INTEGER NOT NULL, direction TEXT NOT NULL, reason TEXT NOT NULL,
        attempts INTEGER NOT NULL, first_failed_at TEXT NOT NULL,
        last_failed_at TEXT NOT NULL, next_attempt_at REAL NOT NULL,
        PRIMARY KEY (store, order_id, direction)""",
              "order_id, direction, reason, attempts, first_failed_at, last_failed_at, "
              "next_attempt_at"),
    "CREATE INDEX sync_retries_due ON sync_retries (store, next_attempt_at)",
    f"ALTER TABLE sync_decisions ADD COLUMN {STORE}",
    "DROP INDEX sync_decisions_event",
    "DROP INDEX sync_decisions_order",
    # One decision per event and store: a rerun that re-reads a change does not log it twice.
    "CREATE UNIQUE INDEX sync_decisions_event ON sync_decisions (store, direction, event_id)",
    "CREATE INDEX sync_decisions_order ON sync_decisions (store, order_id, id)",
)
