"""API calls per imported order: the change feed against a naive per-order import.

Seeds a sandbox store with N orders (a share of them with a shipment, many sharing each
date_modified second), imports them all through ChangeFeed over a real socket, and counts the
requests the sandbox served. Then a naive client imports the same store, one call per resource:
it lists the orders page by page and reads each order, its products, its shipping addresses and
its shipments; its calls are counted the same way. Target: ceil(N/250) + (orders with shipments)
+ 3 calls for the change feed; the exit status is 1 when it is MISSED.

    python bench/api_calls.py [--orders 5000] [--shipped 0.3]
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time

from connectors.bigcommerce.changefeed import ChangeFeed, Cursor
from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from connectors.bigcommerce.sandbox.seeding import order_body

T0 = 1_790_000_000
PER_SECOND = 40  # orders sharing one date_modified second


def seed(sb: Sandbox, clock: FrozenClock, orders: int, shipped_share: float) -> int:
    """Create the orders straight in the store (not counted); return how many have a shipment."""
    rng = random.Random(2026)
    shipped = 0
    for n in range(orders):
        clock.set(T0 + n // PER_SECOND)
        order_id = sb.store.create_order(order_body(rng, 11))["id"]
        if rng.random() < shipped_share:
            line = sb.store.sub_resources(order_id, "products")[0]
            sb.store.create_shipment(order_id, {
                "order_address_id": line["order_address_id"], "tracking_number": f"1Z{order_id}",
                "items": [{"order_product_id": line["id"], "quantity": 1}]})
            shipped += 1
    clock.set(T0 + orders // PER_SECOND + 2)
    return shipped


def naive_import(client: BigCommerceClient) -> int:
    """One call per resource, as a first integration would do it; the orders read."""
    read = 0
    for listed in client.list_orders():
        order_id = int(listed["id"])
        client.get_order(order_id)
        client.order_products(order_id)
        client.shipping_addresses(order_id)
        client.list_shipments(order_id)
        read += 1
    return read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--shipped", type=float, default=0.3)
    args = parser.parse_args(argv)
    clock = FrozenClock(T0)
    with Sandbox(clock=clock) as sb:
        shipped = seed(sb, clock, args.orders, args.shipped)
        sb.reset_counts()
        client = BigCommerceClient("sandbox", "sandbox-token", api_url=sb.base_url)
        started = time.perf_counter()
        batch = ChangeFeed(client, known_items_shipped={}).changes(Cursor())
        imported = sum(1 for change in batch if change.order is not None)
        elapsed = time.perf_counter() - started
        calls = sb.api_calls()
        sb.reset_counts()
        naive_read = naive_import(BigCommerceClient("sandbox", "sandbox-token",
                                                    api_url=sb.base_url))
        naive = sum(sb.api_calls().values())
    total = sum(calls.values())
    target = math.ceil(args.orders / 250) + shipped + 3
    met = total <= target and imported == args.orders
    print(f"orders imported:        {imported} of {args.orders} ({shipped} with shipments)")
    per_order = total / args.orders
    print(f"change feed API calls:  {total} ({per_order:.3f} per order) in {elapsed:.1f}s")
    print(f"naive API calls:        {naive} ({naive / args.orders:.3f} per order, "
          f"{naive_read} orders read)")
    print(f"target:                 <= {target}: {'met' if met else 'MISSED'}")
    for endpoint, count in sorted(calls.items()):
        print(f"  {count:6d}  {endpoint}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
