"""Deterministic sample orders: random.Random(seed) decides everything but the base time."""

from __future__ import annotations

import random
from typing import Any

from .clock import FrozenClock
from .store import Store

NAMES = (
    "Mug",
    "Tea Towel",
    "Chambray Shirt",
    "Canvas Tote",
    "Notebook",
    "Desk Lamp",
    "Water Bottle",
    "Wool Socks",
    "Cutting Board",
    "Candle",
)
PEOPLE = (
    ("Jane", "Doe", "Austin", "Texas", "78701"),
    ("Sam", "Lee", "Denver", "Colorado", "80202"),
    ("Ana", "Silva", "Miami", "Florida", "33101"),
    ("Tom", "Berg", "Seattle", "Washington", "98101"),
)
PROVIDERS = (("ups", "1Z"), ("usps", "94"), ("fedex", "77"))


def _address(rng: random.Random, index: int) -> dict[str, Any]:
    first, last, city, state, zip_code = PEOPLE[rng.randrange(len(PEOPLE))]
    return {
        "first_name": first,
        "last_name": last,
        "street_1": f"{rng.randint(1, 999)} Main St",
        "street_2": "" if index == 0 else f"Unit {index}",
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": "United States",
        "country_iso2": "US",
        "phone": f"555-01{rng.randint(10, 99)}",
        "email": f"{first.lower()}.{last.lower()}@example.com",
    }


def order_body(rng: random.Random, status_id: int) -> dict[str, Any]:
    """A POST /v2/orders body; status 3 orders get at least 2 items so one can stay unshipped."""
    addresses = [_address(rng, i) for i in range(1 if rng.random() < 0.75 else rng.randint(2, 3))]
    products: list[dict[str, Any]] = []
    for n in range(rng.randint(1, 4)):
        price = rng.randint(500, 9000) / 100
        products.append(
            {
                "name": NAMES[rng.randrange(len(NAMES))],
                "sku": f"SKU-{rng.randint(100, 999)}",
                "product_id": 0,
                "quantity": rng.randint(1, 3),
                "price_ex_tax": price,
                "price_inc_tax": round(price * 1.08, 2),
                "order_address_index": n % len(addresses),
            }
        )
    if status_id == 3:
        products[0]["quantity"] = max(2, int(products[0]["quantity"]))
    billing = addresses[0]
    return {
        "billing_address": billing,
        "shipping_addresses": addresses,
        "products": products,
        "customer_id": rng.choice((0, rng.randint(1, 40))),
        "status_id": 11,
        "shipping_cost_ex_tax": 5,
        "shipping_cost_inc_tax": 5.4,
    }


def _ship(store: Store, rng: random.Random, order: dict[str, Any], full: bool) -> None:
    """Full: one shipment per address with everything. Partial: 1 unit of the first line."""
    lines = store.sub_resources(order["id"], "products")
    provider, prefix = PROVIDERS[rng.randrange(len(PROVIDERS))]
    groups: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        groups.setdefault(line["order_address_id"], []).append(line)
    for address_id, group in groups.items():
        items = [{"order_product_id": x["id"], "quantity": x["quantity"]} for x in group]
        if not full:
            items = [{"order_product_id": group[0]["id"], "quantity": 1}]
        store.create_shipment(
            order["id"],
            {
                "order_address_id": address_id,
                "items": items,
                "shipping_provider": provider,
                "tracking_number": f"{prefix}{rng.randint(10**9, 10**10 - 1)}",
            },
        )
        if not full:
            return


def seed(store: Store, count: int, seed_value: int = 0, shipped: float | None = None) -> None:
    """Create `count` orders spread over all statuses 0-14, some shipped, some multi-address.

    `shipped`: the fraction of orders that are Shipped or Partially Shipped (alternately), the
    others spread over the other statuses; by default the 2 in 15 those statuses get."""
    rng = random.Random(seed_value)
    statuses = list(range(15))
    rng.shuffle(statuses)
    if shipped is not None:
        others = [s for s in statuses if s not in (2, 3)]
        statuses = [(2, 3)[int(i * shipped) % 2] if int((i + 1) * shipped) > int(i * shipped)
                    else others[i % len(others)] for i in range(count)]
    real_clock = store.clock
    clock = FrozenClock(int(real_clock()) - 86400 - count * 300)
    store.clock = clock
    try:
        with store.batch():
            for i in range(count):
                status_id = statuses[i % len(statuses)]
                order = store.create_order(order_body(rng, status_id))
                clock.advance(rng.choice((0, 60, 300)))
                if status_id in (2, 3):
                    _ship(store, rng, order, full=status_id == 2)
                store.set_status(order["id"], status_id)
                clock.advance(rng.choice((0, 0, 1, 45, 300)))  # several orders share a second
    finally:
        store.clock = real_clock
