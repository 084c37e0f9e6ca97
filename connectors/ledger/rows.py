"""SQL for the ledger tables: rows in, records out. Callers own the transaction."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from connectors.ledger.records import HistoryEntry, LedgerOrder, Shipment, ShipmentItem

_ORDER_COLUMNS = "order_id, billed, paid, packed, closed, void, refunded, details, warnings, " \
                 "imported_at"
_SHIPMENT_COLUMNS = "id, source_id, store_id, order_address_id, tracking_number, carrier, " \
                    "tracking_link, origin, recorded_at"
_HISTORY_COLUMNS = "seq, order_id, kind, origin, note, at, details"


def load_order(conn: sqlite3.Connection, order_id: int) -> LedgerOrder | None:
    row = conn.execute(f"SELECT {_ORDER_COLUMNS} FROM ledger_orders WHERE order_id = ?",
                       (order_id,)).fetchone()
    return None if row is None else _order(conn, row)


def list_orders(conn: sqlite3.Connection, limit: int, offset: int) -> list[LedgerOrder]:
    rows = conn.execute(f"SELECT {_ORDER_COLUMNS} FROM ledger_orders ORDER BY order_id "
                        "LIMIT ? OFFSET ?", (limit, offset)).fetchall()
    return [_order(conn, row) for row in rows]


def _order(conn: sqlite3.Connection, row: tuple[Any, ...]) -> LedgerOrder:
    order_id, billed, paid, packed, closed, void, refunded, details, warnings, imported_at = row
    d = json.loads(details)
    return LedgerOrder(
        order_id=order_id, billed=bool(billed), paid=bool(paid), packed=bool(packed),
        closed=bool(closed), void=bool(void), refunded=bool(refunded), imported_at=imported_at,
        line_items=tuple(d["line_items"]), customer=d["customer"],
        billing_address=d["billing_address"], shipping_address=d["shipping_address"],
        totals=d["totals"], customer_message=d["customer_message"],
        staff_notes=d["staff_notes"], store_status_id=d["store_status_id"],
        store_status=d["store_status"], shipments=load_shipments(conn, order_id),
        warnings=tuple(json.loads(warnings)),
    )


def load_shipments(conn: sqlite3.Connection, order_id: int) -> tuple[Shipment, ...]:
    rows = conn.execute(f"SELECT {_SHIPMENT_COLUMNS} FROM ledger_shipments WHERE order_id = ? "
                        "ORDER BY id", (order_id,)).fetchall()
    return tuple(_shipment(conn, order_id, row) for row in rows)


def _shipment(conn: sqlite3.Connection, order_id: int, row: tuple[Any, ...]) -> Shipment:
    rowid, source_id, store_id, address_id, tracking, carrier, link, origin, recorded_at = row
    items = conn.execute("SELECT order_product_id, sku, quantity, product_id "
                         "FROM ledger_shipment_items WHERE shipment_id = ? "
                         "ORDER BY order_product_id", (rowid,)).fetchall()
    return Shipment(id=source_id, order_id=order_id, tracking_number=tracking, carrier=carrier,
                    tracking_link=link, origin=origin, recorded_at=recorded_at,
                    items=tuple(ShipmentItem(*item) for item in items),
                    order_address_id=address_id, store_id=store_id)


def find_shipment(conn: sqlite3.Connection, order_id: int, shipment_id: str) -> Shipment | None:
    """The shipment recorded under this source id, or linked to this store shipment id."""
    row = conn.execute(f"SELECT {_SHIPMENT_COLUMNS} FROM ledger_shipments WHERE order_id = ?1 "
                       "AND (source_id = ?2 OR store_id = ?2) ORDER BY id LIMIT 1",
                       (order_id, shipment_id)).fetchone()
    return None if row is None else _shipment(conn, order_id, row)


def insert_order(conn: sqlite3.Connection, order_id: int, details: dict[str, Any],
                 warnings: list[str], at: str) -> bool:
    cur = conn.execute("INSERT INTO ledger_orders (order_id, billed, details, warnings, "
                       "imported_at) VALUES (?, 1, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                       (order_id, json.dumps(details), json.dumps(warnings), at))
    return cur.rowcount == 1


def set_flag(conn: sqlite3.Connection, order_id: int, flag: str) -> None:
    # ``flag`` comes from records.FLAGS, never from input.
    conn.execute(f"UPDATE ledger_orders SET {flag} = 1 WHERE order_id = ?", (order_id,))


def insert_shipment(conn: sqlite3.Connection, shipment: Shipment) -> str:
    """Insert the shipment; a source id of "" becomes "L-<n>" (n: the row id). Returns it."""
    cur = conn.execute(
        "INSERT INTO ledger_shipments (order_id, source_id, store_id, order_address_id, "
        "tracking_number, carrier, tracking_link, origin, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (shipment.order_id, shipment.id or "", shipment.store_id, shipment.order_address_id,
         shipment.tracking_number, shipment.carrier, shipment.tracking_link, shipment.origin,
         shipment.recorded_at))
    rowid = cur.lastrowid
    source_id = shipment.id or f"L-{rowid}"
    if not shipment.id:
        conn.execute("UPDATE ledger_shipments SET source_id = ? WHERE id = ?", (source_id, rowid))
    conn.executemany(
        "INSERT INTO ledger_shipment_items (shipment_id, order_product_id, sku, quantity, "
        "product_id) VALUES (?, ?, ?, ?, ?)",
        [(rowid, i.order_product_id, i.sku, i.quantity, i.product_id) for i in shipment.items])
    return source_id


def delete_shipment(conn: sqlite3.Connection, order_id: int, source_id: str) -> None:
    conn.execute("DELETE FROM ledger_shipment_items WHERE shipment_id IN (SELECT id FROM "
                 "ledger_shipments WHERE order_id = ? AND source_id = ?)", (order_id, source_id))
    conn.execute("DELETE FROM ledger_shipments WHERE order_id = ? AND source_id = ?",
                 (order_id, source_id))


def link_store_id(conn: sqlite3.Connection, order_id: int, source_id: str, store_id: str) -> None:
    conn.execute("UPDATE ledger_shipments SET store_id = ? WHERE order_id = ? AND source_id = ?",
                 (store_id, order_id, source_id))


def add_history(conn: sqlite3.Connection, entry: HistoryEntry) -> int:
    """Append to the history (the outbound change feed); returns the new sequence number."""
    cur = conn.execute("INSERT INTO ledger_history (order_id, kind, origin, note, at, details) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (entry.order_id, entry.kind, entry.origin, entry.note, entry.at,
                        json.dumps(entry.details, sort_keys=True)))
    return int(cur.lastrowid or 0)


def history(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[HistoryEntry]:
    rows = conn.execute(f"SELECT {_HISTORY_COLUMNS} FROM ledger_history WHERE {where}",
                        params).fetchall()
    return [HistoryEntry(seq, oid, kind, origin, note, at, json.loads(details))
            for seq, oid, kind, origin, note, at, details in rows]


def last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_history").fetchone()[0])
