"""SQL for the ledger tables: rows in, records out. Callers own the transaction.

Every order is keyed by its store and its id (schema version 2): each function takes the store.
Portable SQL only (engine/storage/db.py): it runs on SQLite and on PostgreSQL alike."""
from __future__ import annotations

import json
from typing import Any

from connectors.ledger.records import HistoryEntry, LedgerOrder, Shipment, ShipmentItem
from engine.storage.db import Database

_ORDER_COLUMNS = "store, order_id, billed, paid, packed, closed, void, refunded, details, warnings, " \
                 "imported_at"
_SHIPMENT_COLUMNS = "id, source_id, store_id, order_address_id, tracking_number, carrier, " \
                    "tracking_link, origin, recorded_at"
_HISTORY_COLUMNS = "seq, order_id, kind, origin, note, at, details"


def _qualified(table: str, columns: str) -> str:
    return ", ".join(f"{table}.{column.strip()}" for column in columns.split(","))


_ITEM_COLUMNS = "order_product_id, sku, quantity, product_id"
_SIZES = (len(_ORDER_COLUMNS.split(",")), len(_SHIPMENT_COLUMNS.split(",")))
# One statement reads orders with their shipments and the shipments' items: one round trip to
# the database, and one consistent view of the three tables without a transaction.
_WHOLE_ORDERS = (
    f"SELECT {_qualified('o', _ORDER_COLUMNS)}, {_qualified('s', _SHIPMENT_COLUMNS)}, "
    f"{_qualified('i', _ITEM_COLUMNS)} FROM ledger_orders o "
    "LEFT JOIN ledger_shipments s ON s.store = o.store AND s.order_id = o.order_id "
    "LEFT JOIN ledger_shipment_items i ON i.shipment_id = s.id WHERE ")
_IN_ORDER = " ORDER BY o.order_id, o.store, s.id, i.order_product_id"


def load_order(db: Database, store: str, order_id: int) -> LedgerOrder | None:
    found = _whole_orders(db, "o.store = ? AND o.order_id = ?", (store, order_id))
    return found[0] if found else None


def load_orders(db: Database, store: str, order_ids: list[int]) -> dict[int, LedgerOrder | None]:
    """`load_order` of each of these orders, in one statement."""
    found: dict[int, LedgerOrder | None] = dict.fromkeys(order_ids)
    if order_ids:
        for order in _whole_orders(db, f"o.store = ? AND o.order_id IN "
                                   f"({', '.join('?' * len(order_ids))})", (store, *order_ids)):
            found[order.order_id] = order
    return found


def list_orders(db: Database, store: str | None, limit: int, offset: int) -> list[LedgerOrder]:
    """Orders by id (and store); `store` None: the orders of every store."""
    where, params = ("", ()) if store is None else ("WHERE store = ? ", (store,))
    return _whole_orders(db, "(o.store, o.order_id) IN (SELECT store, order_id FROM ledger_orders "
                         f"{where}ORDER BY order_id, store LIMIT ? OFFSET ?)",
                         (*params, limit, offset))


def count_orders(db: Database, store: str | None) -> int:
    where, params = ("", ()) if store is None else (" WHERE store = ?", (store,))
    row = db.one(f"SELECT count(*) FROM ledger_orders{where}", params)
    return int(row[0]) if row else 0


def stores_of(db: Database, order_id: int) -> list[str]:
    """The stores that have an order with this id."""
    return [r[0] for r in db.rows("SELECT store FROM ledger_orders WHERE order_id = ? "
                                  "ORDER BY store", (order_id,))]


def _whole_orders(db: Database, where: str, params: tuple[Any, ...]) -> list[LedgerOrder]:
    orders: dict[tuple[str, int], tuple[Any, ...]] = {}
    shipments: dict[tuple[str, int], dict[int, tuple[tuple[Any, ...], list[ShipmentItem]]]] = {}
    for row in db.rows(_WHOLE_ORDERS + where + _IN_ORDER, params):
        order, shipment, item = row[:_SIZES[0]], row[_SIZES[0]:sum(_SIZES)], row[sum(_SIZES):]
        key = (order[0], order[1])
        orders.setdefault(key, order)
        found = shipments.setdefault(key, {})
        if shipment[0] is not None:
            items = found.setdefault(shipment[0], (shipment, []))[1]
            if item[0] is not None:
                items.append(ShipmentItem(*item))
    return [_order(row, tuple(_shipment(key[1], shipment, tuple(items))
                              for shipment, items in shipments[key].values()))
            for key, row in orders.items()]


def _order(row: tuple[Any, ...], shipments: tuple[Shipment, ...]) -> LedgerOrder:
    store, order_id, billed, paid, packed, closed, void, refunded, details, warnings, \
        imported_at = row
    d = json.loads(details)
    return LedgerOrder(
        store=store,
        order_id=order_id, billed=bool(billed), paid=bool(paid), packed=bool(packed),
        closed=bool(closed), void=bool(void), refunded=bool(refunded), imported_at=imported_at,
        line_items=tuple(d["line_items"]), customer=d["customer"],
        billing_address=d["billing_address"], shipping_address=d["shipping_address"],
        totals=d["totals"], customer_message=d["customer_message"],
        staff_notes=d["staff_notes"], store_status_id=d["store_status_id"],
        store_status=d["store_status"], shipments=shipments,
        warnings=tuple(json.loads(warnings)),
    )


def _shipment(order_id: int, row: tuple[Any, ...], items: tuple[ShipmentItem, ...]) -> Shipment:
    _, source_id, store_id, address_id, tracking, carrier, link, origin, recorded_at = row
    return Shipment(id=source_id, order_id=order_id, tracking_number=tracking, carrier=carrier,
                    tracking_link=link, origin=origin, recorded_at=recorded_at, items=items,
                    order_address_id=address_id, store_id=store_id)


def find_shipment(db: Database, store: str, order_id: int, shipment_id: str
                  ) -> Shipment | None:
    """The shipment recorded under this source id, or linked to this store shipment id."""
    row = db.one(f"SELECT {_SHIPMENT_COLUMNS} FROM ledger_shipments WHERE store = ? AND "
                 "order_id = ? AND (source_id = ? OR store_id = ?) ORDER BY id LIMIT 1",
                 (store, order_id, shipment_id, shipment_id))
    if row is None:
        return None
    items = db.rows(f"SELECT {_ITEM_COLUMNS} FROM ledger_shipment_items WHERE shipment_id = ? "
                    "ORDER BY order_product_id", (row[0],))
    return _shipment(order_id, row, tuple(ShipmentItem(*item) for item in items))


def insert_order(db: Database, store: str, order_id: int, details: dict[str, Any],
                 warnings: list[str], at: str) -> bool:
    return db.execute("INSERT INTO ledger_orders (store, order_id, billed, details, warnings, "
                      "imported_at) VALUES (?, ?, 1, ?, ?, ?) "
                      "ON CONFLICT (store, order_id) DO NOTHING",
                      (store, order_id, json.dumps(details), json.dumps(warnings), at)) == 1


def set_flag(db: Database, store: str, order_id: int, flag: str) -> None:
    """With the transaction's next statement or its COMMIT. ``flag`` comes from
    records.FLAGS, never from input."""
    db.defer(f"UPDATE ledger_orders SET {flag} = 1 WHERE store = ? AND order_id = ?",
               (store, order_id))


def insert_shipment(db: Database, store: str, shipment: Shipment) -> str:
    """Insert the shipment; a source id of "" becomes "L-<n>" (n: the row id). Returns it."""
    rowid = db.insert(
        "INSERT INTO ledger_shipments (store, order_id, source_id, store_id, order_address_id, "
        "tracking_number, carrier, tracking_link, origin, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (store, shipment.order_id, shipment.id or "", shipment.store_id, shipment.order_address_id,
         shipment.tracking_number, shipment.carrier, shipment.tracking_link, shipment.origin,
         shipment.recorded_at), "id")
    source_id = shipment.id or f"L-{rowid}"
    if not shipment.id:
        db.execute("UPDATE ledger_shipments SET source_id = ? WHERE id = ?", (source_id, rowid))
    db.executemany(
        "INSERT INTO ledger_shipment_items (shipment_id, order_product_id, sku, quantity, "
        "product_id) VALUES (?, ?, ?, ?, ?)",
        [(rowid, i.order_product_id, i.sku, i.quantity, i.product_id) for i in shipment.items])
    return source_id


def delete_shipment(db: Database, store: str, order_id: int, source_id: str) -> None:
    db.execute("DELETE FROM ledger_shipment_items WHERE shipment_id IN (SELECT id FROM "
               "ledger_shipments WHERE store = ? AND order_id = ? AND source_id = ?)",
               (store, order_id, source_id))
    db.execute("DELETE FROM ledger_shipments WHERE store = ? AND order_id = ? AND source_id = ?",
               (store, order_id, source_id))


def link_store_id(db: Database, store: str, order_id: int, source_id: str,
                  store_id: str) -> None:
    db.execute("UPDATE ledger_shipments SET store_id = ? WHERE store = ? AND order_id = ? "
               "AND source_id = ?", (store_id, store, order_id, source_id))


def add_history(db: Database, store: str, entry: HistoryEntry) -> None:
    """Append to the history (the outbound change feed), with the transaction's next statement
    or its COMMIT (nothing waits for the new sequence number)."""
    db.defer("INSERT INTO ledger_history (store, order_id, kind, origin, note, at, details) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)",
             (store, entry.order_id, entry.kind, entry.origin, entry.note, entry.at,
              json.dumps(entry.details, sort_keys=True)))


def history(db: Database, where: str, params: tuple[Any, ...]) -> list[HistoryEntry]:
    rows = db.rows(f"SELECT {_HISTORY_COLUMNS} FROM ledger_history WHERE {where}", params)
    return [HistoryEntry(seq, oid, kind, origin, note, at, json.loads(details))
            for seq, oid, kind, origin, note, at, details in rows]


def last_seq(db: Database, store: str) -> int:
    row = db.one("SELECT coalesce(max(seq), 0) FROM ledger_history WHERE store = ?", (store,))
    return int(row[0]) if row else 0
