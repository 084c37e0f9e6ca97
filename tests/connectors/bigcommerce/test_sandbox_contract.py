"""Every kind of sandbox response, validated against the official spec's response schema."""

from __future__ import annotations

import jsonschema
import pytest

from tests.support.sandbox_api import SandboxApi, order_body


@pytest.fixture
def shipped(sandbox_api: SandboxApi) -> dict:
    """An order with two addresses and one shipment."""
    order = sandbox_api.post("/v2/orders", order_body((2, 1), addresses=2)).json()
    lines = sandbox_api.get(f"/v2/orders/{order['id']}/products").json()
    shipment = sandbox_api.post(
        f"/v2/orders/{order['id']}/shipments",
        {
            "order_address_id": lines[0]["order_address_id"],
            "tracking_number": "1Z999",
            "shipping_provider": "ups",
            "items": [{"order_product_id": lines[0]["id"], "quantity": 1}],
        },
    )
    assert shipment.status_code == 201
    return {"order": order, "lines": lines, "shipment": shipment.json()}


def test_order_endpoints_match_the_spec(
    sandbox_api: SandboxApi, shipped: dict, spec_validate
) -> None:
    oid = shipped["order"]["id"]
    spec_validate("v2.order", shipped["order"])
    spec_validate("v2.order", sandbox_api.get(f"/v2/orders/{oid}").json())
    listed = sandbox_api.get(
        "/v2/orders",
        params={
            "include": "consignments,consignments.line_items",
            "consignment_structure": "object",
        },
    ).json()
    spec_validate("v2.orders", listed)
    assert listed[0]["consignments"]["shipping"][0]["line_items"][0]["sku"] == "SKU-0"
    links = sandbox_api.get(
        f"/v2/orders/{oid}", params={"include": "consignments", "consignment_structure": "object"}
    ).json()
    spec_validate("v2.order", links)
    spec_validate("v2.orders_count", sandbox_api.get("/v2/orders/count").json())
    spec_validate("v2.order", sandbox_api.put(f"/v2/orders/{oid}", {"staff_notes": "x"}).json())


def test_sub_resources_match_the_spec(
    sandbox_api: SandboxApi, shipped: dict, spec_validate
) -> None:
    oid, line = shipped["order"]["id"], shipped["lines"][0]
    spec_validate("v2.products", shipped["lines"])
    spec_validate("v2.product", sandbox_api.get(f"/v2/orders/{oid}/products/{line['id']}").json())
    addresses = sandbox_api.get(f"/v2/orders/{oid}/shipping_addresses").json()
    spec_validate("v2.shipping_addresses", addresses)
    spec_validate(
        "v2.shipping_address",
        sandbox_api.get(f"/v2/orders/{oid}/shipping_addresses/{addresses[1]['id']}").json(),
    )
    sid = shipped["shipment"]["id"]
    spec_validate("v2.shipment", shipped["shipment"])
    spec_validate("v2.shipments", sandbox_api.get(f"/v2/orders/{oid}/shipments").json())
    spec_validate("v2.shipment", sandbox_api.get(f"/v2/orders/{oid}/shipments/{sid}").json())
    spec_validate(
        "v2.shipment",
        sandbox_api.put(f"/v2/orders/{oid}/shipments/{sid}", {"tracking_number": "1Z000"}).json(),
    )
    spec_validate("v2.count", sandbox_api.get(f"/v2/orders/{oid}/shipments/count").json())


def test_statuses_time_and_errors_match_the_spec(sandbox_api: SandboxApi, spec_validate) -> None:
    spec_validate("v2.order_statuses", sandbox_api.get("/v2/order_statuses").json())
    spec_validate("v2.order_status", sandbox_api.get("/v2/order_statuses/11").json())
    spec_validate("v2.time", sandbox_api.get("/v2/time").json())
    for response, status in (
        (sandbox_api.get("/v2/orders/999"), 404),
        (sandbox_api.get("/v2/orders", params={"limit": 251}), 413),
        (sandbox_api.get("/v2/time", headers={"X-Auth-Token": "wrong"}), 401),
        (sandbox_api.post("/v2/orders/999/shipments", {}), 404),
    ):
        assert response.status_code == status, response.request.url
        spec_validate("v2.error", response.json())
        assert isinstance(response.json(), list)


def test_hooks_match_the_spec(sandbox_api: SandboxApi, spec_validate) -> None:
    created = sandbox_api.post(
        "/v3/hooks",
        {
            "scope": "store/order/*",
            "destination": "https://example.com/h",
            "is_active": True,
            "headers": {"X-Secret": "s"},
        },
    )
    assert created.status_code == 200
    spec_validate("v3.hook_created", created.json())
    hid = created.json()["data"]["id"]
    spec_validate("v3.hooks", sandbox_api.get("/v3/hooks").json())
    spec_validate("v3.hook", sandbox_api.get(f"/v3/hooks/{hid}").json())
    spec_validate("v3.hook", sandbox_api.put(f"/v3/hooks/{hid}", {"is_active": False}).json())
    spec_validate("v3.hook", sandbox_api.delete(f"/v3/hooks/{hid}").json())
    missing = sandbox_api.get(f"/v3/hooks/{hid}")
    assert missing.status_code == 404
    spec_validate("v3.error", missing.json())
    invalid = sandbox_api.post("/v3/hooks", {"scope": "store/order/*"})
    assert invalid.status_code == 422
    spec_validate("v3.error_detailed", invalid.json())
    assert invalid.json()["errors"] == {"destination": "error.path.missing"}
    unauthorized = sandbox_api.get("/v3/hooks", headers={"X-Auth-Token": ""})
    assert unauthorized.status_code == 401
    spec_validate("v3.error", unauthorized.json())


def test_the_check_rejects_a_broken_response(
    sandbox_api: SandboxApi, shipped: dict, spec_validate
) -> None:
    """A test that cannot fail is a defect: break real responses and watch the check reject them."""
    line = dict(shipped["lines"][0], quantity="2")  # a string where the spec says integer
    with pytest.raises(jsonschema.ValidationError, match="'2' is not of type 'integer'"):
        spec_validate("v2.product", line)
    extra = dict(shipped["lines"][0], colour="red")  # orderProducts has additionalProperties: false
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        spec_validate("v2.product", extra)
    with pytest.raises(jsonschema.ValidationError):
        spec_validate("v2.error", {"status": 404, "message": "v2 errors are arrays"})
