"""Turn stored records into the response bodies of [v2] components.schemas.* (field for field)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from .dates import rfc2822
from .money import money, times, total
from .statuses import BY_ID

ZERO = "0.0000"
LINE_STORED_KEYS = (
    "id order_id product_id variant_id order_address_id name name_customer name_merchant sku "
    "upc type price_ex_tax price_inc_tax quantity quantity_shipped is_refunded "
    "quantity_refunded "
).split()
CONSIGNMENT_KEYS = (
    "id first_name last_name company street_1 street_2 city state zip country country_iso2 "
    "phone email form_fields shipping_method items_total items_shipped cost_tax_class_id "
    "handling_cost_tax_class_id shipping_zone_id shipping_zone_name "
).split()
CONSIGNMENT_NUMBER_KEYS = (
    "base_cost cost_ex_tax cost_inc_tax cost_tax base_handling_cost handling_cost_ex_tax "
    "handling_cost_inc_tax handling_cost_tax "
).split()
PROVIDER_NAMES = {
    "usps": "USPS",
    "ups": "UPS",
    "fedex": "FedEx",
    "auspost": "Australia Post",
    "canadapost": "Canada Post",
    "royalmail": "Royal Mail",
    "": "",
}


def link(api_root: str, resource: str) -> dict[str, str]:
    """A sub-resource link ([v2] components.schemas.products_Resource)."""
    return {"url": f"{api_root}{resource}", "resource": resource}


def line(rec: dict[str, Any]) -> dict[str, Any]:
    """[v2] components.schemas.orderProducts (additionalProperties: false: declared keys only)."""
    q = rec["quantity"]
    tax = money(Decimal(rec["price_inc_tax"]) - Decimal(rec["price_ex_tax"]))
    return {
        **{k: rec[k] for k in LINE_STORED_KEYS},
        "order_pickup_method_id": 0,
        "base_price": rec["price_ex_tax"],
        "price_tax": tax,
        "base_total": times(rec["price_ex_tax"], q),
        "total_ex_tax": times(rec["price_ex_tax"], q),
        "total_inc_tax": times(rec["price_inc_tax"], q),
        "total_tax": times(tax, q),
        "discounted_total_inc_tax": times(rec["price_inc_tax"], q),
        "weight": "1.0000",
        "width": "1.0000",
        "height": "1.0000",
        "depth": "1.0000",
        "base_cost_price": ZERO,
        "cost_price_inc_tax": ZERO,
        "cost_price_ex_tax": ZERO,
        "cost_price_tax": ZERO,
        "refund_amount": ZERO,
        "return_id": 0,
        "wrapping_id": 0,
        "wrapping_name": "",
        "base_wrapping_cost": ZERO,
        "wrapping_cost_ex_tax": ZERO,
        "wrapping_cost_inc_tax": ZERO,
        "wrapping_cost_tax": ZERO,
        "wrapping_message": "",
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": ZERO,
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": None,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": "",
        "applied_discounts": [],
        "product_options": [],
        "configurable_fields": [],
        "gift_certificate_id": None,
    }


def _counts(order: dict[str, Any], address_id: int | None = None) -> tuple[int, int]:
    lines = [
        x for x in order["products"] if address_id is None or x["order_address_id"] == address_id
    ]
    return sum(x["quantity"] for x in lines), sum(x["quantity_shipped"] for x in lines)


def address(order: dict[str, Any], rec: dict[str, Any], api_root: str) -> dict[str, Any]:
    """[v2] components.schemas.orderShippingAddress."""
    items_total, items_shipped = _counts(order, rec["id"])
    cost_tax = money(Decimal(rec["cost_inc_tax"]) - Decimal(rec["cost_ex_tax"]))
    quotes = f"/orders/{order['id']}/shipping_addresses/{rec['id']}/shipping_quotes"
    return {
        **rec,
        "items_total": items_total,
        "items_shipped": items_shipped,
        "base_cost": rec["cost_ex_tax"],
        "cost_tax": cost_tax,
        "cost_tax_class_id": 0,
        "base_handling_cost": ZERO,
        "handling_cost_ex_tax": ZERO,
        "handling_cost_inc_tax": ZERO,
        "handling_cost_tax": ZERO,
        "handling_cost_tax_class_id": 0,
        "shipping_zone_id": 1,
        "shipping_zone_name": "United States",
        "form_fields": [],
        "shipping_quotes": link(api_root, quotes),
    }


def consignment(
    order: dict[str, Any], rec: dict[str, Any], api_root: str, with_lines: bool
) -> dict[str, Any]:
    """[v2] components.schemas.shippingConsignment_Get (cost fields are numbers, not strings)."""
    full = address(order, rec, api_root)
    lines = [x for x in order["products"] if x["order_address_id"] == rec["id"]]
    body = {k: full[k] for k in CONSIGNMENT_KEYS}
    for key in CONSIGNMENT_NUMBER_KEYS:
        body[key] = float(full[key])
    body["line_items"] = (
        [line(x) for x in lines]
        if with_lines
        else [link(api_root, f"/orders/{order['id']}/products/{x['id']}") for x in lines]
    )
    body["shipping_quotes"] = link(
        api_root, f"/orders/{order['id']}/consignments/shipping/{rec['id']}/shipping_quotes"
    )
    return body


def _totals(order: dict[str, Any]) -> dict[str, str]:
    lines = order["products"]
    sub_ex = total(*(times(x["price_ex_tax"], x["quantity"]) for x in lines))
    sub_inc = total(*(times(x["price_inc_tax"], x["quantity"]) for x in lines))
    ship_ex, ship_inc = order["shipping_cost_ex_tax"], order["shipping_cost_inc_tax"]
    return {
        "subtotal_ex_tax": sub_ex,
        "subtotal_inc_tax": sub_inc,
        "subtotal_tax": money(Decimal(sub_inc) - Decimal(sub_ex)),
        "base_shipping_cost": ship_ex,
        "shipping_cost_tax": money(Decimal(ship_inc) - Decimal(ship_ex)),
        "total_ex_tax": total(sub_ex, ship_ex),
        "total_inc_tax": total(sub_inc, ship_inc),
        "total_tax": money(Decimal(total(sub_inc, ship_inc)) - Decimal(total(sub_ex, ship_ex))),
    }


def order(rec: dict[str, Any], api_root: str, custom_labels: dict[int, str]) -> dict[str, Any]:
    """[v2] components.schemas.order_Resp (order_RespOnly + order_Shared)."""
    items_total, items_shipped = _counts(rec)
    status = BY_ID[rec["status_id"]]
    skip = {"products", "addresses", "shipments", "billing_address"}  # rendered below
    # The body shares nothing with the record: a field a PUT or POST stored as an object or a
    # list (they are kept as sent) is copied; everything else here is built afresh.
    body: dict[str, Any] = {k: copy.deepcopy(v) if isinstance(v, dict | list) else v
                            for k, v in rec.items() if k not in skip}
    body.update(
        {
            "date_created": rfc2822(rec["date_created"]),
            "date_modified": rfc2822(rec["date_modified"]),
            "date_shipped": rfc2822(rec["date_shipped"]),
            "status": status.name,
            "custom_status": custom_labels.get(status.id, status.name),
            "shipping_cost_tax_class_id": 0,
            "base_handling_cost": ZERO,
            "handling_cost_ex_tax": ZERO,
            "handling_cost_inc_tax": ZERO,
            "handling_cost_tax": ZERO,
            "handling_cost_tax_class_id": 0,
            "base_wrapping_cost": ZERO,
            "wrapping_cost_ex_tax": ZERO,
            "wrapping_cost_inc_tax": ZERO,
            "wrapping_cost_tax": ZERO,
            "wrapping_cost_tax_class_id": 0,
            "is_tax_inclusive_pricing": False,
            "items_total": items_total,
            "items_shipped": items_shipped,
            "refunded_amount": ZERO,
            "order_is_digital": False,
            "store_credit_amount": ZERO,
            "gift_certificate_amount": ZERO,
            "ip_address": rec.get("ip_address", ""),
            "ip_address_v6": rec.get("ip_address_v6", ""),
            "geoip_country": "",
            "geoip_country_iso2": "",
            "currency_id": 1,
            "currency_code": "USD",
            "currency_exchange_rate": "1.0000000000",
            "default_currency_id": 1,
            "default_currency_code": "USD",
            "store_default_currency_code": "USD",
            "store_default_to_transactional_exchange_rate": "1.0000000000",
            "discount_amount": ZERO,
            "coupon_discount": ZERO,
            "shipping_address_count": len(rec["addresses"]),
            "ebay_order_id": "0",
            "cart_id": rec.get("cart_id", ""),
            "is_email_opt_in": False,
            "external_id": None,
            "external_merchant_id": rec.get("external_merchant_id"),
            "tax_provider_id": "BasicTaxProvider",
            "billing_address": {**rec["billing_address"], "form_fields": []},
            "products": link(api_root, f"/orders/{rec['id']}/products"),
            "shipping_addresses": link(api_root, f"/orders/{rec['id']}/shipping_addresses"),
            "coupons": link(api_root, f"/orders/{rec['id']}/coupons"),
        }
    )
    body.update(_totals(rec))
    return body


def consignments(rec: dict[str, Any], api_root: str, with_lines: bool) -> dict[str, Any]:
    """[v2] components.schemas.orderConsignment_Get (the sandbox has shipping consignments only)."""
    return {
        "pickups": [],
        "downloads": [],
        "email": {"gift_certificates": []},
        "shipping": [consignment(rec, a, api_root, with_lines) for a in rec["addresses"]],
    }


def shipment(order: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """[v2] components.schemas.orderShipment."""
    addr: dict[str, Any] = next(
        (a for a in order["addresses"] if a["id"] == rec["order_address_id"]), {}
    )
    provider = rec.get("shipping_provider", "")
    generated = ""
    if provider and not rec.get("tracking_link") and rec.get("tracking_number"):
        generated = f"https://tracking.example/{provider}/{rec['tracking_number']}"
    return {
        **rec,
        "date_created": rfc2822(rec["date_created"]),
        "customer_id": order["customer_id"],
        "billing_address": dict(order["billing_address"]),
        "shipping_address": {k: v for k, v in addr.items() if k in order["billing_address"]},
        "shipping_provider_display_name": PROVIDER_NAMES.get(provider, provider),
        "generated_tracking_link": generated,
    }
