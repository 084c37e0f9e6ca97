"""The ledger's records: frozen views of an order, its shipments and its history."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ORIGINS = ("store", "user", "rulesync")
SHIPPED_NONE, SHIPPED_PARTIAL, SHIPPED_COMPLETE = "none", "partial", "complete"
FLAGS = ("billed", "paid", "packed", "closed", "void", "refunded")


def not_imported_state() -> dict[str, Any]:
    """The state of an order the ledger has never imported (docs/formats.md, "State")."""
    return {"imported": False, "billed": False, "paid": False, "packed": False,
            "shipped": SHIPPED_NONE, "closed": False, "void": False, "refunded": False}


@dataclass(frozen=True)
class ShipmentItem:
    order_product_id: int
    sku: str
    quantity: int
    product_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"order_product_id": self.order_product_id, "product_id": self.product_id,
                "sku": self.sku, "quantity": self.quantity}


@dataclass(frozen=True)
class Shipment:
    """A shipment: ``id`` is its source id (the store's shipment id, or "L-<n>" if made here)."""

    id: str
    order_id: int
    tracking_number: str
    carrier: str
    tracking_link: str
    origin: str
    recorded_at: str
    items: tuple[ShipmentItem, ...]
    order_address_id: int | None = None
    store_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The normalized shipment shape, plus who recorded it and its store id once known."""
        return {"id": self.id, "order_id": self.order_id, "order_address_id": self.order_address_id,
                "tracking_number": self.tracking_number, "carrier": self.carrier,
                "tracking_link": self.tracking_link, "date_created": self.recorded_at,
                "items": [item.as_dict() for item in self.items],
                "origin": self.origin, "store_id": self.store_id}


def shipped_quantities(shipments: Iterable[Shipment]) -> dict[int, int]:
    """Units shipped so far, by order-product id."""
    totals: dict[int, int] = {}
    for shipment in shipments:
        for item in shipment.items:
            totals[item.order_product_id] = totals.get(item.order_product_id, 0) + item.quantity
    return totals


def shipped_status(line_items: Iterable[dict[str, Any]], shipments: Iterable[Shipment]) -> str:
    """none | partial | complete, from the shipped quantities against the ordered ones."""
    shipped = shipped_quantities(shipments)
    if not any(shipped.values()):
        return SHIPPED_NONE
    for line in line_items:
        if shipped.get(int(line["id"]), 0) < int(line.get("quantity", 0)):
            return SHIPPED_PARTIAL
    return SHIPPED_COMPLETE


@dataclass(frozen=True)
class LedgerOrder:
    """One ledger order: its flags, the details captured at import, shipments and warnings."""

    order_id: int
    billed: bool
    paid: bool
    packed: bool
    closed: bool
    void: bool
    refunded: bool
    imported_at: str
    line_items: tuple[dict[str, Any], ...] = ()
    customer: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None
    totals: dict[str, Any] = field(default_factory=dict)
    customer_message: str = ""
    staff_notes: str = ""
    store_status_id: int | None = None
    store_status: str = ""
    shipments: tuple[Shipment, ...] = ()
    warnings: tuple[str, ...] = ()
    store: str = "default"  # the store it came from (one ledger may hold several stores)

    @property
    def shipped(self) -> str:
        return shipped_status(self.line_items, self.shipments)

    def remaining(self) -> dict[int, int]:
        """Units still to ship, by order-product id (only lines with something left)."""
        shipped = shipped_quantities(self.shipments)
        left = {int(line["id"]): int(line.get("quantity", 0)) - shipped.get(int(line["id"]), 0)
                for line in self.line_items}
        return {opid: qty for opid, qty in left.items() if qty > 0}

    def state(self) -> dict[str, Any]:
        """The state shape of docs/formats.md that rules read."""
        return {"imported": True, "billed": self.billed, "paid": self.paid, "packed": self.packed,
                "shipped": self.shipped, "closed": self.closed, "void": self.void,
                "refunded": self.refunded}

    def as_dict(self) -> dict[str, Any]:
        """Everything the ledger knows about the order, JSON-ready (``orders show --json``)."""
        state = self.state()
        del state["imported"]
        return {
            "order_id": self.order_id, "store": self.store, "state": state,
            "line_items": [dict(line) for line in self.line_items],
            "customer": self.customer, "billing_address": self.billing_address,
            "shipping_address": self.shipping_address, "totals": dict(self.totals),
            "customer_message": self.customer_message, "staff_notes": self.staff_notes,
            "store_status_id": self.store_status_id, "store_status": self.store_status,
            "shipments": [shipment.as_dict() for shipment in self.shipments],
            "warnings": list(self.warnings), "imported_at": self.imported_at,
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One change to one order; ``seq`` orders the whole ledger and is the outbound change feed."""

    seq: int
    order_id: int
    kind: str
    origin: str
    note: str
    at: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "order_id": self.order_id, "kind": self.kind,
                "origin": self.origin, "note": self.note, "at": self.at,
                "details": dict(self.details)}
