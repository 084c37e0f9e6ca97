"""The connector against the running sandbox over a real socket: paging, quota, faults."""
from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.bigcommerce.changefeed import ChangeFeed, Cursor, OrderChange
from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.policy import RetryPolicy
from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from connectors.bigcommerce.sandbox.seeding import order_body

T0 = 1_790_000_000
QUICK = RetryPolicy(max_retries=8, base_delay=0.001, max_delay=0.01, server_error_floor=0.0)


def client_for(sb: Sandbox, **kwargs: Any) -> BigCommerceClient:
    kwargs.setdefault("policy", QUICK)
    return BigCommerceClient("sandbox", "sandbox-token", api_url=sb.base_url,
                             rng=random.Random(3), **kwargs)


def populate(sb: Sandbox, clock: FrozenClock, count: int, per_second: int,
             shipped: int = 0) -> list[int]:
    """`count` orders, `per_second` of them sharing each second; the first `shipped` ship 1 unit."""
    rng = random.Random(11)
    ids = []
    for n in range(count):
        clock.set(T0 + n // per_second)
        ids.append(sb.store.create_order(order_body(rng, 11))["id"])
    for order_id in ids[:shipped]:
        sb.store.create_shipment(order_id, ship_body(sb, order_id))
    clock.set(T0 + count // per_second + 1)
    return ids


def ship_body(sb: Sandbox, order_id: int) -> dict[str, Any]:
    line = sb.store.sub_resources(order_id, "products")[0]
    return {"order_address_id": line["order_address_id"], "tracking_number": f"1Z{order_id}",
            "shipping_provider": "ups", "items": [{"order_product_id": line["id"], "quantity": 1}]}


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def store_1k(frozen: FrozenClock) -> Iterator[tuple[Sandbox, list[int]]]:
    with Sandbox(clock=frozen) as sb:
        yield sb, populate(sb, frozen, 1000, per_second=300)


def feed_run(feed: ChangeFeed, cursor: Cursor) -> tuple[list[OrderChange], Cursor]:
    batch = feed.changes(cursor)
    return list(batch), batch.cursor


def test_1000_orders_sharing_seconds_modified_while_paging(
        store_1k: tuple[Sandbox, list[int]], frozen: FrozenClock) -> None:
    sb, ids = store_1k
    now = frozen()
    client = client_for(sb)
    pages = 0
    original = client.list_orders_page

    def list_page(**filters: Any) -> list[dict[str, Any]]:
        nonlocal pages
        page = original(**filters)
        pages += 1
        if pages == 1:  # meanwhile, in the store:
            sb.store.set_status(ids[5], 9)        # passed already, stamped in the open second
            sb.store.set_status(ids[800], 9)      # not reached yet: leaves the window
            frozen.set(now - 1)                   # a late writer stamps the boundary second
            sb.store.set_status(ids[6], 2)        # passed already
            sb.store.set_status(ids[900], 2)      # not reached yet: stays in the window
            frozen.set(now)
        return page
    client.list_orders_page = list_page  # type: ignore[method-assign]
    feed = ChangeFeed(client)
    first, cursor = feed_run(feed, Cursor())
    frozen.set(now + 2)
    second, cursor = feed_run(feed, cursor)
    frozen.set(now + 120)
    third, _ = feed_run(feed, cursor)

    changes = first + second + third
    keys = [(c.order_id, c.order["date_modified"]) for c in changes if c.order]
    # Only what the first run read in its own, still open, second is read twice (the sync's
    # deterministic event ids absorb that); everything else exactly once.
    repeated = {k for k in keys if keys.count(k) > 1}
    open_second = first[0].order["date_modified"][:11] if first[0].order else ""
    assert {k[0] for k in repeated} <= {ids[5], ids[800]}, repeated
    assert all(k[1].startswith(open_second) for k in repeated)
    assert {c.order_id for c in changes} == set(ids), "an order was missed"
    assert third == []
    assert [c.error for c in changes if c.error] == []
    latest = {c.order_id: c.order["status_id"] for c in changes if c.order}
    assert (latest[ids[5]], latest[ids[800]], latest[ids[6]], latest[ids[900]]) == (9, 9, 2, 2)
    assert [k[0] for k in keys].count(ids[900]) == 1  # its old version was never listed
    calls = sb.api_calls()
    assert "GET /v2/orders/{id}/products" not in calls and "GET /v2/orders/{id}" not in calls


def test_quota_of_20_per_2_seconds_completes_without_429(frozen: FrozenClock) -> None:
    with Sandbox(clock=frozen, quota=20, window_ms=2000) as sb:
        ids = populate(sb, frozen, 300, per_second=100, shipped=25)
        client = client_for(sb, policy=RetryPolicy())  # real sleeps: the window is real time
        changes, _ = feed_run(ChangeFeed(client), Cursor())
        assert {c.order_id for c in changes} == set(ids)
        assert sum(1 for c in changes if c.shipments) == 25
        assert client.stats["rate_limited"] == 0
        assert sum(sb.api_calls().values()) == client.stats["requests"] > 20


def import_and_ship(sb: Sandbox, frozen: FrozenClock, client: BigCommerceClient) -> dict:
    """Import everything, ship one unit of 20 unshipped orders, import the changes again."""
    ids = populate(sb, frozen, 200, per_second=50, shipped=30)
    known: dict[int, int] = {}
    feed = ChangeFeed(client, known_items_shipped=known)
    first, cursor = feed_run(feed, Cursor())
    known.update({c.order_id: c.order["items_shipped"] for c in first if c.order})
    created = [client.create_shipment_once(i, ship_body(sb, i))["id"] for i in ids[50:70]]
    frozen.set(frozen() + 2)
    second, _ = feed_run(feed, cursor)
    return {
        "orders": {c.order_id: c.order for c in first},
        "changed": {c.order_id: (c.order, c.shipments) for c in second},
        "created": created,
        "shipments": {i: sb.store.sub_resources(i, "shipments") for i in ids},
    }


def test_20_percent_faults_give_the_clean_result_and_no_duplicate_shipment() -> None:
    clean_clock, faulty_clock = FrozenClock(T0), FrozenClock(T0)
    with Sandbox(clock=clean_clock) as sb:
        clean = import_and_ship(sb, clean_clock, client_for(sb))
    with Sandbox(clock=faulty_clock, fault_rate=0.2, fault_seed=5) as sb:
        client = client_for(sb)
        faulty = import_and_ship(sb, faulty_clock, client)
        posts = sb.api_calls()["POST /v2/orders/{id}/shipments"]
    assert client.stats["retries"] > 10  # the faults really happened
    assert posts > 20  # some shipment POSTs failed (some after the write) and were reconciled
    assert faulty == clean
    assert sorted(clean["changed"]) == sorted(clean["shipments"])[50:70]
    assert all(len(faulty["shipments"][i]) == 1 for i in sorted(faulty["shipments"])[50:70])
