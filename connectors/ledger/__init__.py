"""The ledger: the built-in OMS on SQLite (see docs/ledger.md)."""
from __future__ import annotations

from connectors.ledger.errors import Conflict, LedgerError, SchemaTooNew, UnknownOrder
from connectors.ledger.ledger import Ledger
from connectors.ledger.records import HistoryEntry, LedgerOrder, Shipment, ShipmentItem

__all__ = [
    "Conflict", "HistoryEntry", "Ledger", "LedgerError", "LedgerOrder", "SchemaTooNew",
    "Shipment", "ShipmentItem", "UnknownOrder",
]
