"""Webhook delivery to a tiny local receiver: payload, custom headers, retries, deactivation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from tests.support.sandbox_api import SandboxApi, order_body

BOUND = 30.0  # seconds: waits end on their condition; the bound is only reached on failure


class Receiver:
    """Records each callback; answers with the next scripted status (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.calls = list(statuses), []
        self.got = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.got:
                    receiver.calls.append(
                        {"headers": dict(self.headers), "body": body, "status": status}
                    )
                    receiver.got.notify_all()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def wait(self, n: int, timeout: float = BOUND) -> list[dict]:
        with self.got:
            assert self.got.wait_for(lambda: len(self.calls) >= n, timeout), self.calls
            return list(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def _hook(api: SandboxApi, scope: str, url: str) -> dict:
    return api.post(
        "/v3/hooks",
        {
            "scope": scope,
            "destination": url,
            "is_active": True,
            "headers": {"X-Shared-Secret": "s3cret"},
        },
    ).json()["data"]


def test_order_and_shipment_events(
    sandbox_api: SandboxApi, receiver: Receiver, spec_validate
) -> None:
    _hook(sandbox_api, "store/order/*", receiver.url)
    _hook(sandbox_api, "store/shipment/created", receiver.url)
    order = sandbox_api.post("/v2/orders", order_body((1,))).json()
    calls = receiver.wait(1)
    assert calls[0]["headers"]["X-Shared-Secret"] == "s3cret"
    body = calls[0]["body"]
    assert body["scope"] == "store/order/created" and body["data"] == {
        "type": "order",
        "id": order["id"],
    }
    assert isinstance(body["store_id"], str) and body["producer"] == "stores/sandbox"
    assert len(body["hash"]) == 40 and isinstance(body["created_at"], int)
    spec_validate("webhook.store_order_created", body)
    line = sandbox_api.get(f"/v2/orders/{order['id']}/products").json()[0]
    sandbox_api.post(
        f"/v2/orders/{order['id']}/shipments",
        {
            "order_address_id": line["order_address_id"],
            "items": [{"order_product_id": line["id"], "quantity": 1}],
        },
    )
    scopes = {c["body"]["scope"]: c["body"] for c in receiver.wait(4)}
    assert set(scopes) == {
        "store/order/created",
        "store/shipment/created",
        "store/order/updated",
        "store/order/statusUpdated",
    }
    assert scopes["store/shipment/created"]["data"]["orderId"] == order["id"]
    assert scopes["store/order/statusUpdated"]["data"]["status"] == {
        "previous_status_id": 1,
        "new_status_id": 2,
    }
    spec_validate("webhook.store_order_statusUpdated", scopes["store/order/statusUpdated"])
    spec_validate("webhook.store_shipment_created", scopes["store/shipment/created"])


def test_failed_deliveries_are_retried_with_the_same_hash(
    sandbox: Sandbox, sandbox_api: SandboxApi
) -> None:
    flaky = Receiver([500, 503])
    try:
        _hook(sandbox_api, "store/order/created", flaky.url)
        sandbox_api.post("/v2/orders", order_body())
        calls = flaky.wait(3)
        assert [c["status"] for c in calls] == [500, 503, 200]
        assert len({c["body"]["hash"] for c in calls}) == 1
        deadline = time.monotonic() + BOUND  # the log entry is written after the answer
        while len(sandbox.webhook_log()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [e["attempt"] for e in sandbox.webhook_log()] == [0, 1, 2]
    finally:
        flaky.close()


def test_hook_is_deactivated_after_the_last_retry(
    sandbox: Sandbox, sandbox_api: SandboxApi
) -> None:
    dead = Receiver([])
    dead.close()  # nothing listens there any more: connection refused
    hook = _hook(sandbox_api, "store/order/*", dead.url)
    sandbox_api.post("/v2/orders", order_body())
    deadline = time.monotonic() + BOUND
    while sandbox_api.get(f"/v3/hooks/{hook['id']}").json()["data"]["is_active"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert [e["status"] for e in sandbox.webhook_log()] == [None, None, None]  # 1 try + 2 retries
    listed = sandbox_api.get("/v3/hooks", params={"is_active": "false"}).json()
    assert [h["id"] for h in listed["data"]] == [hook["id"]]


def test_the_request_never_waits_for_the_receiver(sandbox_api: SandboxApi) -> None:
    """The receiver answers only once the test lets it, which is after the order was created:
    a store that waited for it would never answer the create."""
    called, gate, answered = threading.Event(), threading.Event(), threading.Event()

    class Held(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            called.set()
            gate.wait(BOUND)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            answered.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Held)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _hook(sandbox_api, "store/order/created", f"http://127.0.0.1:{server.server_address[1]}/")
        response = sandbox_api.post("/v2/orders", order_body())
        assert response.status_code == 201
        assert not answered.is_set()  # created while the receiver was still held
        assert called.wait(BOUND)  # and the delivery did go out
    finally:
        gate.set()
        server.shutdown()
        server.server_close()


def test_hook_crud_and_filters(sandbox_api: SandboxApi) -> None:
    a = _hook(sandbox_api, "store/order/*", "https://example.com/a")
    _hook(sandbox_api, "store/shipment/*", "https://example.com/a")
    duplicate = sandbox_api.post(
        "/v3/hooks", {"scope": "store/order/*", "destination": "https://example.com/a"}
    )
    assert duplicate.status_code == 422
    listed = sandbox_api.get("/v3/hooks", params={"scope": "store/order/*"}).json()
    assert [h["id"] for h in listed["data"]] == [a["id"]]
    page = sandbox_api.get("/v3/hooks", params={"limit": 1, "page": 2}).json()
    assert (
        page["meta"]["pagination"]["total"] == 2 and page["meta"]["pagination"]["total_pages"] == 2
    )
    assert sandbox_api.put(f"/v3/hooks/{a['id']}", {"is_active": "yes"}).status_code == 422
    assert sandbox_api.delete(f"/v3/hooks/{a['id']}").status_code == 200
    assert sandbox_api.delete(f"/v3/hooks/{a['id']}").status_code == 404
