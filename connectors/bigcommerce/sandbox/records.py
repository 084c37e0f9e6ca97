"""Stored records: plain JSON-able dicts, so the store can be saved to a data file as is.

An order record keeps its lines (`products`), `addresses` and `shipments` inside it; counters such
as items_total/items_shipped are derived when rendering, so they can never drift.
"""

from __future__ import annotations

from typing import Any

from .money import money

ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip",
    "country",
    "country_iso2",
    "phone",
    "email",
)
# [v2] components.schemas.order_Put: scalar fields stored as given (products, addresses,
# status_id and is_deleted are handled separately).
PUT_SCALARS = frozenset(
    {
        "base_handling_cost",
        "base_shipping_cost",
        "base_wrapping_cost",
        "channel_id",
        "customer_id",
        "customer_message",
        "date_created",
        "discount_amount",
        "ebay_order_id",
        "external_merchant_id",
        "external_source",
        "geoip_country",
        "geoip_country_iso2",
        "handling_cost_ex_tax",
        "handling_cost_inc_tax",
        "ip_address",
        "ip_address_v6",
        "order_is_digital",
        "payment_method",
        "payment_provider_id",
        "refunded_amount",
        "shipping_cost_ex_tax",
        "shipping_cost_inc_tax",
        "staff_notes",
        "subtotal_ex_tax",
        "subtotal_inc_tax",
        "tax_provider_id",
        "customer_locale",
        "external_order_id",
        "total_ex_tax",
        "total_inc_tax",
        "wrapping_cost_ex_tax",
        "wrapping_cost_inc_tax",
        "order_source",
    }
)
# Accepted but not modelled by the sandbox (no effect): [v2] order_Put.consignments / .fees.
PUT_IGNORED = frozenset(
    {"consignments", "fees", "items_shipped", "items_total", "default_currency_code", "external_id"}
)


def address(body: dict[str, Any]) -> dict[str, Any]:
    """Keep the address fields of a request body, defaulting the rest to ''."""
    return {f: str(body.get(f, "") or "") for f in ADDRESS_FIELDS}


def new_line(line_id: int, order_id: int, address_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """A line from a POST/PUT product ([v2] orderCustomProduct_Post, orderCatalogProduct_Post)."""
    inc = money(body.get("price_inc_tax", body.get("price_ex_tax", 0)))
    ex = money(body.get("price_ex_tax", inc))
    name = str(body.get("name") or f"Product {body.get('product_id', line_id)}")
    return {
        "id": line_id,
        "order_id": order_id,
        "product_id": int(body.get("product_id", 0) or 0),
        "variant_id": int(body.get("variant_id", 0) or 0),
        "order_address_id": address_id,
        "name": name,
        "name_customer": str(body.get("name_customer") or name),
        "name_merchant": str(body.get("name_merchant") or name),
        "sku": str(body.get("sku", "")),
        "upc": str(body.get("upc", "")),
        "type": "physical",
        "price_ex_tax": ex,
        "price_inc_tax": inc,
        "quantity": int(body["quantity"]),
        "quantity_shipped": 0,
        "quantity_refunded": 0,
        "is_refunded": False,
    }


def update_line(line: dict[str, Any], body: dict[str, Any]) -> None:
    """PATCH a line in place from a PUT /v2/orders/{id} product with an `id`."""
    for key in ("name", "name_customer", "name_merchant", "sku", "upc"):
        if key in body:
            line[key] = str(body[key])
    if "price_inc_tax" in body:
        line["price_inc_tax"] = money(body["price_inc_tax"])
    if "price_ex_tax" in body:
        line["price_ex_tax"] = money(body["price_ex_tax"])
    if "quantity" in body:
        line["quantity"] = int(body["quantity"])


def new_address(address_id: int, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    rec = address(body)
    rec.update(
        {
            "id": address_id,
            "order_id": order_id,
            "shipping_method": str(body.get("shipping_method", "Flat Rate")),
            "cost_ex_tax": money(body.get("cost_ex_tax", 0)),
            "cost_inc_tax": money(body.get("cost_inc_tax", 0)),
        }
    )
    return rec


def new_order(order_id: int, now: int, body: dict[str, Any]) -> dict[str, Any]:
    """An order record without lines/addresses (the store adds those, it owns the ids)."""
    billing = address(body.get("billing_address") or {})
    return {
        "id": order_id,
        "customer_id": int(body.get("customer_id", 0) or 0),
        "status_id": int(body.get("status_id", 1)),  # 1 Pending is the default (FACTS.md §1)
        "date_created": now,
        "date_modified": now,
        "date_shipped": None,
        "billing_address": billing,
        "customer_message": str(body.get("customer_message", "")),
        "staff_notes": str(body.get("staff_notes", "")),
        "is_deleted": False,
        "payment_method": str(body.get("payment_method", "Manual")),
        "payment_status": "",
        "payment_provider_id": "",
        "external_order_id": str(body.get("external_order_id", "")),
        "external_source": body.get("external_source"),
        "channel_id": int(body.get("channel_id", 1)),
        "order_source": "external",
        "customer_locale": "en",
        "shipping_cost_ex_tax": money(body.get("shipping_cost_ex_tax", 0)),
        "shipping_cost_inc_tax": money(body.get("shipping_cost_inc_tax", 0)),
        "products": [],
        "addresses": [],
        "shipments": [],
    }
