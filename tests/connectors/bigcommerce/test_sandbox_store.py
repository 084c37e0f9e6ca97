"""Seeding, persistence across restarts, the Python store helpers and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from connectors.bigcommerce.sandbox import Sandbox, Store
from connectors.bigcommerce.sandbox.clock import FrozenClock
from connectors.bigcommerce.sandbox.seeding import seed
from tests.support.sandbox_api import SandboxApi, order_body


def _snapshot(store: Store) -> list[tuple]:
    return [
        (
            o["id"],
            o["status_id"],
            o["items_total"],
            o["items_shipped"],
            o["shipping_address_count"],
            o["date_modified"],
        )
        for o in (store.order(i) for i in store.order_ids({}))
    ]


def test_seeding_is_deterministic_and_covers_every_status() -> None:
    stores = [Store("sandbox", clock=FrozenClock(1_790_000_000)) for _ in range(2)]
    for store in stores:
        seed(store, 45, 5)
    assert _snapshot(stores[0]) == _snapshot(stores[1])
    orders = [stores[0].order(i) for i in stores[0].order_ids({})]
    assert {o["status_id"] for o in orders} == set(range(15))
    assert any(o["shipping_address_count"] > 1 for o in orders)
    shipped = [o for o in orders if o["status_id"] == 2]
    assert all(o["items_shipped"] == o["items_total"] and o["date_shipped"] for o in shipped)
    partial = [o for o in orders if o["status_id"] == 3]
    assert all(0 < o["items_shipped"] < o["items_total"] for o in partial)
    tracked = stores[0].sub_resources(partial[0]["id"], "shipments")
    assert tracked and tracked[0]["tracking_number"]
    assert len({o["date_modified"] for o in orders}) < len(orders)  # some share a second


def test_an_order_read_shares_nothing_with_the_store() -> None:
    """Store.order hands out no container of its record (it does not copy what it renders):
    changing a body read earlier changes nothing in the store, and a later change in the store
    (one made in place, as the billing address and shipping addresses are) leaves the body as
    it was read. A field a PUT sent as an object is the store's own copy too."""
    store = Store("sandbox", clock=FrozenClock(1_790_000_000))
    seed(store, 12, 5, shipped=0.5)
    include = frozenset({"consignments", "consignments.line_items"})
    first = store.order_ids({})[0]
    sent = {"external_source": {"app": "pos", "tags": ["a"]}, "staff_notes": ["x"]}
    reply = store.update_order(first, sent)
    assert reply["external_source"] == sent["external_source"]
    assert reply["external_source"] is not sent["external_source"]
    body = store.order(first, include)
    as_read = repr(body)
    nested = [v for v in body.values() if isinstance(v, dict | list)]
    nested += [v for c in body["consignments"]["shipping"] for v in c.values()
               if isinstance(v, dict | list)]
    for value in nested:
        value.clear()
    assert repr(store.order(first, include)) == as_read
    body = store.order(first, include)
    address_id = body["consignments"]["shipping"][0]["id"]
    store.update_order(first, {"billing_address": {"city": "Elsewhere"},
                               "shipping_addresses": [{"id": address_id, "city": "Away"}]})
    assert repr(body) == as_read


def test_data_file_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "store.json"
    with Sandbox(data_file=data, seed_orders=5) as sb:
        api = SandboxApi(sb)
        made = api.post("/v2/orders", order_body()).json()
        api.post("/v3/hooks", {"scope": "store/order/*", "destination": "https://example.com/h"})
        api.close()
    assert data.exists() and not list(tmp_path.glob("*.tmp"))
    with Sandbox(data_file=data, seed_orders=5) as sb:  # loaded, so not seeded again
        api = SandboxApi(sb)
        assert (
            api.get(f"/v2/orders/{made['id']}").json()["billing_address"] == made["billing_address"]
        )
        assert api.get("/v2/orders/count").json()["count"] == 6
        assert len(api.get("/v3/hooks").json()["data"]) == 1
        assert api.post("/v2/orders", order_body()).json()["id"] == made["id"] + 1
        api.close()


def test_python_helpers_and_call_counts(sandbox: Sandbox, sandbox_api: SandboxApi) -> None:
    order = sandbox.store.create_order(order_body((1,)))
    sandbox.store.set_status(order["id"], 11)
    line = sandbox.store.sub_resources(order["id"], "products")[0]
    sandbox.store.create_shipment(
        order["id"],
        {
            "order_address_id": line["order_address_id"],
            "items": [{"order_product_id": line["id"], "quantity": 1}],
        },
    )
    sandbox.store.update_order(order["id"], {"staff_notes": "ok"})
    assert sandbox_api.get(f"/v2/orders/{order['id']}").json()["status_id"] == 2
    for _ in range(3):
        sandbox_api.get(f"/v2/orders/{order['id']}/shipments")
    assert sandbox.api_calls() == {"GET /v2/orders/{id}": 1, "GET /v2/orders/{id}/shipments": 3}
    sandbox.reset_counts()
    assert sandbox_api.control("GET", "/calls").json() == {}


def test_cli_prints_the_settings_but_not_the_token() -> None:
    env = {**os.environ, "BIGCOMMERCE_ACCESS_TOKEN": "t0p-s3cret", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.bigcommerce.sandbox.cli", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        url = lines[0].rsplit(" ", 1)[1].strip()
        assert lines[2].strip() == f"export BIGCOMMERCE_API_URL={url}"
        assert "BIGCOMMERCE_STORE_HASH=sandbox" in lines[3] and "is set" in lines[4]
        session = requests.Session()
        session.trust_env = False
        count = session.get(
            f"{url}/stores/sandbox/v2/orders/count",
            headers={"X-Auth-Token": "t0p-s3cret"},
            timeout=5,
        )
        assert count.json()["count"] == 3
        session.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "t0p-s3cret" not in "".join(lines) + out
