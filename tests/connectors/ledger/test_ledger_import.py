from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from connectors.ledger import Ledger, LedgerError

NOT_IMPORTED = {"imported": False, "billed": False, "paid": False, "packed": False,
                "shipped": "none", "closed": False, "void": False, "refunded": False}


def test_unknown_order_has_the_not_imported_state(ledger: Ledger) -> None:
    assert ledger.get(101) is None
    assert ledger.state_of(101) == NOT_IMPORTED


def test_import_marks_billed_and_captures_the_details(
    imported: Ledger, new_order: Callable[..., dict[str, Any]]
) -> None:
    order = imported.get(101)
    assert order is not None
    assert imported.state_of(101) == {**NOT_IMPORTED, "imported": True, "billed": True}
    shown = order.as_dict()
    source = new_order()
    for key in ("line_items", "customer", "billing_address", "shipping_address", "totals",
                "customer_message", "staff_notes"):
        assert shown[key] == source[key], key
    assert shown["order_id"] == 101
    assert datetime.fromisoformat(shown["imported_at"]).tzinfo is not None
    assert shown["store_status_id"] == 7
    assert shown["shipments"] == []
    assert shown["warnings"] == []
    assert shown["state"] == {"billed": True, "paid": False, "packed": False, "shipped": "none",
                              "closed": False, "void": False, "refunded": False}


def test_import_happens_once_and_later_details_never_overwrite(
    imported: Ledger, new_order: Callable[..., dict[str, Any]]
) -> None:
    before = imported.get(101)
    changed = new_order(status_id=11, customer_message="Ring twice", staff_notes="changed",
                        customer={"id": 12, "email": "new@example.com"},
                        totals={"total_inc_tax": "1.0000"}, line_items=[])
    assert imported.import_order(changed, origin="store") is False
    assert imported.get(101) == before
    assert len(imported.history(101)) == 1


def test_import_accepts_a_string_order_id(ledger: Ledger,
                                          new_order: Callable[..., dict[str, Any]]) -> None:
    assert ledger.import_order(new_order(id="102"), origin="store")
    assert ledger.state_of(102)["imported"] is True
    assert ledger.state_of("102")["imported"] is True


def test_store_warnings_are_kept(ledger: Ledger,
                                 new_order: Callable[..., dict[str, Any]]) -> None:
    warning = "3 shipping addresses; imported the first (id 7)"
    ledger.import_order(new_order(shipping_address_count=3, warnings=[warning]), origin="store")
    order = ledger.get(101)
    assert order is not None and order.warnings == (warning,)
    assert ledger.history(101)[0].details["warnings"] == [warning]


def test_several_addresses_without_a_warning_get_one(
    ledger: Ledger, new_order: Callable[..., dict[str, Any]]
) -> None:
    ledger.import_order(new_order(shipping_address_count=2, warnings=[]), origin="store")
    order = ledger.get(101)
    assert order is not None
    assert order.warnings == ("2 shipping addresses; imported the first (id 7)",)


@pytest.mark.parametrize(("order", "message"), [
    ({"status_id": 7}, 'cannot import: a normalized order with an "id" is required'),
    ({"id": "abc"}, "order id must be a whole number, got 'abc'"),
    ({"id": 1, "line_items": [{"id": 5, "quantity": -1}]},
     "cannot import order 1: line_items[0]: quantity must be a whole number >= 0, got -1"),
    ({"id": 1, "line_items": [{"sku": "X", "quantity": 1}]},
     'cannot import order 1: line_items[0]: a line item with an "id" is required'),
])
def test_unusable_orders_are_refused(ledger: Ledger, order: dict[str, Any],
                                     message: str) -> None:
    with pytest.raises(LedgerError) as info:
        ledger.import_order(order, origin="store")
    assert str(info.value) == message
    assert ledger.last_seq() == 0


def test_list_orders_pages_by_order_id(ledger: Ledger,
                                       new_order: Callable[..., dict[str, Any]]) -> None:
    for order_id in (103, 101, 102):
        ledger.import_order(new_order(id=order_id), origin="store")
    assert [o.order_id for o in ledger.list_orders()] == [101, 102, 103]
    assert [o.order_id for o in ledger.list_orders(limit=2, offset=1)] == [102, 103]


def test_a_closed_ledger_says_so(location: str) -> None:
    ledger = Ledger(location)
    ledger.close()
    ledger.close()
    with pytest.raises(LedgerError, match="is closed"):
        ledger.get(101)


def test_an_order_is_a_frozen_snapshot(imported: Ledger) -> None:
    order = imported.get(101)
    assert order is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.paid = True  # type: ignore[misc]
    imported.mark_paid(101, origin="store")
    assert order.paid is False
