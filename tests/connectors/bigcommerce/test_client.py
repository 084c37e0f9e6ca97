"""BigCommerceClient against a fake transport: requests, paging, safety rails and redaction."""
from __future__ import annotations

import pytest
from test_client_fakes import TOKEN, Reply, make_client, scripted

from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.errors import FatalApiError, NotFoundError, RefusedRequestError
from engine.errors import ConfigError, RulesyncError


def test_headers_and_base_url() -> None:
    client, adapter, _ = make_client(scripted(Reply(200, {"time": 1})))
    client.server_time()
    call = adapter.calls[0]
    assert call.path == "/stores/abc123/v2/time"
    assert call.headers["X-Auth-Token"] == TOKEN
    assert call.headers["Accept"] == "application/json"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["User-Agent"].startswith("rulesync/")


def test_repr_and_errors_never_show_the_token() -> None:
    client, _, _ = make_client(scripted(Reply(401, [{"status": 401, "message": f"bad {TOKEN}"}])))
    assert TOKEN not in repr(client) and "***" in repr(client)
    with pytest.raises(FatalApiError) as info:
        client.get_order(5)
    assert TOKEN not in str(info.value)
    assert info.value.status == 401 and info.value.method == "GET"
    assert info.value.endpoint == "/v2/orders/{order_id}"


def test_from_env_reads_the_three_variables() -> None:
    env = {"BIGCOMMERCE_API_URL": "http://127.0.0.1:9/", "BIGCOMMERCE_STORE_HASH": "h1",
           "BIGCOMMERCE_ACCESS_TOKEN": TOKEN}
    client = BigCommerceClient.from_env(env)
    assert client.api_url == "http://127.0.0.1:9" and client.store_hash == "h1"
    assert BigCommerceClient.from_env({**env, "BIGCOMMERCE_API_URL": ""}).api_url == (
        "https://api.bigcommerce.com")


def test_from_env_names_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="BIGCOMMERCE_ACCESS_TOKEN"):
        BigCommerceClient.from_env({"BIGCOMMERCE_STORE_HASH": "h1"})


def test_list_orders_pages_until_a_short_page() -> None:
    pages = {"1": [{"id": i} for i in range(1, 251)], "2": [{"id": 251}]}
    client, adapter, _ = make_client(lambda call: Reply(200, pages[call.params["page"]]))
    assert len(list(client.list_orders(status_id=11))) == 251
    params = adapter.calls[0].params
    assert params == {"sort": "date_modified:asc", "limit": "250", "page": "1", "status_id": "11",
                      "include": "consignments,consignments.line_items",
                      "consignment_structure": "object"}
    assert len(adapter.calls) == 2


def test_a_list_page_without_consignments_leaves_the_include_out() -> None:
    client, adapter, _ = make_client(scripted(Reply(200, [{"id": 1}])))
    client.list_orders_page(min_id=1, include=None, consignment_structure=None)
    assert adapter.calls[0].params == {"limit": "250", "min_id": "1"}


def test_list_orders_stops_on_204() -> None:
    full = [{"id": i} for i in range(1, 251)]
    client, adapter, _ = make_client(scripted(Reply(200, full), Reply(204)))
    assert len(list(client.list_orders())) == 250
    assert [c.params["page"] for c in adapter.calls] == ["1", "2"]


def test_list_shipments_204_is_empty() -> None:
    client, adapter, _ = make_client(scripted(Reply(204)))
    assert client.list_shipments(9) == []
    assert adapter.calls[0].path.endswith("/v2/orders/9/shipments")


def test_update_order_status_sends_only_status_id() -> None:
    client, adapter, _ = make_client(scripted(Reply(200, {"id": 9, "status_id": 2})))
    client.update_order_status(9, 2)
    assert adapter.calls[0].method == "PUT" and adapter.calls[0].body == {"status_id": 2}
    for bad in (15, -1, True, "2"):
        with pytest.raises(ValueError):
            client.update_order_status(9, bad)  # type: ignore[arg-type]


def test_archiving_every_order_is_impossible() -> None:
    client, adapter, _ = make_client(scripted(Reply(204)))
    assert not [name for name in dir(client) if "archive" in name or name == "delete_order"]
    for path in ("/v2/orders", "/v2/orders/", "//v2//orders", "/v2/orders?x=1", "/V2/Orders"):
        with pytest.raises(RefusedRequestError):
            client.request("DELETE", path)
    with pytest.raises(ValueError):
        client.request("DELETE", "/v2/orders/{order_id}", {"order_id": ""})
    assert adapter.calls == []


def test_path_ids_are_escaped() -> None:
    client, adapter, _ = make_client(scripted(Reply(200, {})))
    client.get_shipment(1, "2/../../orders")  # type: ignore[arg-type]
    assert adapter.calls[0].path == "/stores/abc123/v2/orders/1/shipments/2%2F..%2F..%2Forders"


def test_update_shipment_refuses_items() -> None:
    client, adapter, _ = make_client(scripted(Reply(200, {})))
    with pytest.raises(ValueError, match="items"):
        client.update_shipment(1, 2, {"items": [], "tracking_number": "1Z"})
    client.update_shipment(1, 2, {"tracking_number": "1Z"})
    assert adapter.calls[0].body == {"tracking_number": "1Z"}


def test_404_is_not_found_with_the_api_body() -> None:
    body = [{"status": 404, "message": "The requested resource was not found."}]
    client, adapter, _ = make_client(scripted(Reply(404, body)))
    with pytest.raises(NotFoundError) as info:
        client.get_shipment(3, 4)
    err = info.value
    assert isinstance(err, RulesyncError) and err.body == body and err.status == 404
    assert str(err) == ("BigCommerce GET /v2/orders/{order_id}/shipments/{shipment_id}: HTTP 404: "
                        '[{"message": "The requested resource was not found.", "status": 404}]')
    assert len(adapter.calls) == 1  # 4xx is never retried


def test_order_statuses_and_time() -> None:
    client, _, _ = make_client(scripted(Reply(200, [{"id": 0, "custom_label": "x"}]),
                                        Reply(200, {"time": 1700000000})))
    assert client.order_statuses() == [{"id": 0, "custom_label": "x"}]
    assert client.server_time() == 1700000000


def test_hooks_follow_v3_pagination() -> None:
    def handler(call):  # type: ignore[no-untyped-def]
        page = int(call.params["page"])
        return Reply(200, {"data": [{"id": page}],
                           "meta": {"pagination": {"total_pages": 2, "current_page": page}}})
    client, adapter, _ = make_client(handler)
    assert [h["id"] for h in client.list_hooks(scope="store/order/*")] == [1, 2]
    assert adapter.calls[0].path == "/stores/abc123/v3/hooks"
    assert adapter.calls[0].params["scope"] == "store/order/*"


def test_hook_writes() -> None:
    client, adapter, _ = make_client(scripted(Reply(200, {"data": {"id": 4}}),
                                              Reply(200, {"data": {"id": 4, "is_active": True}}),
                                              Reply(204)))
    assert client.create_hook({"scope": "store/order/*", "destination": "https://x"}) == {"id": 4}
    assert client.update_hook(4, {"is_active": True})["is_active"] is True
    client.delete_hook(4)
    prefix = "/stores/abc123"
    assert [(c.method, c.path) for c in adapter.calls] == [
        ("POST", f"{prefix}/v3/hooks"), ("PUT", f"{prefix}/v3/hooks/4"),
        ("DELETE", f"{prefix}/v3/hooks/4")]


def test_order_subresources_are_paged() -> None:
    lines = [{"id": i} for i in range(1, 251)]
    client, adapter, _ = make_client(scripted(Reply(200, lines), Reply(200, [{"id": 999}]),
                                              Reply(200, [{"id": 7}])))
    assert len(client.order_products(1)) == 251
    assert client.shipping_addresses(1) == [{"id": 7}]
    assert adapter.calls[2].path.endswith("/v2/orders/1/shipping_addresses")
