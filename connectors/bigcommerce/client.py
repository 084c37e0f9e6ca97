"""BigCommerce REST client (v2 orders, shipments, statuses, time; v3 hooks) on a pooled session.

Every method returns decoded JSON (dicts/lists) or raises an `ApiError` subclass; the access
token never appears in a repr, a log line or an error message.
"""
from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from connectors.bigcommerce import replies
from connectors.bigcommerce.diagnose import StoreNames
from connectors.bigcommerce.errors import REDACTED, api_url_problem, origin, token_problem
from connectors.bigcommerce.policy import RetryPolicy
from connectors.bigcommerce.quota import QuotaBucket
from connectors.bigcommerce.sessions import Sessions
from connectors.bigcommerce.shipments import ShipmentMatch, create_shipment_once, same_shipment
from connectors.bigcommerce.transport import Transport
from engine import secrets
from engine.errors import ConfigError

DEFAULT_API_URL = "https://api.bigcommerce.com"
# GAP (FACTS §3): the spec gives no maximum `limit` for /orders; the general docs say 250 per page
# and a larger limit returns 413, so 250 is the largest safe page.
PAGE_LIMIT = 250
# One list page carries the products and addresses too (FACTS §3, `include`): no per-order calls.
# `consignments.line_items` implies `consignments` per the spec; naming both costs nothing and
# does not depend on that implication.
ORDER_INCLUDES = {"include": "consignments,consignments.line_items",
                  "consignment_structure": "object"}
SHIPMENT_WRITABLE = frozenset({
    "order_address_id", "tracking_number", "tracking_link", "shipping_provider",
    "tracking_carrier", "shipping_method", "comments", "merchant_shipping_cost",
})


class BigCommerceClient:
    """A polite client for one store. Inject `sleep`, `clock`, `rng` and `session` in tests.

    Safe to call from several threads: each request borrows its own session
    (connectors/bigcommerce/sessions.py) and takes a token from `quota`, the store's bucket,
    first. `concurrency` is how many requests the change feed may have in flight at once.
    """

    def __init__(
        self,
        store_hash: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        timeout: tuple[float, float] = (5, 30),
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        *,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        token_name: str = "BIGCOMMERCE_ACCESS_TOKEN",
        quota: QuotaBucket | None = None,
        concurrency: int = 1,
        entry: str = "",
    ) -> None:
        """`entry`: where a store of several is configured (`stores[eu]`), for messages that
        name a field to check; without it they name the environment variable or `store.`."""
        if not store_hash or not token:
            raise ConfigError("BigCommerce needs a store hash and an access token")
        secrets.add_secret(token)  # kept out of every message, log line and state row
        secrets.add_url_secrets(api_url)
        problem = api_url_problem(api_url) or token_problem(token, token_name)
        if problem:
            raise ConfigError(problem)
        self.store_hash = store_hash
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self.policy = policy or RetryPolicy(max_retries=max_retries)
        # An injected session is the only one (and then one request at a time): a test's fake
        # need not be safe to share between threads.
        self._sessions = Sessions.for_client(token, session)
        self.concurrency = 1 if session else max(1, concurrency)
        base = f"{self.api_url}/stores/{store_hash}"
        names = StoreNames(origin(self.api_url), store_hash, token_name) if not entry else \
            StoreNames(origin(self.api_url), store_hash, token_name, f"{entry}.store_hash",
                       f"{entry}.api_url")
        self._http = Transport(base, self._sessions, token, timeout, self.policy, sleep, clock,
                               self._rng, names, quota)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> BigCommerceClient:
        """Read BIGCOMMERCE_API_URL (optional), BIGCOMMERCE_STORE_HASH, BIGCOMMERCE_ACCESS_TOKEN."""
        env = os.environ if environ is None else environ
        required = ("BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_ACCESS_TOKEN")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
        api_url = env.get("BIGCOMMERCE_API_URL") or DEFAULT_API_URL
        return cls(env["BIGCOMMERCE_STORE_HASH"], env["BIGCOMMERCE_ACCESS_TOKEN"], api_url,
                   **kwargs)

    def __repr__(self) -> str:
        return (f"BigCommerceClient(store_hash={self.store_hash!r}, "
                f"api_url={origin(self.api_url)!r}, token={REDACTED!r})")

    @property
    def stats(self) -> dict[str, int]:
        """Counters: `requests` sent, `rate_limited` (429s seen), `retries`."""
        return self._http.stats

    def close(self) -> None:
        self._sessions.close()
        if self._http.quota is not None:
            self._http.quota.close()

    def request(self, method: str, template: str, path_params: Mapping[str, Any] | None = None,
                params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """Low-level call; refuses DELETE /v2/orders (it would archive every order)."""
        return self._http.request(method, template, path_params, params, body)

    def _pages(self, template: str, path_params: Mapping[str, Any] | None = None,
               params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """v2 paging: a bare array per page; stop on 204, an empty or a short page (FACTS §9)."""
        query = {"limit": PAGE_LIMIT, **(params or {})}
        limit = int(query["limit"])
        page = int(query.pop("page", 1))
        while True:
            reply = self.request("GET", template, path_params, {**query, "page": page})
            rows = replies.with_ids(replies.as_list(reply, "GET", template, "records"), "GET",
                                    template, "record")
            yield from rows
            if len(rows) < limit:
                return
            page += 1

    # -- orders -----------------------------------------------------------------------------
    def list_orders(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """All orders matching `filters`, oldest modification first, page by page (streamed)."""
        params = {"sort": "date_modified:asc", **ORDER_INCLUDES, **filters}
        return self._pages("/v2/orders", None, params)

    def list_orders_page(self, **filters: Any) -> list[dict[str, Any]]:
        """One page of orders (defaults: limit 250, with consignments and line items); a filter
        given as None is left out (`include=None`: the orders alone)."""
        params = {k: v for k, v in {"limit": PAGE_LIMIT, **ORDER_INCLUDES, **filters}.items()
                  if v is not None}
        reply = self.request("GET", "/v2/orders", None, params)
        return replies.with_ids(replies.as_list(reply, "GET", "/v2/orders", "orders"), "GET",
                                "/v2/orders", "order")

    def count_orders(self, **filters: Any) -> int:
        """How many orders match `filters` (GET /v2/orders/count: the list's filters, no paging)."""
        template = "/v2/orders/count"
        reply = replies.as_object(self.request("GET", template, None, filters), "GET", template,
                                  "a count")
        return replies.whole_number(reply.get("count"), "GET", template, "'count'")

    def get_order(self, order_id: int) -> dict[str, Any]:
        template = "/v2/orders/{order_id}"
        reply = self.request("GET", template, {"order_id": order_id}, ORDER_INCLUDES)
        order = replies.as_object(reply, "GET", template, "an order")
        return replies.with_ids([order], "GET", template, "order")[0]

    def order_products(self, order_id: int) -> list[dict[str, Any]]:
        return list(self._pages("/v2/orders/{order_id}/products", {"order_id": order_id}))

    def shipping_addresses(self, order_id: int) -> list[dict[str, Any]]:
        return list(self._pages("/v2/orders/{order_id}/shipping_addresses", {"order_id": order_id}))

    def update_order_status(self, order_id: int, status_id: int) -> dict[str, Any]:
        """PUT a body of ONLY {"status_id": N}: anything more could clear discounts (FACTS §3)."""
        if type(status_id) is not int or not 0 <= status_id <= 14:
            raise ValueError(f"status_id must be an integer 0-14, got {status_id!r}")
        return self.request("PUT", "/v2/orders/{order_id}", {"order_id": order_id},
                            body={"status_id": status_id})

    def order_statuses(self) -> list[dict[str, Any]]:
        """The store's statuses; `custom_label` is per store (FACTS §1)."""
        template = "/v2/order_statuses"
        rows = replies.as_list(self.request("GET", template), "GET", template, "statuses")
        for n, row in enumerate(rows):
            replies.whole_number(row.get("id"), "GET", template, f"the id of status {n}")
        return rows

    def server_time(self) -> int:
        """The server's epoch seconds (GET /v2/time), the clock for sync watermarks."""
        return replies.server_time(self.request("GET", "/v2/time"), "GET", "/v2/time")

    # -- shipments --------------------------------------------------------------------------
    def list_shipments(self, order_id: int) -> list[dict[str, Any]]:
        """All shipments of an order; 204 (none) gives []."""
        return list(self._pages("/v2/orders/{order_id}/shipments", {"order_id": order_id}))

    def get_shipment(self, order_id: int, shipment_id: int) -> dict[str, Any]:
        return self.request("GET", "/v2/orders/{order_id}/shipments/{shipment_id}",
                            {"order_id": order_id, "shipment_id": shipment_id})

    def create_shipment(self, order_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """One POST, never repeated on an ambiguous failure; see `create_shipment_once`."""
        return self.request("POST", "/v2/orders/{order_id}/shipments", {"order_id": order_id},
                            body=dict(body))

    def create_shipment_once(self, order_id: int, body: Mapping[str, Any],
                             match: ShipmentMatch = same_shipment) -> dict[str, Any]:
        """Create a shipment without ever creating a duplicate (reconciles ambiguous failures)."""
        return create_shipment_once(self, order_id, body, match, self.policy, self._sleep,
                                    self._rng)

    def update_shipment(self, order_id: int, shipment_id: int,
                        body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT cannot change `items` (FACTS §3): delete the shipment and create a new one."""
        unknown = sorted(set(body) - SHIPMENT_WRITABLE)
        if unknown:
            raise ValueError(f"shipment fields not writable with PUT: {', '.join(unknown)}")
        return self.request("PUT", "/v2/orders/{order_id}/shipments/{shipment_id}",
                            {"order_id": order_id, "shipment_id": shipment_id}, body=dict(body))

    def delete_shipment(self, order_id: int, shipment_id: int) -> None:
        self.request("DELETE", "/v2/orders/{order_id}/shipments/{shipment_id}",
                     {"order_id": order_id, "shipment_id": shipment_id})

    # -- v3 hooks ---------------------------------------------------------------------------
    def list_hooks(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Hooks made by this token (FACTS §7), following v3 meta.pagination."""
        page = 1
        while True:
            reply = self.request("GET", "/v3/hooks", None, {**filters, "page": page}) or {}
            doc = replies.as_object(reply, "GET", "/v3/hooks", "a page of hooks")
            yield from replies.as_list(doc.get("data"), "GET", "/v3/hooks", "hooks")
            pagination = (doc.get("meta") or {}).get("pagination") or {}
            total = replies.whole_number(pagination.get("total_pages") or 1, "GET", "/v3/hooks",
                                         "meta.pagination.total_pages", digits=6)
            if page >= total:
                return
            page += 1

    def create_hook(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return (self.request("POST", "/v3/hooks", body=dict(body)) or {}).get("data", {})

    def update_hook(self, hook_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        doc = self.request("PUT", "/v3/hooks/{hook_id}", {"hook_id": hook_id}, body=dict(body))
        return (doc or {}).get("data", {})

    def delete_hook(self, hook_id: int) -> None:
        self.request("DELETE", "/v3/hooks/{hook_id}", {"hook_id": hook_id})
