from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.ledger import Conflict, Ledger, LedgerError


def _ship_all(ledger: Ledger) -> None:
    ledger.record_shipment(101, {"id": 1, "items": [
        {"order_product_id": 5, "quantity": 2}, {"order_product_id": 6, "quantity": 1}]},
        origin="store")


def _ship_some(ledger: Ledger) -> None:
    ledger.record_shipment(101, {"id": 1, "items": [{"order_product_id": 5, "quantity": 1}]},
                           origin="store")


def _close(ledger: Ledger) -> None:
    ledger.close_order(101, origin="user")


def _void(ledger: Ledger) -> None:
    ledger.void(101, origin="store")


CASES: list[tuple[Callable[[Ledger], None], str, Callable[[Ledger], Any], str]] = [
    (_ship_all, "void", lambda lg: lg.void(101, origin="store"),
     "order 101: cannot void: the order has already shipped (shipped: complete)"),
    (_ship_some, "void", lambda lg: lg.void(101, origin="store"),
     "order 101: cannot void: the order has already shipped (shipped: partial)"),
    (_close, "void", lambda lg: lg.void(101, origin="store"),
     "order 101: cannot void: the order is closed"),
    (_void, "mark paid", lambda lg: lg.mark_paid(101, origin="store"),
     "order 101: cannot mark paid: the order is void"),
    (_void, "mark packed", lambda lg: lg.mark_packed(101, origin="store"),
     "order 101: cannot mark packed: the order is void"),
    (_void, "close", lambda lg: lg.close_order(101, origin="user"),
     "order 101: cannot close: the order is void"),
    (_void, "record a shipment",
     lambda lg: lg.record_shipment(101, {"id": 9, "items": [{"sku": "CUP-1", "quantity": 1}]},
                                 origin="store"),
     "order 101: cannot record a shipment: the order is void"),
    (_void, "record a shipment", lambda lg: lg.ship(101, "1Z", "ups"),
     "order 101: cannot record a shipment: the order is void"),
    (lambda lg: None, "refund", lambda lg: lg.refund(101, origin="user"),
     "order 101: cannot refund: the order is not paid"),
]


@pytest.mark.parametrize(("setup", "action", "change", "message"), CASES)
def test_a_downgrade_is_a_conflict_and_writes_nothing(
    imported: Ledger, setup: Callable[[Ledger], None], action: str,
    change: Callable[[Ledger], Any], message: str,
) -> None:
    setup(imported)
    before, seq = imported.get(101), imported.last_seq()
    with pytest.raises(Conflict) as info:
        change(imported)
    assert str(info.value) == message
    assert (info.value.order_id, info.value.action) == (101, action)
    assert isinstance(info.value, LedgerError)
    assert imported.get(101) == before
    assert imported.last_seq() == seq


def test_a_change_already_in_effect_is_a_no_op_not_a_conflict(imported: Ledger) -> None:
    imported.mark_paid(101, origin="store")
    imported.void(101, origin="store")
    assert imported.mark_paid(101, origin="store") is False
    assert imported.void(101, origin="store") is False


def test_void_before_shipping_then_refund_is_allowed(imported: Ledger) -> None:
    imported.mark_paid(101, origin="store")
    imported.mark_packed(101, origin="store")
    assert imported.void(101, origin="store")
    assert imported.refund(101, origin="user")
    assert imported.state_of(101) == {
        "imported": True, "billed": True, "paid": True, "packed": True, "shipped": "none",
        "closed": False, "void": True, "refunded": True}


def test_shipping_and_closing_are_allowed_in_either_order(imported: Ledger) -> None:
    imported.close_order(101, origin="user")
    _ship_all(imported)
    assert imported.state_of(101)["shipped"] == "complete"
