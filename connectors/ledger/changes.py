"""The records a change writes: its history entry and, for a shipment, the shipment itself."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.ledger.errors import LedgerError
from connectors.ledger.records import ORIGINS, HistoryEntry, LedgerOrder, Shipment, ShipmentItem


def new_entry(order_id: int, kind: str, origin: str, note: str, at: datetime | None,
              extra: dict[str, Any]) -> HistoryEntry:
    """A history entry to append (seq is assigned on insert); checks origin and ``at``."""
    if origin not in ORIGINS:
        raise LedgerError(f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
    when = datetime.now(UTC) if at is None else at
    if when.tzinfo is None:
        raise LedgerError(f"a change time must carry a timezone, got {when.isoformat()}")
    stamp = when.astimezone(UTC).isoformat(timespec="seconds")
    return HistoryEntry(0, order_id, kind, origin, note, stamp, extra)


def new_shipment(order: LedgerOrder, source_id: str, fields: Mapping[str, Any],
                 items: tuple[ShipmentItem, ...], change: HistoryEntry,
                 store_id: str | None = None) -> Shipment:
    """The shipment to insert; an empty ``source_id`` gets "L-<n>" on insert."""
    address = order.shipping_address or {}
    return Shipment(
        id=source_id, order_id=order.order_id,
        tracking_number=str(fields.get("tracking_number") or ""),
        carrier=str(fields.get("carrier") or ""),
        tracking_link=str(fields.get("tracking_link") or ""),
        origin=change.origin, recorded_at=change.at, items=items,
        order_address_id=fields.get("order_address_id", address.get("id")), store_id=store_id)
