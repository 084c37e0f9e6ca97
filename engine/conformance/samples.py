"""The store orders the kit creates, and how it reads an apply's summary."""
from __future__ import annotations

from typing import Any

ADDRESS = {
    "first_name": "Jo", "last_name": "Doe", "company": "", "street_1": "1 Main St",
    "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
    "country": "United States", "country_iso2": "US", "phone": "555-0100",
    "email": "jo@example.com",
}
SECOND_ADDRESS = {**ADDRESS, "first_name": "Sam", "street_1": "9 Side Rd", "city": "Dallas",
                  "zip": "75201", "email": "sam@example.com"}
# A 3-item order: 2 mugs and 1 cap.
THREE_ITEMS = (("MUG-1", "Mug", 2, "12.00"), ("CAP-1", "Cap", 1, "5.00"))


def order_body(status_id: int, lines: tuple[tuple[str, str, int, str], ...] = THREE_ITEMS,
               addresses: tuple[dict[str, Any], ...] = (ADDRESS,),
               message: str = "Leave at the door") -> dict[str, Any]:
    """A store order (POST /v2/orders) with these lines: (sku, name, quantity, price)."""
    return {
        "status_id": status_id,
        "billing_address": dict(ADDRESS),
        "shipping_addresses": [dict(a) for a in addresses],
        "products": [{"name": name, "sku": sku, "quantity": qty, "price_inc_tax": price,
                      "price_ex_tax": price} for sku, name, qty, price in lines],
        "customer_message": message,
    }


def shipment_items(shipment: dict[str, Any]) -> list[tuple[int, int]]:
    return sorted((int(i["order_product_id"]), int(i["quantity"])) for i in shipment["items"])


NOTHING_DONE = {"imported": 0, "updated": 0, "pushed": 0, "conflicts": 0, "errors": 0}


def counts(summary: dict[str, Any]) -> dict[str, int]:
    """What an `apply --json` summary says it did."""
    return {k: summary[k] for k in NOTHING_DONE}
