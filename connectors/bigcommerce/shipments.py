"""Creating a shipment exactly once.

A POST that times out, drops or answers 5xx may still have created the shipment, and creating a
shipment emails the customer (FACTS §3), so it is never blindly repeated: the order's shipments
are listed first and a matching one is taken as the result.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from connectors.bigcommerce.errors import RetriableApiError
from connectors.bigcommerce.policy import RetryPolicy

if TYPE_CHECKING:
    from connectors.bigcommerce.client import BigCommerceClient

ShipmentMatch = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


def _items(shipment: Mapping[str, Any]) -> Counter[tuple[int, int]]:
    return Counter(
        (int(item["order_product_id"]), int(item["quantity"]))
        for item in shipment.get("items") or []
    )


def same_shipment(existing: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Same order_address_id, tracking_number and items (order_product_id, quantity)."""
    return (
        int(existing.get("order_address_id") or 0) == int(body.get("order_address_id") or 0)
        and str(existing.get("tracking_number") or "") == str(body.get("tracking_number") or "")
        and _items(existing) == _items(body)
    )


def create_shipment_once(
    client: BigCommerceClient,
    order_id: int,
    body: Mapping[str, Any],
    match: ShipmentMatch,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> dict[str, Any]:
    """POST; on an ambiguous failure wait, look for a matching shipment, and only then retry.

    Caveat: a matching shipment that existed *before* the first POST is also taken as ours; the
    caller's idempotency key should make that case a replay of the same intent anyway.
    """
    last: RetriableApiError | None = None
    for attempt in range(policy.max_retries + 1):
        try:
            return client.create_shipment(order_id, body)
        except RetriableApiError as exc:
            if not exc.ambiguous:
                raise
            last = exc
        server_error = last.status is not None and last.status >= 500
        wait = (policy.server_error_delay(attempt, rng, write=True) if server_error
                else policy.backoff(attempt, rng, write=True))
        sleep(wait)
        for existing in client.list_shipments(order_id):
            if match(existing, body):
                return existing
    assert last is not None
    raise last
