"""Quota (429 with headers) and seeded fault injection, including faults after a write."""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
import requests

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.faults import FaultInjector
from tests.support.sandbox_api import SandboxApi, order_body

RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)


def test_every_response_carries_rate_headers(sandbox_api: SandboxApi) -> None:
    response = sandbox_api.get("/v2/time")
    assert all(name in response.headers for name in RATE_HEADERS)
    assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"


def test_quota_gives_429_with_headers() -> None:
    with Sandbox(quota=3, window_ms=60000) as sb:
        api = SandboxApi(sb)
        lefts = [api.get("/v2/time").headers["X-Rate-Limit-Requests-Left"] for _ in range(3)]
        assert lefts == ["2", "1", "0"]
        refused = api.get("/v2/time")
        assert refused.status_code == 429
        assert refused.headers["X-Rate-Limit-Requests-Quota"] == "3"
        assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
        assert 0 < int(refused.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 60000
        assert refused.json()[0]["status"] == 429
        assert api.control("GET", "/calls").status_code == 200  # introspection is never limited
        assert api.control("GET", "/quota").json() == {
            "quota": 3, "window_ms": 60000, "refused": 1, "most_in_window": 3}
        api.control("POST", "/quota", {"quota": 5, "window_ms": 50})
        assert api.get("/v2/time").status_code == 200
        assert api.control("GET", "/quota").json()["refused"] == 0  # counted anew
        api.close()


def _outcomes(seed: int, n: int = 40) -> list[str]:
    with Sandbox(fault_rate=0.3, fault_seed=seed) as sb:
        api = SandboxApi(sb)
        seen = []
        for _ in range(n):
            try:
                seen.append(str(api.get("/v2/time").status_code))
            except requests.ConnectionError:
                seen.append("drop")
        api.close()
        return seen


def test_faults_repeat_with_the_same_seed() -> None:
    first, again, other = _outcomes(7), _outcomes(7), _outcomes(8)
    assert first == again
    assert first != other
    assert {"200", "500", "503", "429", "drop"} <= set(first) | set(other)
    assert 0.1 < sum(x != "200" for x in first) / len(first) < 0.5


def test_write_faults_can_happen_after_the_change(
    sandbox: Sandbox, sandbox_api: SandboxApi
) -> None:
    """Half of the faults on writes hit after applying the change: the response is lost, the
    shipment exists. The client must look before it retries."""
    order = sandbox_api.post("/v2/orders", order_body((50,))).json()
    line = sandbox_api.get(f"/v2/orders/{order['id']}/products").json()[0]
    sandbox_api.control("POST", "/faults", {"fault_rate": 1.0, "fault_seed": 3})
    # The same seed drawn by hand: what each of the 12 requests must meet, and where.
    same = FaultInjector(1.0, 0, 3)
    expected = [same.draw(is_write=True) for _ in range(12)]
    seen = []
    for _ in range(12):
        try:
            response = sandbox_api.post(
                f"/v2/orders/{order['id']}/shipments",
                {
                    "order_address_id": line["order_address_id"],
                    "items": [{"order_product_id": line["id"], "quantity": 1}],
                },
            )
            seen.append(str(response.status_code))
        except requests.ConnectionError:
            seen.append("drop")
    sandbox_api.control("POST", "/faults", {"fault_rate": 0.0})
    created = sandbox.store.sub_resources(order["id"], "shipments")
    assert seen == [f.kind for f in expected if f is not None]
    after = sum(f is not None and f.after_write for f in expected)
    assert 0 < after < 12  # the seed gives both kinds, so the check below means something
    assert len(created) == after


@pytest.mark.parametrize("latency_ms", [30])
def test_latency(latency_ms: int) -> None:
    with Sandbox(latency_ms=latency_ms) as sb:
        api = SandboxApi(sb)
        assert api.get("/v2/time").elapsed.total_seconds() >= latency_ms / 1000
        api.close()


def test_a_client_gone_before_its_answer_is_no_error(capfd: pytest.CaptureFixture[str]) -> None:
    """A caller killed while it waited (the crash tests' kind) leaves a dead socket: the
    store writes nothing about it to stderr, and goes on answering others."""
    with Sandbox(latency_ms=200) as sb:
        where = urlsplit(sb.base_url)
        for _ in range(3):
            with socket.create_connection((where.hostname, where.port)) as gone:
                gone.sendall(b"GET /stores/sandbox/v2/time HTTP/1.1\r\nHost: x\r\n"
                             b"X-Auth-Token: sandbox-token\r\n\r\n")
                gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            time.sleep(0.4)  # its answer is written to the reset connection
        api = SandboxApi(sb)
        assert api.get("/v2/time").status_code == 200
        api.close()
    assert "Traceback" not in capfd.readouterr().err
