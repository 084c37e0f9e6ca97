"""The ledger: the built-in OMS, in a SQLite file or a PostgreSQL database, one short
transaction per public method.

Every mutation is idempotent and returns whether it changed anything; a change appends one
history entry whose sequence number is the outbound change feed (``changes_since``).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from connectors.ledger import changes, details, policy, quantities, records, rows
from connectors.ledger.errors import Conflict, LedgerError, UnknownOrder
from connectors.ledger.records import HistoryEntry, LedgerOrder, Shipment
from connectors.ledger.schema import DEFAULT_STORE, connect
from engine.language.effects import ActionCall, Outcome
from engine.storage.db import Database


class Ledger:
    """The order book. ``Ledger(location)`` or ``Ledger.open(location)``, where the location is
    a SQLite file's path or a ``postgresql://`` URL; close it, or use ``with``."""

    def __init__(self, location: str | Path, store: str = DEFAULT_STORE, *,
                 durable: bool = True) -> None:
        """``durable=False`` (the sync's own ledger): on PostgreSQL a commit need not wait for
        the disk, since a change the sync made from the store is made again by the next run if
        a server crash loses it. A person's changes always wait (engine/storage/db.py)."""
        self._db: Database | None = connect(location, durable=durable)
        self.where, self.store = self._db.where, store

    @classmethod
    def open(cls, location: str | Path, store: str = DEFAULT_STORE) -> Ledger:
        return cls(location, store)

    def close(self) -> None:
        """Close the database connection (not an order: see ``close_order``)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- reading: one statement each, which sees one consistent state on its own ------------

    def get(self, order_id: int | str) -> LedgerOrder | None:
        with self._reading() as conn:
            return rows.load_order(conn, self.store, details.order_key(order_id))

    def get_many(self, order_ids: list[int]) -> dict[int, LedgerOrder | None]:
        """`get` of each of these orders, in one read (an OMS may offer it: engine/connect/ports.py)."""
        with self._reading() as conn:
            return rows.load_orders(conn, self.store, [details.order_key(i) for i in order_ids])

    def state_of(self, order_id: int | str) -> dict[str, Any]:
        """The state rules read (docs/formats.md); the not-imported state for an unknown order."""
        order = self.get(order_id)
        return records.not_imported_state() if order is None else order.state()

    def list_orders(self, limit: int = 50, offset: int = 0, *, every_store: bool = False
                    ) -> list[LedgerOrder]:
        """This store's orders by id; with `every_store`, the orders of all stores."""
        with self._reading() as conn:
            return rows.list_orders(conn, None if every_store else self.store, limit, offset)

    def count_orders(self, *, every_store: bool = False) -> int:
        with self._reading() as conn:
            return rows.count_orders(conn, None if every_store else self.store)

    def stores_of(self, order_id: int | str) -> list[str]:
        """The stores, of all those in this ledger, that have an order with this id."""
        with self._reading() as conn:
            return rows.stores_of(conn, details.order_key(order_id))

    def history(self, order_id: int | str) -> list[HistoryEntry]:
        with self._reading() as conn:
            return rows.history(conn, "store = ? AND order_id = ? ORDER BY seq",
                                (self.store, details.order_key(order_id)))

    def changes_since(self, seq: int, limit: int = 100) -> list[HistoryEntry]:
        """History entries after ``seq``, oldest first: what the outbound sync has not seen."""
        with self._reading() as conn:
            return rows.history(conn, "store = ? AND seq > ? ORDER BY seq LIMIT ?",
                                (self.store, seq, limit))

    def last_seq(self) -> int:
        with self._reading() as conn:
            return rows.last_seq(conn, self.store)

    # -- changing ------------------------------------------------------------------------

    def execute(self, call: ActionCall) -> Outcome:
        """One inbound action (connectors/ledger/actions.py): the engine's way in."""
        from connectors.ledger import actions  # which builds on this class

        return actions.execute(self, call)

    def import_order(self, order: Mapping[str, Any], *, origin: str, note: str = "",
                     at: datetime | None = None) -> bool:
        """Import a normalized store order as billed; False if it was already imported."""
        order_id, captured, warnings = details.capture(order)
        entry = changes.new_entry(order_id, "imported", origin, note, at, {
            "store_status_id": captured["store_status_id"], "warnings": warnings})
        with self._transaction() as conn:
            if not rows.insert_order(conn, self.store, order_id, captured, warnings, entry.at):
                return False
            rows.add_history(conn, self.store, entry)
        return True

    def mark_paid(self, order_id: int | str, *, origin: str, note: str = "",
                  at: datetime | None = None) -> bool:
        return self._set_flag(order_id, "paid", "mark paid", "paid", origin, note, at)

    def mark_packed(self, order_id: int | str, *, origin: str, note: str = "",
                    at: datetime | None = None) -> bool:
        return self._set_flag(order_id, "packed", "mark packed", "packed", origin, note, at)

    def close_order(self, order_id: int | str, *, origin: str, note: str = "",
                    at: datetime | None = None) -> bool:
        return self._set_flag(order_id, "closed", "close", "closed", origin, note, at)

    def void(self, order_id: int | str, *, origin: str, note: str = "",
             at: datetime | None = None) -> bool:
        return self._set_flag(order_id, "void", "void", "voided", origin, note, at)

    def refund(self, order_id: int | str, *, origin: str, note: str = "",
               at: datetime | None = None) -> bool:
        return self._set_flag(order_id, "refunded", "refund", "refunded", origin, note, at)

    def record_shipment(self, order_id: int | str, shipment: Mapping[str, Any], *, origin: str,
                        note: str = "", at: datetime | None = None) -> bool:
        """Record a normalized shipment once per source id (the store's shipment id)."""
        key = details.order_key(order_id)
        source_id = str(shipment.get("id") or "")
        if not source_id:
            raise LedgerError(f"order {key}: a shipment needs its source \"id\"")
        entry = changes.new_entry(key, "shipment_recorded", origin, note, at, {})
        with self._transaction() as conn:
            if rows.find_shipment(conn, self.store, key, source_id) is not None:
                return False
            order = self._require(conn, key)
            policy.ensure_allowed(order, "record a shipment")
            items = quantities.resolve_items(order, shipment.get("items"), source_id)
            store_id = source_id if origin == "store" else None
            made = changes.new_shipment(order, source_id, shipment, items, entry, store_id)
            self._add_shipment(conn, entry, made)
        return True

    def remove_shipment(self, order_id: int | str, source_id: str, *, origin: str,
                        note: str = "", at: datetime | None = None) -> bool:
        """Forget a shipment the store deleted (how BigCommerce changes a shipment's items or
        fixes a tracking number: delete, then create again). Only shipments that came from the
        store; one made in the ledger is the ledger's to keep. False if it is not here."""
        key = details.order_key(order_id)
        with self._transaction() as conn:
            shipment = rows.find_shipment(conn, self.store, key, str(source_id))
            if shipment is None:
                return False
            if shipment.origin != "store":
                raise Conflict(key, "remove shipment", f"shipment {shipment.id} was made in the "
                               "ledger; a deletion in the store does not remove it")
            rows.delete_shipment(conn, self.store, key, shipment.id)
            rows.add_history(conn, self.store, changes.new_entry(key, "shipment_removed", origin, note, at,
                                                     shipment.as_dict()))
        return True

    def ship(self, order_id: int | str, tracking_number: str, carrier: str,
             items: Mapping[str, int] | None = None, *, origin: str = "user", note: str = "",
             at: datetime | None = None, tracking_link: str = "") -> dict[str, Any]:
        """Make a shipment in the ledger (``items``: units by sku; None ships all that is left).

        Returns it as a normalized shipment whose id is a new source id "L-<n>".
        """
        key = details.order_key(order_id)
        entry = changes.new_entry(key, "shipment_recorded", origin, note, at, {})
        fields = {"tracking_number": tracking_number, "carrier": carrier,
                  "tracking_link": tracking_link}
        with self._transaction() as conn:
            order = self._require(conn, key)
            policy.ensure_allowed(order, "record a shipment")
            chosen = quantities.allocate(order, items)
            made = changes.new_shipment(order, "", fields, chosen, entry)
            made = self._add_shipment(conn, entry, made)
        return made.as_dict()

    def link_store_shipment(self, order_id: int | str, source_id: str, store_id: int | str, *,
                            origin: str = "rulesync", note: str = "",
                            at: datetime | None = None) -> bool:
        """Remember the store shipment made from ledger shipment ``source_id``, so that reading
        it back from the store is recognised as already recorded (no ping-pong)."""
        key, store_key = details.order_key(order_id), str(store_id)
        entry = changes.new_entry(key, "shipment_linked", origin, note, at,
                       {"id": source_id, "store_id": store_key})
        with self._transaction() as conn:
            shipment = rows.find_shipment(conn, self.store, key, source_id)
            if shipment is None or shipment.id != source_id:
                raise LedgerError(f"order {key}: no shipment {source_id!r} in the ledger")
            if shipment.store_id == store_key:
                return False
            taken = rows.find_shipment(conn, self.store, key, store_key)
            if shipment.store_id is not None or taken is not None:
                raise LedgerError(f"order {key}: cannot link shipment {source_id!r} to store "
                                  f"shipment {store_key}: one of them is already linked")
            rows.link_store_id(conn, self.store, key, source_id, store_key)
            rows.add_history(conn, self.store, entry)
        return True

    # -- internals -----------------------------------------------------------------------

    def _set_flag(self, order_id: int | str, flag: str, action: str, kind: str, origin: str,
                  note: str, at: datetime | None) -> bool:
        key = details.order_key(order_id)
        entry = changes.new_entry(key, kind, origin, note, at, {})
        with self._transaction() as conn:
            order = self._require(conn, key)
            if getattr(order, flag):
                return False
            policy.ensure_allowed(order, action)
            rows.set_flag(conn, self.store, key, flag)
            rows.add_history(conn, self.store, entry)
        return True

    def _add_shipment(self, conn: Database, entry: HistoryEntry,
                      shipment: Shipment) -> Shipment:
        source_id = rows.insert_shipment(conn, self.store, shipment)
        made = replace(shipment, id=source_id)
        rows.add_history(conn, self.store, replace(entry, details=made.as_dict()))
        return made

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        """One short write transaction. It takes the write lock up front (engine/storage/sqlite.py,
        postgres.py), so a second process waits for it instead of failing to upgrade a read
        lock, and history
        entries become visible in the order of their sequence numbers."""
        with self._reading() as db, db.transaction():
            yield db

    @contextmanager
    def _reading(self) -> Iterator[Database]:
        if self._db is None:
            raise LedgerError(f"the ledger {self.where} is closed")
        yield self._db

    def _require(self, conn: Database, order_id: int) -> LedgerOrder:
        order = rows.load_order(conn, self.store, order_id)
        if order is None:
            raise UnknownOrder(order_id)
        return order
