"""normalize_order / normalize_shipment produce exactly the shapes of docs/formats.md."""
from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from connectors.bigcommerce.normalize import (
    NormalizeError,
    normalize_order,
    normalize_shipment,
    status_labels,
)
from connectors.bigcommerce.values import InvalidValue

BILLING = {"first_name": "Jo", "last_name": "Doe", "company": "", "street_1": "1 Main St",
           "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
           "country": "United States", "country_iso2": "US", "phone": "555-0100",
           "email": "jo@example.com", "form_fields": []}
LINE = {"id": 5, "order_id": 101, "product_id": 77, "variant_id": 0, "order_address_id": 7,
        "name": "Mug", "sku": "MUG-1", "type": "physical", "quantity": 2, "quantity_shipped": 0,
        "price_ex_tax": "12.0000", "price_inc_tax": "12.0000", "total_ex_tax": "24.0000",
        "total_inc_tax": "24.0000", "is_refunded": False}
ADDRESS = {**BILLING, "id": 7, "order_id": 101, "shipping_method": "Flat Rate",
           "items_total": 2, "items_shipped": 0}


def raw_order(**changes: Any) -> dict[str, Any]:
    """A store order as listed with include=consignments.line_items (object structure)."""
    order = {
        "id": 101, "customer_id": 12, "status_id": 11, "status": "Awaiting Fulfillment",
        "custom_status": "Awaiting Fulfillment",
        "date_created": "Fri, 27 Nov 2026 10:00:00 +0000",
        "date_modified": "Fri, 27 Nov 2026 10:00:05 +0000", "date_shipped": "",
        "subtotal_inc_tax": "24.0000", "shipping_cost_inc_tax": "5.0000", "total_tax": "0.0000",
        "discount_amount": "0.0000", "total_inc_tax": "29.0000", "currency_code": "USD",
        "default_currency_code": "USD", "items_total": 2, "items_shipped": 0,
        "payment_status": "captured", "customer_message": "Leave at the door", "staff_notes": "",
        "shipping_address_count": 1, "billing_address": BILLING,
        "products": {"url": "https://x/v2/orders/101/products", "resource": "/orders/101/products"},
        "consignments": {"pickups": [], "downloads": [], "email": {"gift_certificates": []},
                         "shipping": [{**ADDRESS, "id": 7, "line_items": [LINE]}]},
    }
    order.update(changes)
    return order


GOLDEN = {
    "id": 101, "status_id": 11, "status": "Awaiting Fulfillment",
    "date_created": "2026-11-27T10:00:00+00:00", "date_modified": "2026-11-27T10:00:05+00:00",
    "date_shipped": None, "payment_status": "captured",
    "customer": {"id": 12, "email": "jo@example.com", "first_name": "Jo", "last_name": "Doe",
                 "phone": "555-0100"},
    "billing_address": {"first_name": "Jo", "last_name": "Doe", "company": "",
                        "street_1": "1 Main St", "street_2": "", "city": "Austin",
                        "state": "Texas", "zip": "78701", "country": "United States",
                        "country_iso2": "US", "phone": "555-0100", "email": "jo@example.com"},
    "shipping_address": {"id": 7, "first_name": "Jo", "last_name": "Doe", "company": "",
                         "street_1": "1 Main St", "street_2": "", "city": "Austin",
                         "state": "Texas", "zip": "78701", "country": "United States",
                         "country_iso2": "US", "phone": "555-0100", "email": "jo@example.com"},
    "shipping_address_count": 1,
    "line_items": [{"id": 5, "product_id": 77, "sku": "MUG-1", "name": "Mug", "quantity": 2,
                    "quantity_shipped": 0, "price_inc_tax": "12.0000",
                    "total_inc_tax": "24.0000", "order_address_id": 7}],
    "totals": {"currency": "USD", "subtotal_inc_tax": "24.0000",
               "shipping_cost_inc_tax": "5.0000", "total_tax": "0.0000",
               "discount_amount": "0.0000", "total_inc_tax": "29.0000"},
    "items_total": 2, "items_shipped": 0,
    "customer_message": "Leave at the door", "staff_notes": "", "warnings": [],
}


def test_order_from_a_list_page_with_consignments() -> None:
    assert normalize_order(raw_order()) == GOLDEN


def test_order_from_products_and_addresses() -> None:
    order = raw_order()
    del order["consignments"]
    assert normalize_order(order, products=[LINE], addresses=[ADDRESS]) == GOLDEN


def test_first_shipping_address_is_the_lowest_id_with_a_warning() -> None:
    second = {**ADDRESS, "id": 3, "street_1": "9 Elm St"}
    third = {**ADDRESS, "id": 12}
    order = raw_order(shipping_address_count=3)
    result = normalize_order(order, products=[LINE], addresses=[ADDRESS, third, second])
    assert isinstance(result, dict)
    assert result["shipping_address"]["id"] == 3
    assert result["shipping_address"]["street_1"] == "9 Elm St"
    assert result["shipping_address_count"] == 3
    assert result["warnings"] == ["3 shipping addresses; imported the first (id 3)"]


def test_no_shipping_address_is_null() -> None:
    result = normalize_order(raw_order(shipping_address_count=0), products=[], addresses=[])
    assert isinstance(result, dict)
    assert result["shipping_address"] is None and result["warnings"] == []


@pytest.mark.parametrize("status_id", [15, -1, None, "11", 11.0, True])
def test_unknown_status_is_an_error_record(status_id: Any) -> None:
    result = normalize_order(raw_order(status_id=status_id))
    assert result == NormalizeError(101, f"order 101: unknown status id {status_id!r} "
                                         "(BigCommerce ids are 0-14)")
    assert result.as_dict() == {"order_id": 101, "error": result.message}


def test_labels_come_from_the_store_statuses() -> None:
    labels = status_labels([{"id": 11, "name": "Awaiting Fulfillment",
                             "custom_label": "Ready to pick"}, {"id": 2, "name": "Shipped"}])
    assert labels == {11: "Ready to pick", 2: "Shipped"}
    result = normalize_order(raw_order(), labels=labels)
    assert isinstance(result, dict) and result["status"] == "Ready to pick"


def test_money_is_exact_and_dates_are_utc() -> None:
    order = raw_order(total_inc_tax=0.1 + 0.2 - 0.3 + 29, total_tax=5.1, discount_amount=3,
                      subtotal_inc_tax="24.12345", date_shipped="Fri, 27 Nov 2026 05:30:00 -0500",
                      date_created="2026-11-27T11:00:00+01:00")
    result = normalize_order(order)
    assert isinstance(result, dict)
    assert result["totals"]["total_tax"] == "5.1000"
    assert result["totals"]["discount_amount"] == "3.0000"
    assert result["totals"]["subtotal_inc_tax"] == "24.12345"  # never rounded away
    assert result["date_shipped"] == "2026-11-27T10:30:00+00:00"
    assert result["date_created"] == "2026-11-27T10:00:00+00:00"


@pytest.mark.parametrize("field,value", [("total_inc_tax", "abc"), ("total_tax", None),
                                         ("date_modified", "yesterday"), ("items_total", "2.5")])
def test_unreadable_fields_are_error_records(field: str, value: Any) -> None:
    result = normalize_order(raw_order(**{field: value}))
    assert isinstance(result, NormalizeError) and result.order_id == 101
    assert field in result.message


@pytest.mark.parametrize("changes,named", [
    ({"date_modified": None}, "date_modified: missing"),
    ({"date_modified": ""}, "date_modified: missing"),
    ({"billing_address": "x"}, "billing_address: not an object ('x')"),
    ({"consignments": [1]}, "consignments[0]: not an object (1)"),
    ({"consignments": [{"shipping": "x"}]}, "consignments[0].shipping: not a list ('x')"),
    ({"consignments": {"shipping": [1]}}, "consignments.shipping[0]: not an object (1)"),
    ({"consignments": {"shipping": [{"id": 7, "line_items": ["x"]}]}},
     "consignments.line_items[0]: not an object ('x')"),
    ({"consignments": {"email": "x"}}, "consignments.email: not an object ('x')"),
    ({"consignments": {"shipping": [{**ADDRESS, "id": None, "line_items": [
        {**LINE, "order_address_id": None}]}]}}, "consignments.shipping.id: not an integer"),
    ({"consignments": {"shipping": [{**ADDRESS, "line_items": [
        {**LINE, "order_address_id": "abc"}]}]}},
     "consignments.line_items.order_address_id: not an integer ('abc')"),
])
def test_nested_values_of_the_wrong_shape_are_error_records(changes: dict[str, Any],
                                                            named: str) -> None:
    result = normalize_order(raw_order(**changes))
    assert isinstance(result, NormalizeError) and result.order_id == 101, result
    assert result.message.startswith(f"order 101: {named}"), result.message


def test_products_and_addresses_passed_in_are_checked_too() -> None:
    order = raw_order()
    del order["consignments"]
    result = normalize_order(order, products=["x"], addresses=[ADDRESS])
    assert result == NormalizeError(101, "order 101: products[0]: not an object ('x')")


def test_empty_containers_read_as_absent() -> None:
    """PHP-made JSON writes an empty object as []: neither is a wrong shape."""
    order = raw_order(billing_address=[])
    order["consignments"] = {**order["consignments"], "email": [], "pickups": {}}
    result = normalize_order(order)
    assert isinstance(result, dict) and result["customer"]["email"] == ""


def test_line_items_as_links_only_are_an_error_not_an_empty_order() -> None:
    order = raw_order()
    order["consignments"]["shipping"][0]["line_items"] = [{"url": "u", "resource": "/r"}]
    result = normalize_order(order)
    assert isinstance(result, NormalizeError) and "line items" in result.message
    del order["consignments"]
    assert isinstance(normalize_order(order), NormalizeError)


def test_consignment_address_id_follows_the_line_items() -> None:
    order = raw_order()
    order["consignments"]["shipping"][0]["id"] = 99  # consignment id differs (GAP)
    result = normalize_order(order)
    assert isinstance(result, dict) and result["shipping_address"]["id"] == 7


def test_lines_from_every_consignment_kind_sorted_by_id() -> None:
    order = raw_order()
    download = {**LINE, "id": 2, "type": "digital", "order_address_id": 0, "sku": "EBOOK"}
    order["consignments"]["downloads"] = [{"recipient_email": "x@y", "line_items": [download]}]
    result = normalize_order(order)
    assert isinstance(result, dict)
    assert [li["id"] for li in result["line_items"]] == [2, 5]


def test_input_is_not_mutated() -> None:
    order = raw_order()
    before = copy.deepcopy(order)
    normalize_order(order)
    assert order == before


SHIPMENT = {"id": 3, "order_id": 101, "customer_id": 12, "order_address_id": 7,
            "date_created": "Fri, 27 Nov 2026 11:00:00 +0000", "tracking_number": "1Z999",
            "shipping_provider": "", "tracking_carrier": "ups", "tracking_link": "",
            "generated_tracking_link": "", "shipping_method": "Ground",
            "items": [{"order_product_id": 5, "product_id": 77, "quantity": 1}]}


def test_shipment_golden() -> None:
    assert normalize_shipment(SHIPMENT, [LINE]) == {
        "id": 3, "order_id": 101, "order_address_id": 7, "tracking_number": "1Z999",
        "carrier": "ups", "tracking_link": "", "date_created": "2026-11-27T11:00:00+00:00",
        "items": [{"order_product_id": 5, "product_id": 77, "sku": "MUG-1", "quantity": 1}]}


@pytest.mark.parametrize("items,named", [("x", "shipment.items: not a list ('x')"),
                                         ([1], "shipment.items[0]: not an object (1)")])
def test_shipment_items_of_the_wrong_shape_are_an_invalid_value(items: Any, named: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape(named)):
        normalize_shipment({**SHIPMENT, "items": items}, [LINE])


def test_shipment_carrier_falls_back_to_provider_and_sku_may_be_unknown() -> None:
    shipment = {**SHIPMENT, "tracking_carrier": "", "shipping_provider": "fedex",
                "generated_tracking_link": "https://track/1Z999"}
    result = normalize_shipment(shipment)
    assert result["carrier"] == "fedex"
    assert result["tracking_link"] == "https://track/1Z999"
    assert result["items"][0]["sku"] is None


@pytest.mark.parametrize("value", [
    "Tue, 20 Nov 2012 00:00:00 +0000", "Sun, 29 Feb 2032 23:59:59 +0000",
    "Xyz, 01 Jan 2026 12:00:00 +0000",  # the weekday is never checked, by either reader
    "Mon, 30 Feb 2026 00:00:00 +0000", "Mon, 01 Jan 2026 24:00:00 +0000",  # no such time
    "Mon, 01 Jan 2026 12:00:60 +0000", "Mon, 01 Foo 2026 12:00:00 +0000",
    "Mon, 01 jan 2026 12:00:00 +0000", "Mon, 1 Jan 2026 12:00:00 +0000",
    "Mon, 01 Jan 2026 12:00:00 -0500", "Mon, 01 Jan 2026 12:00:00 -0000",
    "Mon, 01 Jan 2026 12:00:00 +0000 ", "Mon, 01 Jan 26 12:00:00 +0000",
])
def test_the_usual_date_form_reads_as_the_general_parser_reads_it(value: str) -> None:
    """values.utc_datetime reads BigCommerce's one form without email.utils: the same result,
    or the same error, as the general RFC 2822 reading it replaces there."""
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    from connectors.bigcommerce.values import utc_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        with pytest.raises(InvalidValue):
            utc_datetime(value, "date_modified")
        return
    expected = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    got = utc_datetime(value, "date_modified")
    assert got == expected and got is not None and got.utcoffset() == expected.utcoffset()
    assert got.isoformat() == expected.isoformat()


@pytest.mark.parametrize("value", [0, 7, -7, 10**18 - 1, -(10**18 - 1), 10**18, -(10**18),
                                   2**63, True, False, 7.0, 7.5, "7", "1e3", "1e1000000"])
def test_an_integer_reads_as_the_decimal_check_reads_it(value: Any) -> None:
    """values.integer takes a JSON integer within bounds as it is: the same answer as the
    general check (18 digits at most, bool refused)."""
    from decimal import Decimal

    from connectors.bigcommerce.values import MAX_INTEGER_DIGITS, integer

    number = Decimal(str(int(value)) if isinstance(value, bool) else str(value))
    fits = (not isinstance(value, bool) and number.is_finite()
            and number.copy_abs() < 10 ** MAX_INTEGER_DIGITS
            and number == number.to_integral_value())
    if fits:
        assert integer(value, "id") == int(number)
    else:
        with pytest.raises(InvalidValue):
            integer(value, "id")
