"""Store order / shipment -> the normalized dicts of docs/formats.md.

Pure functions: no I/O. An order that cannot be read faithfully (unknown status id, a bad amount
or date) becomes a `NormalizeError` record, never an exception and never a guess.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.bigcommerce.values import (
    InvalidValue,
    integer,
    iso,
    json_object,
    json_objects,
    money,
    money_str,
)

# FACTS §1: the ids are fixed 0-14; only the labels are per store.
STATUS_NAMES = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
    5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup",
    9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
    12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}
ADDRESS_FIELDS = ("first_name", "last_name", "company", "street_1", "street_2", "city", "state",
                  "zip", "country", "country_iso2", "phone", "email")
TOTAL_FIELDS = ("subtotal_inc_tax", "shipping_cost_inc_tax", "total_tax", "discount_amount",
                "total_inc_tax")
Json = dict[str, Any]


@dataclass(frozen=True)
class NormalizeError:
    """An order that could not be normalized; the sync reports it and moves on."""

    order_id: int | None
    message: str

    def as_dict(self) -> Json:
        return {"order_id": self.order_id, "error": self.message}


def status_labels(statuses: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """GET /v2/order_statuses -> {id: label}; the merchant's custom_label wins (FACTS §1)."""
    return {int(s["id"]): str(s.get("custom_label") or s.get("name") or "") for s in statuses}


def address(raw: Mapping[str, Any] | None) -> Json | None:
    if raw is None:
        return None
    return {name: str(raw.get(name) or "") for name in ADDRESS_FIELDS}


def line_item(raw: Mapping[str, Any]) -> Json:
    item_id = integer(raw.get("id"), "line_items.id")
    where = f"line_items[id={item_id}]"
    return {
        "id": item_id,
        "product_id": integer(raw.get("product_id"), f"{where}.product_id", default=0),
        "sku": str(raw.get("sku") or ""),
        "name": str(raw.get("name") or ""),
        "quantity": integer(raw.get("quantity"), f"{where}.quantity"),
        "quantity_shipped": integer(raw.get("quantity_shipped"), f"{where}.quantity_shipped", 0),
        "price_inc_tax": money_str(money(raw.get("price_inc_tax"), f"{where}.price_inc_tax")),
        "total_inc_tax": money_str(money(raw.get("total_inc_tax"), f"{where}.total_inc_tax")),
        "order_address_id": integer(raw.get("order_address_id"), f"{where}.order_address_id", 0),
    }


def _consignment_parts(order: Mapping[str, Any]
                       ) -> tuple[list[Mapping[str, Any]], list[Json]] | None:
    """(products, shipping addresses) from `consignments` (include=consignments.line_items);
    None when the order carries no consignments or only links to its line items."""
    consignments = order.get("consignments")
    if isinstance(consignments, list):  # the array structure: merge its objects
        consignments = _merged(consignments)
    if not isinstance(consignments, Mapping):
        return None
    shipping = json_objects(consignments.get("shipping"), "consignments.shipping")
    email = json_object(consignments.get("email"), "consignments.email")
    groups = [*shipping, *json_objects(consignments.get("pickups"), "consignments.pickups"),
              *json_objects(consignments.get("downloads"), "consignments.downloads"),
              *json_objects(email.get("gift_certificates"), "consignments.email.gift_certificates")]
    products: list[Mapping[str, Any]] = []
    for group in groups:
        lines = _lines(group)
        if any("quantity" not in line for line in lines):
            return None  # only {url, resource} links: the line items were not included
        products.extend(lines)
    return products, [{**ship, "id": _consignment_address_id(ship)} for ship in shipping]


def _merged(parts: list[Any]) -> dict[str, list[Mapping[str, Any]]]:
    merged: dict[str, list[Mapping[str, Any]]] = {"shipping": [], "pickups": [], "downloads": []}
    for n, part in enumerate(json_objects(parts, "consignments")):
        for key, found in merged.items():
            found.extend(json_objects(part.get(key), f"consignments[{n}].{key}"))
    return merged


def _lines(group: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A consignment's line items: a list, or a single object."""
    lines = group.get("line_items")
    return [lines] if isinstance(lines, Mapping) else json_objects(
        lines, "consignments.line_items")


def _consignment_address_id(ship: Mapping[str, Any]) -> int:
    """GAP: the docs do not say a shipping consignment id equals the order_address_id. The
    line items name their address explicitly, so that id wins when they agree on one."""
    ids = {integer(li.get("order_address_id"), "consignments.line_items.order_address_id", 0)
           for li in _lines(ship)}
    ids.discard(0)
    return ids.pop() if len(ids) == 1 else integer(ship.get("id"), "consignments.shipping.id")


def _status(order: Mapping[str, Any], labels: Mapping[int, str] | None) -> tuple[int, str]:
    raw = order.get("status_id")
    status_id = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if status_id not in STATUS_NAMES:
        raise InvalidValue(f"unknown status id {raw!r} (BigCommerce ids are 0-14)")
    assert status_id is not None
    label = (labels or {}).get(status_id) or order.get("custom_status") or order.get("status")
    return status_id, str(label or STATUS_NAMES[status_id])


def _totals(order: Mapping[str, Any]) -> Json:
    # The amounts are in the transactional currency (default_currency_code); currency_code is
    # only the storefront's display currency (orders.v2 info "Currency Fields").
    currency = order.get("default_currency_code") or order.get("currency_code") or ""
    totals: Json = {"currency": str(currency)}
    for name in TOTAL_FIELDS:
        totals[name] = money_str(money(order.get(name), f"totals.{name}"))
    return totals


def _customer(order: Mapping[str, Any], billing: Mapping[str, Any]) -> Json:
    return {
        "id": integer(order.get("customer_id"), "customer_id", default=0),  # 0 = guest
        "email": str(billing.get("email") or ""),
        "first_name": str(billing.get("first_name") or ""),
        "last_name": str(billing.get("last_name") or ""),
        "phone": str(billing.get("phone") or ""),
    }


def _shipping(addresses: list[Json], warnings: list[str]) -> Json | None:
    if not addresses:
        return None
    ordered = sorted(addresses, key=lambda a: integer(a.get("id"), "shipping_addresses.id"))
    first = ordered[0]
    if len(ordered) > 1:
        warnings.append(f"{len(ordered)} shipping addresses; imported the first (id {first['id']})")
    return {"id": integer(first["id"], "shipping_addresses.id"), **(address(first) or {})}


def _build(order: Mapping[str, Any], products: list[Json], addresses: list[Json],
           labels: Mapping[int, str] | None) -> Json:
    status_id, label = _status(order, labels)
    warnings: list[str] = []
    shipping = _shipping(addresses, warnings)
    items = sorted((line_item(p) for p in products), key=lambda li: li["id"])
    billing = json_object(order.get("billing_address"), "billing_address")
    return {
        "id": integer(order.get("id"), "id"),
        "status_id": status_id,
        "status": label,
        "date_created": iso(order.get("date_created"), "date_created"),
        "date_modified": iso(order.get("date_modified"), "date_modified", required=True),
        "date_shipped": iso(order.get("date_shipped"), "date_shipped"),
        "payment_status": str(order.get("payment_status") or ""),
        "customer": _customer(order, billing),
        "billing_address": address(billing),
        "shipping_address": shipping,
        "shipping_address_count": integer(order.get("shipping_address_count"),
                                          "shipping_address_count", default=len(addresses)),
        "line_items": items,
        "totals": _totals(order),
        "items_total": integer(order.get("items_total"), "items_total", default=0),
        "items_shipped": integer(order.get("items_shipped"), "items_shipped", default=0),
        "customer_message": str(order.get("customer_message") or ""),
        "staff_notes": str(order.get("staff_notes") or ""),
        "warnings": warnings,
    }


def normalize_order(
    order: Mapping[str, Any],
    products: Iterable[Mapping[str, Any]] | None = None,
    addresses: Iterable[Mapping[str, Any]] | None = None,
    labels: Mapping[int, str] | None = None,
) -> Json | NormalizeError:
    """Order (+ products and shipping addresses, or the list page's consignments) -> dict.

    `labels` is `status_labels(client.order_statuses())`; without it the order's own label is used.
    """
    raw_id = order.get("id")
    order_id = raw_id if isinstance(raw_id, int) else None
    try:
        if products is None or addresses is None:
            parts = _consignment_parts(order)
            if parts is None:
                return NormalizeError(order_id, "line items and shipping addresses are missing: "
                                      "pass them, or list with include=consignments.line_items")
            products = parts[0] if products is None else products
            addresses = parts[1] if addresses is None else addresses
        return _build(order, [dict(p) for p in json_objects(list(products), "products")],
                      [dict(a) for a in json_objects(list(addresses), "shipping_addresses")],
                      labels)
    except (InvalidValue, KeyError, TypeError) as exc:
        return NormalizeError(order_id, f"order {raw_id}: {exc}")


def normalize_shipment(shipment: Mapping[str, Any],
                       line_items: Iterable[Mapping[str, Any]] = ()) -> Json:
    """Store shipment -> dict; `sku` comes from the order's line items when known, else None."""
    skus = {int(li["id"]): li.get("sku") for li in line_items if li.get("id") is not None}
    carrier = shipment.get("tracking_carrier") or shipment.get("shipping_provider") or ""
    # A custom tracking_link leaves generated_tracking_link empty and vice versa (FACTS §3).
    link = shipment.get("tracking_link") or shipment.get("generated_tracking_link") or ""
    return {
        "id": integer(shipment.get("id"), "shipment.id"),
        "order_id": integer(shipment.get("order_id"), "shipment.order_id"),
        "order_address_id": integer(shipment.get("order_address_id"), "order_address_id", 0),
        "tracking_number": str(shipment.get("tracking_number") or ""),
        "carrier": str(carrier),
        "tracking_link": str(link),
        "date_created": iso(shipment.get("date_created"), "shipment.date_created"),
        "items": [
            {"order_product_id": integer(i.get("order_product_id"), "items.order_product_id"),
             "product_id": integer(i.get("product_id"), "items.product_id", default=0),
             "sku": skus.get(integer(i.get("order_product_id"), "items.order_product_id")),
             "quantity": integer(i.get("quantity"), "items.quantity")}
            for i in json_objects(shipment.get("items"), "shipment.items")
        ],
    }
