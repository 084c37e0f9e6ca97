"""Orders: paging, sort, filters, 204s, auth, limits, writes and date_modified."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from connectors.bigcommerce.sandbox.dates import rfc2822
from tests.support.sandbox_api import SANDBOX_T0, SandboxApi, order_body


def _make(api: SandboxApi, n: int, **extra) -> list[dict]:
    return [api.post("/v2/orders", order_body(**extra)).json() for _ in range(n)]


def _ids(api: SandboxApi, **params) -> list[int]:
    response = api.get("/v2/orders", params=params)
    return [] if response.status_code == 204 else [o["id"] for o in response.json()]


def test_paging_is_stable_when_many_orders_share_one_second(sandbox_api: SandboxApi) -> None:
    made = [o["id"] for o in _make(sandbox_api, 7)]  # the clock is frozen: all share a second
    assert len({o["date_modified"] for o in sandbox_api.get("/v2/orders").json()}) == 1
    for sort in ("date_modified:asc", "date_modified:desc", "status_id"):
        pages = [_ids(sandbox_api, sort=sort, limit=3, page=p) for p in (1, 2, 3, 4)]
        assert [len(p) for p in pages] == [3, 3, 1, 0]
        seen = [i for p in pages for i in p]
        assert sorted(seen) == made and len(set(seen)) == 7
    assert _ids(sandbox_api, sort="date_modified:desc") == sorted(made, reverse=True)
    assert _ids(sandbox_api) == made  # default sort: id ascending


def test_empty_page_is_204_without_body(sandbox_api: SandboxApi) -> None:
    response = sandbox_api.get("/v2/orders")
    assert response.status_code == 204 and response.content == b""
    order = _make(sandbox_api, 1)[0]
    assert sandbox_api.get("/v2/orders", params={"page": 2}).status_code == 204
    shipments = sandbox_api.get(f"/v2/orders/{order['id']}/shipments")
    assert shipments.status_code == 204 and shipments.content == b""


def test_filters(sandbox_api: SandboxApi, sandbox: Sandbox, sandbox_clock: FrozenClock) -> None:
    first = _make(sandbox_api, 2)
    sandbox_clock.advance(3600)
    later = sandbox_api.post(
        "/v2/orders",
        order_body(
            customer_id=7,
            billing_address={**order_body()["billing_address"], "email": "Kim@Example.com"},
        ),
    ).json()
    sandbox.store.set_status(first[0]["id"], 11)
    cut = SANDBOX_T0 + 1800
    assert _ids(sandbox_api, min_date_created=rfc2822(cut)) == [later["id"]]
    iso_cut = datetime.fromtimestamp(cut, tz=UTC).isoformat()  # e.g. 2026-09-21T14:43:20+00:00
    assert _ids(sandbox_api, max_date_created=iso_cut) == [first[0]["id"], first[1]["id"]]
    assert _ids(sandbox_api, min_date_modified=rfc2822(cut)) == [first[0]["id"], later["id"]]
    assert _ids(sandbox_api, max_date_modified=rfc2822(SANDBOX_T0)) == [first[1]["id"]]
    assert _ids(sandbox_api, status_id=11) == [first[0]["id"]]
    assert _ids(sandbox_api, email="kim@example.com") == [later["id"]]
    assert _ids(sandbox_api, customer_id=7) == [later["id"]]
    assert _ids(sandbox_api, min_id=first[1]["id"], max_id=first[1]["id"]) == [first[1]["id"]]
    count = sandbox_api.get("/v2/orders/count", params={"status_id": 1}).json()
    assert count["count"] == 2
    assert {s["id"]: s["count"] for s in count["statuses"]}[1] == 2


def test_bad_parameters(sandbox_api: SandboxApi) -> None:
    assert sandbox_api.get("/v2/orders", params={"limit": 251}).status_code == 413
    assert sandbox_api.get("/v2/orders", params={"limit": 250}).status_code == 204
    assert sandbox_api.get("/v2/orders", params={"sort": "total"}).status_code == 400
    assert (
        sandbox_api.get("/v2/orders", params={"min_date_modified": "yesterday"}).status_code == 400
    )
    assert sandbox_api.get("/v2/orders", params={"min_id": "x"}).status_code == 400
    assert sandbox_api.get("/v2/orders", params={"include": "consignments"}).status_code == 400


def test_auth_accept_and_content_type(sandbox_api: SandboxApi) -> None:
    for token in ("", "wrong"):
        response = sandbox_api.get("/v2/orders", headers={"X-Auth-Token": token})
        assert response.status_code == 401
        assert response.json()[0]["status"] == 401
    assert sandbox_api.get("/v2/orders", headers={"Accept": "application/xml"}).status_code == 406
    text = sandbox_api.call("POST", "/v2/orders", data="{}", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    broken = sandbox_api.call(
        "POST", "/v2/orders", data="{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert sandbox_api.get("/v2/nothing").status_code == 404
    assert sandbox_api.control("GET", "/calls").json()["GET /v2/orders"] == 3  # no token needed


def test_delete_all_orders_is_refused(sandbox_api: SandboxApi) -> None:
    order = _make(sandbox_api, 1)[0]
    response = sandbox_api.delete("/v2/orders")
    assert response.status_code == 405 and response.json()[0]["status"] == 405
    assert sandbox_api.get(f"/v2/orders/{order['id']}").json()["is_deleted"] is False


def test_archive_hides_the_order_from_the_list(sandbox_api: SandboxApi) -> None:
    keep, gone = _make(sandbox_api, 2)
    assert sandbox_api.delete(f"/v2/orders/{gone['id']}").status_code == 204
    assert sandbox_api.get(f"/v2/orders/{gone['id']}").json()["is_deleted"] is True
    assert _ids(sandbox_api) == [keep["id"]]
    assert sandbox_api.get("/v2/orders/9999").status_code == 404


def test_create_defaults_and_put_patch_semantics(
    sandbox_api: SandboxApi, sandbox_clock: FrozenClock
) -> None:
    order = sandbox_api.post("/v2/orders", order_body((2, 1)))
    assert order.status_code == 201
    body = order.json()
    assert (body["status_id"], body["status"], body["customer_id"]) == (1, "Pending", 0)
    assert (body["items_total"], body["subtotal_ex_tax"], body["date_shipped"]) == (
        3,
        "30.0000",
        "",
    )
    oid = body["id"]
    lines = sandbox_api.get(f"/v2/orders/{oid}/products").json()
    sandbox_clock.advance(5)
    updated = sandbox_api.put(
        f"/v2/orders/{oid}",
        {
            "status_id": 11,
            "staff_notes": "call first",
            "customer_message": "hi",
            "billing_address": {"phone": "555"},
            "products": [
                {"id": lines[0]["id"], "quantity": 5},
                {"id": lines[1]["id"], "quantity": 0},
                {"name": "Gift", "quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1},
            ],
        },
    ).json()
    assert (updated["status_id"], updated["staff_notes"], updated["items_total"]) == (
        11,
        "call first",
        6,
    )
    assert (
        updated["billing_address"]["phone"] == "555"
        and updated["billing_address"]["zip"] == "78701"
    )
    assert updated["date_modified"] == rfc2822(SANDBOX_T0 + 5)
    skus = [x["sku"] for x in sandbox_api.get(f"/v2/orders/{oid}/products").json()]
    assert skus == ["SKU-0", ""]
    assert sandbox_api.put(f"/v2/orders/{oid}", {"status_id": 99}).status_code == 400
    assert sandbox_api.put(f"/v2/orders/{oid}", {"date_modified": "x"}).status_code == 400
    assert sandbox_api.post("/v2/orders", {"products": []}).status_code == 400
