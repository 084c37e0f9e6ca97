"""Talking to a sandbox store over real HTTP, and the order bodies the sandbox tests POST."""

from __future__ import annotations

from typing import Any

import requests

from connectors.bigcommerce.sandbox import Sandbox

SANDBOX_T0 = 1_790_000_000  # Fri, 20 Sep 2026 ...: any fixed second works


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
