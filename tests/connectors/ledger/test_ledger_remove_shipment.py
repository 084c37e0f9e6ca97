"""A store shipment deleted in the store is forgotten; one made in the ledger is not."""
from __future__ import annotations

import pytest

from connectors.ledger import Conflict, Ledger

STORE_SHIPMENT = {"id": 31, "order_address_id": 7, "tracking_number": "1ZWRONG", "carrier": "ups",
                  "items": [{"order_product_id": 5, "quantity": 2}, {"order_product_id": 6,
                                                                    "quantity": 1}]}


def test_removing_a_store_shipment_frees_its_quantities(imported: Ledger) -> None:
    assert imported.record_shipment(101, STORE_SHIPMENT, origin="store")
    assert imported.state_of(101)["shipped"] == "complete"
    assert imported.remove_shipment(101, "31", origin="store")
    assert imported.state_of(101)["shipped"] == "none"
    assert imported.history(101)[-1].kind == "shipment_removed"
    assert not imported.remove_shipment(101, "31", origin="store")  # idempotent
    again = {**STORE_SHIPMENT, "id": 32, "tracking_number": "1ZRIGHT"}
    assert imported.record_shipment(101, again, origin="store")
    assert [s.tracking_number for s in imported.get(101).shipments] == ["1ZRIGHT"]


def test_a_ledger_shipment_is_not_removed_by_the_store(imported: Ledger) -> None:
    made = imported.ship(101, "1ZL", "ups", origin="user")
    imported.link_store_shipment(101, made["id"], 44)
    with pytest.raises(Conflict, match="made in the ledger"):
        imported.remove_shipment(101, "44", origin="store")
    assert imported.state_of(101)["shipped"] == "complete"
