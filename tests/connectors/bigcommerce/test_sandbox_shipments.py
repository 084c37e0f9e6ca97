"""Shipments: quantities, status 3 then 2, validation, PUT limits, delete behaviour."""

from __future__ import annotations

from connectors.bigcommerce.sandbox.clock import FrozenClock
from tests.support.sandbox_api import SandboxApi, order_body


def _order_and_lines(api: SandboxApi, quantities=(2, 1), addresses=1) -> tuple[int, list[dict]]:
    oid = api.post("/v2/orders", order_body(quantities, addresses=addresses)).json()["id"]
    return oid, api.get(f"/v2/orders/{oid}/products").json()


def _ship(api: SandboxApi, oid: int, line: dict, qty: int, **extra):
    return api.post(
        f"/v2/orders/{oid}/shipments",
        {
            "order_address_id": line["order_address_id"],
            "tracking_number": "1Z1",
            **extra,
            "items": [{"order_product_id": line["id"], "quantity": qty}],
        },
    )


def test_shipping_moves_status_to_3_then_2(
    sandbox_api: SandboxApi, sandbox_clock: FrozenClock
) -> None:
    oid, lines = _order_and_lines(sandbox_api)
    sandbox_clock.advance(10)
    first = _ship(sandbox_api, oid, lines[0], 1)
    assert first.status_code == 201
    order = sandbox_api.get(f"/v2/orders/{oid}").json()
    assert (order["status_id"], order["items_shipped"], order["date_shipped"]) == (3, 1, "")
    assert sandbox_api.get(f"/v2/orders/{oid}/products").json()[0]["quantity_shipped"] == 1
    sandbox_clock.advance(10)
    second = sandbox_api.post(
        f"/v2/orders/{oid}/shipments",
        {
            "order_address_id": lines[0]["order_address_id"],
            "items": [
                {"order_product_id": lines[0]["id"], "quantity": 1},
                {"order_product_id": lines[1]["id"], "quantity": 1},
            ],
        },
    )
    assert second.status_code == 201
    order = sandbox_api.get(f"/v2/orders/{oid}").json()
    assert (order["status_id"], order["items_shipped"], order["items_total"]) == (2, 3, 3)
    assert order["date_shipped"] == order["date_modified"] != ""
    address = sandbox_api.get(f"/v2/orders/{oid}/shipping_addresses").json()[0]
    assert (address["items_total"], address["items_shipped"]) == (3, 3)
    assert sandbox_api.get(f"/v2/orders/{oid}/shipments/count").json() == {"count": 2}


def test_over_shipping_and_bad_bodies_are_refused(sandbox_api: SandboxApi) -> None:
    oid, lines = _order_and_lines(sandbox_api)
    over = _ship(sandbox_api, oid, lines[0], 3)
    assert over.status_code == 422 and "only 2 left" in over.json()[0]["message"]
    assert _ship(sandbox_api, oid, lines[0], 2).status_code == 201
    assert _ship(sandbox_api, oid, lines[0], 1).status_code == 422
    assert sandbox_api.post(f"/v2/orders/{oid}/shipments", {"items": []}).status_code == 400
    no_items = sandbox_api.post(
        f"/v2/orders/{oid}/shipments", {"order_address_id": lines[0]["order_address_id"]}
    )
    assert no_items.status_code == 400
    assert _ship(sandbox_api, oid, {**lines[1], "id": 9999}, 1).status_code == 422
    assert _ship(sandbox_api, oid, lines[1], 1, tracking_number="x" * 51).status_code == 400
    assert sandbox_api.get(f"/v2/orders/{oid}").json()["items_shipped"] == 2


def test_multi_address_orders_ship_per_address(sandbox_api: SandboxApi) -> None:
    oid, lines = _order_and_lines(sandbox_api, (1, 1), addresses=2)
    assert lines[0]["order_address_id"] != lines[1]["order_address_id"]
    wrong = sandbox_api.post(
        f"/v2/orders/{oid}/shipments",
        {
            "order_address_id": lines[0]["order_address_id"],
            "items": [{"order_product_id": lines[1]["id"], "quantity": 1}],
        },
    )
    assert wrong.status_code == 422
    assert _ship(sandbox_api, oid, lines[0], 1).status_code == 201
    addresses = sandbox_api.get(f"/v2/orders/{oid}/shipping_addresses").json()
    assert [(a["items_total"], a["items_shipped"]) for a in addresses] == [(1, 1), (1, 0)]


def test_put_cannot_change_items_and_delete_keeps_the_status(sandbox_api: SandboxApi) -> None:
    oid, lines = _order_and_lines(sandbox_api, (1,))
    shipment = _ship(sandbox_api, oid, lines[0], 1, shipping_provider="ups").json()
    path = f"/v2/orders/{oid}/shipments/{shipment['id']}"
    assert sandbox_api.put(path, {"items": []}).status_code == 400
    updated = sandbox_api.put(path, {"tracking_number": "1Z2", "tracking_carrier": "ups"}).json()
    assert (updated["tracking_number"], updated["items"]) == ("1Z2", shipment["items"])
    assert sandbox_api.get(f"/v2/orders/{oid}").json()["status_id"] == 2
    assert sandbox_api.delete(path).status_code == 204
    order = sandbox_api.get(f"/v2/orders/{oid}").json()
    assert (order["status_id"], order["items_shipped"]) == (2, 0)  # FACTS §5; quantities given back
    assert sandbox_api.get(path).status_code == 404
    assert sandbox_api.get(f"/v2/orders/{oid}/shipments").status_code == 204


def test_delete_all_shipments_of_one_order(sandbox_api: SandboxApi) -> None:
    oid, lines = _order_and_lines(sandbox_api, (2,))
    _ship(sandbox_api, oid, lines[0], 1)
    _ship(sandbox_api, oid, lines[0], 1)
    assert sandbox_api.delete(f"/v2/orders/{oid}/shipments").status_code == 204
    assert sandbox_api.get(f"/v2/orders/{oid}/shipments/count").json() == {"count": 0}
