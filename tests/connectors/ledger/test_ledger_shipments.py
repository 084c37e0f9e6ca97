from __future__ import annotations

from typing import Any

import pytest

from connectors.ledger import Ledger, LedgerError


def _store_shipment(shipment_id: int, *items: tuple[int, int], **extra: Any) -> dict[str, Any]:
    return {"id": shipment_id, "order_id": 101, "order_address_id": 7,
            "tracking_number": f"1Z{shipment_id}", "carrier": "ups",
            "tracking_link": f"https://track.example/{shipment_id}",
            "date_created": "2026-11-27T11:00:00+00:00",
            "items": [{"order_product_id": opid, "quantity": qty} for opid, qty in items],
            **extra}


def test_two_shipments_make_the_order_partial_then_complete(imported: Ledger) -> None:
    assert imported.record_shipment(101, _store_shipment(3, (5, 1)), origin="store")
    assert imported.state_of(101)["shipped"] == "partial"
    assert imported.record_shipment(101, _store_shipment(4, (5, 1), (6, 1)), origin="store")
    assert imported.state_of(101)["shipped"] == "complete"
    order = imported.get(101)
    assert order is not None
    assert [s["id"] for s in order.as_dict()["shipments"]] == ["3", "4"]
    first = order.as_dict()["shipments"][0]
    assert first == {
        "id": "3", "order_id": 101, "order_address_id": 7, "tracking_number": "1Z3",
        "carrier": "ups", "tracking_link": "https://track.example/3",
        "date_created": first["date_created"],
        "items": [{"order_product_id": 5, "product_id": 77, "sku": "MUG-1", "quantity": 1}],
        "origin": "store", "store_id": "3"}


def test_record_shipment_is_idempotent_by_source_id(imported: Ledger) -> None:
    assert imported.record_shipment(101, _store_shipment(3, (5, 1)), origin="store")
    seq = imported.last_seq()
    assert imported.record_shipment(101, _store_shipment(3, (5, 1)), origin="store") is False
    assert imported.record_shipment(101, {**_store_shipment(3, (5, 1)), "id": "3"},
                                    origin="store") is False
    assert imported.last_seq() == seq
    order = imported.get(101)
    assert order is not None and len(order.shipments) == 1 and order.shipped == "partial"


def test_items_map_by_sku_when_the_order_product_id_is_missing(imported: Ledger) -> None:
    shipment = {"id": 8, "items": [{"sku": "CUP-1", "quantity": 1}]}
    imported.record_shipment(101, shipment, origin="store")
    order = imported.get(101)
    assert order is not None
    assert order.shipments[0].items[0].order_product_id == 6
    assert order.remaining() == {5: 2}


@pytest.mark.parametrize(("items", "message"), [
    ([{"order_product_id": 5, "quantity": 3}],
     "order 101: shipment 3 ships 3 of 'MUG-1' (order-product 5) but only 2 left to ship"),
    ([{"order_product_id": 5, "quantity": 2}, {"order_product_id": 5, "quantity": 1}],
     "order 101: shipment 3 ships 3 of 'MUG-1' (order-product 5) but only 2 left to ship"),
    ([{"order_product_id": 99, "quantity": 1}],
     "order 101: shipment 3 item 0: order-product id 99 is not one of its line items"),
    ([{"order_product_id": 5, "sku": "CUP-1", "quantity": 1}],
     "order 101: shipment 3 item 0: sku 'CUP-1' does not match order-product 5 (sku 'MUG-1')"),
    ([{"sku": "NOPE", "quantity": 1}],
     "order 101: shipment 3 item 0: sku 'NOPE' matches no line item; give its order_product_id"),
    ([{"order_product_id": 5, "quantity": 0}],
     "order 101: shipment 3 item 0: quantity must be a positive whole number, got 0"),
    ([], "order 101: shipment 3 carries no items"),
])
def test_bad_shipments_are_refused(imported: Ledger, items: list[dict[str, Any]],
                                   message: str) -> None:
    with pytest.raises(LedgerError) as info:
        imported.record_shipment(101, {"id": 3, "items": items}, origin="store")
    assert str(info.value) == message
    assert imported.state_of(101)["shipped"] == "none"
    assert imported.last_seq() == 1


def test_quantities_beyond_what_is_left_after_earlier_shipments(imported: Ledger) -> None:
    imported.record_shipment(101, _store_shipment(3, (5, 2)), origin="store")
    with pytest.raises(LedgerError, match="only 0 left to ship"):
        imported.record_shipment(101, _store_shipment(4, (5, 1)), origin="store")


def test_a_shipment_needs_a_source_id(imported: Ledger) -> None:
    with pytest.raises(LedgerError, match='a shipment needs its source "id"'):
        imported.record_shipment(101, {"items": [{"sku": "CUP-1", "quantity": 1}]},
                                 origin="store")


def test_ship_everything_left(imported: Ledger) -> None:
    imported.record_shipment(101, _store_shipment(3, (5, 1)), origin="store")
    made = imported.ship(101, "1ZLEDGER", "fedex")
    assert made["id"].startswith("L-")
    assert made["origin"] == "user" and made["store_id"] is None
    assert made["order_address_id"] == 7
    assert (made["tracking_number"], made["carrier"]) == ("1ZLEDGER", "fedex")
    assert made["items"] == [
        {"order_product_id": 5, "product_id": 77, "sku": "MUG-1", "quantity": 1},
        {"order_product_id": 6, "product_id": 78, "sku": "CUP-1", "quantity": 1}]
    assert imported.state_of(101)["shipped"] == "complete"
    with pytest.raises(LedgerError, match="order 101: nothing left to ship"):
        imported.ship(101, "1Z", "ups")


def test_ship_some_skus_gives_each_shipment_its_own_id(imported: Ledger) -> None:
    first = imported.ship(101, "A", "ups", {"MUG-1": 1})
    second = imported.ship(101, "B", "ups", {"MUG-1": 1, "CUP-1": 1})
    assert first["id"] != second["id"]
    assert [i["quantity"] for i in first["items"]] == [1]
    assert imported.state_of(101)["shipped"] == "complete"
    order = imported.get(101)
    assert order is not None and [s.as_dict() for s in order.shipments] == [first, second]


@pytest.mark.parametrize(("items", "message"), [
    ({"MUG-1": 3}, "order 101: cannot ship 3 of 'MUG-1': only 2 left to ship"),
    ({"NOPE": 1}, "order 101: no line item has sku 'NOPE' (skus: CUP-1, MUG-1)"),
    ({"MUG-1": -1}, "order 101: sku 'MUG-1': quantity must be a positive whole number, got -1"),
    ({}, "order 101: a shipment needs at least one item"),
])
def test_ship_refuses_what_cannot_be_shipped(imported: Ledger, items: dict[str, int],
                                             message: str) -> None:
    with pytest.raises(LedgerError) as info:
        imported.ship(101, "1Z", "ups", items)
    assert str(info.value) == message
    assert imported.last_seq() == 1


def test_a_sku_on_two_lines_is_shipped_across_them(
    ledger: Ledger, new_order: Any
) -> None:
    lines = [{"id": 1, "sku": "TEE", "quantity": 1}, {"id": 2, "sku": "TEE", "quantity": 2}]
    ledger.import_order(new_order(line_items=lines), origin="store")
    made = ledger.ship(101, "1Z", "ups", {"TEE": 2})
    assert [(i["order_product_id"], i["quantity"]) for i in made["items"]] == [(1, 1), (2, 1)]
    assert ledger.state_of(101)["shipped"] == "partial"


def test_an_order_without_line_items_is_never_shipped(ledger: Ledger, new_order: Any) -> None:
    ledger.import_order(new_order(line_items=[]), origin="store")
    assert ledger.state_of(101)["shipped"] == "none"


def test_a_linked_ledger_shipment_read_back_from_the_store_is_not_recorded_twice(
    imported: Ledger,
) -> None:
    made = imported.ship(101, "1Z", "ups", {"MUG-1": 1}, origin="user")
    assert imported.link_store_shipment(101, made["id"], 99) is True
    assert imported.link_store_shipment(101, made["id"], "99") is False
    assert imported.record_shipment(101, _store_shipment(99, (5, 1)), origin="store") is False
    order = imported.get(101)
    assert order is not None and order.shipments[0].store_id == "99"
    assert [e.kind for e in imported.history(101)] == [
        "imported", "shipment_recorded", "shipment_linked"]
    with pytest.raises(LedgerError, match="already linked"):
        imported.link_store_shipment(101, made["id"], 100)
    with pytest.raises(LedgerError, match="no shipment 'L-404'"):
        imported.link_store_shipment(101, "L-404", 101)
