"""Ledger schema version 2: every order keyed by its store, so one ledger holds the orders of
several stores (two stores may both have an order 101).

Neither database can change a primary key in place the same way, so each table is rebuilt: made
anew under a `_v2` name with `store` in its keys, filled from the old one (every existing row
belongs to the store `default`, the one store of a configuration that names none), the old
tables dropped children first, and the new ones renamed. Generated ids and history sequence
numbers are kept as they were: the sync state holds history positions, and a shipment made in
the ledger is named after its id ("L-<n>").
"""
from __future__ import annotations

from engine.storage.db import Database
from engine.storage.migrate import Step

FLAGS = ("billed", "paid", "packed", "closed", "void", "refunded")
ORDER_COLUMNS = ("order_id", *FLAGS, "details", "warnings", "imported_at")
SHIPMENT_COLUMNS = ("id", "order_id", "source_id", "store_id", "order_address_id",
                    "tracking_number", "carrier", "tracking_link", "origin", "recorded_at")
ITEM_COLUMNS = ("shipment_id", "order_product_id", "product_id", "sku", "quantity")
HISTORY_COLUMNS = ("seq", "order_id", "kind", "origin", "note", "at", "details")


def _copy(table: str, columns: tuple[str, ...], store: bool = True) -> str:
    names = ", ".join(columns)
    if not store:
        return f"INSERT INTO {table}_v2 ({names}) SELECT {names} FROM {table}"
    return f"INSERT INTO {table}_v2 (store, {names}) SELECT 'default', {names} FROM {table}"


def _continue(table: str, column: str) -> Step:
    def step(db: Database) -> None:
        db.continue_identity(f"{table}_v2", table, column)
    return step


TABLES = ("ledger_orders", "ledger_shipments", "ledger_shipment_items", "ledger_history")
flag_columns = "".join(f"{flag} INTEGER NOT NULL DEFAULT 0 CHECK ({flag} IN (0, 1)), "
                       for flag in FLAGS)

BY_STORE: tuple[Step, ...] = (
    f"""CREATE TABLE ledger_orders_v2 (
        store TEXT NOT NULL, order_id INTEGER NOT NULL, {flag_columns}
        details TEXT NOT NULL, warnings TEXT NOT NULL DEFAULT '[]', imported_at TEXT NOT NULL,
        PRIMARY KEY (store, order_id))""",
    _copy("ledger_orders", ORDER_COLUMNS),
    """CREATE TABLE ledger_shipments_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT, store TEXT NOT NULL, order_id INTEGER NOT NULL,
        source_id TEXT NOT NULL, store_id TEXT, order_address_id INTEGER,
        tracking_number TEXT NOT NULL DEFAULT '', carrier TEXT NOT NULL DEFAULT '',
        tracking_link TEXT NOT NULL DEFAULT '', origin TEXT NOT NULL, recorded_at TEXT NOT NULL,
        FOREIGN KEY (store, order_id) REFERENCES ledger_orders_v2 (store, order_id),
        UNIQUE (store, order_id, source_id), UNIQUE (store, order_id, store_id))""",
    _copy("ledger_shipments", SHIPMENT_COLUMNS),
    _continue("ledger_shipments", "id"),
    """CREATE TABLE ledger_shipment_items_v2 (
        shipment_id INTEGER NOT NULL REFERENCES ledger_shipments_v2 (id),
        order_product_id INTEGER NOT NULL, product_id INTEGER, sku TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (shipment_id, order_product_id))""",
    _copy("ledger_shipment_items", ITEM_COLUMNS, store=False),
    """CREATE TABLE ledger_history_v2 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, store TEXT NOT NULL, order_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('store', 'user', 'rulesync')),
        note TEXT NOT NULL DEFAULT '', at TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}',
        FOREIGN KEY (store, order_id) REFERENCES ledger_orders_v2 (store, order_id))""",
    _copy("ledger_history", HISTORY_COLUMNS),
    _continue("ledger_history", "seq"),
    # Children first: dropping a table still referenced is refused (foreign keys are on).
    *(f"DROP TABLE {table}" for table in reversed(TABLES)),
    *(f"ALTER TABLE {table}_v2 RENAME TO {table}" for table in TABLES),
    "CREATE INDEX ledger_history_by_order ON ledger_history (store, order_id, seq)",
    # Each store's outbound change feed reads its own entries in sequence order.
    "CREATE INDEX ledger_history_by_store ON ledger_history (store, seq)",
)
