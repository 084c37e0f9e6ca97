"""Fixtures for the sandbox tests: a real server on loopback, a frozen clock, an HTTP helper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock

SANDBOX_T0 = 1_790_000_000  # Fri, 20 Sep 2026 ...: any fixed second works
SPEC_SCHEMAS = (
    Path(__file__).resolve().parents[3] / "connectors/bigcommerce/sandbox/spec_schemas.json"
)


class SandboxApi:
    """requests against one sandbox; never picks up proxy settings from the environment."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.session = requests.Session()
        self.session.trust_env = False
        self.headers = {"X-Auth-Token": sb.token, "Accept": "application/json"}

    def url(self, path: str) -> str:
        return f"{self.sb.base_url}/stores/{self.sb.store.store_hash}{path}"

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.session.request(method, self.url(path), headers=headers, timeout=10, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.call("POST", path, json=body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.call("PUT", path, json=body, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(
            method, f"{self.sb.base_url}/_sandbox{path}", json=body, timeout=10
        )

    def close(self) -> None:
        self.session.close()


def order_body(quantities: tuple[int, ...] = (2, 1), addresses: int = 1, **extra: Any) -> dict:
    """A POST /v2/orders body with one line per quantity (lines go round-robin over addresses)."""
    address = {
        "first_name": "Jo",
        "last_name": "Doe",
        "street_1": "1 Main St",
        "city": "Austin",
        "state": "Texas",
        "zip": "78701",
        "country": "United States",
        "country_iso2": "US",
        "email": "jo@example.com",
    }
    return {
        "billing_address": address,
        "shipping_addresses": [{**address, "street_2": f"Unit {i}"} for i in range(addresses)],
        "products": [
            {
                "name": f"Item {n}",
                "sku": f"SKU-{n}",
                "quantity": q,
                "price_ex_tax": 10,
                "price_inc_tax": 10.8,
                "order_address_index": n % addresses,
            }
            for n, q in enumerate(quantities)
        ],
        **extra,
    }


@pytest.fixture
def sandbox_clock() -> FrozenClock:
    return FrozenClock(SANDBOX_T0)


@pytest.fixture
def sandbox(sandbox_clock: FrozenClock) -> Iterator[Sandbox]:
    with Sandbox(clock=sandbox_clock, webhook_retry_delays=(0.05, 0.1)) as sb:
        yield sb


@pytest.fixture
def sandbox_api(sandbox: Sandbox) -> Iterator[SandboxApi]:
    api = SandboxApi(sandbox)
    yield api
    api.close()


@pytest.fixture(scope="session")
def spec_validate() -> Any:
    """validate(name, body) against a schema derived from the official spec (raises on mismatch)."""
    schemas = json.loads(SPEC_SCHEMAS.read_text(encoding="utf-8"))["schemas"]

    def validate(name: str, body: Any) -> None:
        jsonschema.Draft202012Validator(schemas[name]).validate(body)

    return validate
