"""Checking one BigCommerce webhook delivery: authenticated, well formed, a scope we handle.

Payloads carry only ids (FACTS §7), so what is kept is the order id to re-fetch, the scope and
the delivery's `hash`, on which duplicates are dropped. Pure: no I/O, no clock.
"""
from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_BODY = 64 * 1024  # real payloads are a few hundred bytes
ORDER_SCOPES = frozenset({"store/order/created", "store/order/updated",
                          "store/order/statusUpdated", "store/order/archived"})
SHIPMENT_SCOPES = frozenset({"store/shipment/created", "store/shipment/updated",
                             "store/shipment/deleted"})
SCOPES = tuple(sorted(ORDER_SCOPES | SHIPMENT_SCOPES))
SECRET_HEADER = "X-Rulesync-Secret"


@dataclass(frozen=True)
class Delivery:
    hash: str
    scope: str
    order_id: int
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    status: int  # HTTP status to answer
    message: str
    delivery: Delivery | None = None


def authenticated(given: str | None, secret: str) -> bool:
    """Constant-time comparison of the custom header BigCommerce sends with every callback."""
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


MAX_ID = 2**63 - 1  # what SQLite (and BigCommerce's ids) can hold


def _order_id(value: Any) -> int | None:
    """A positive order id, given as a number or a string of ASCII digits; else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int or not 0 < value <= MAX_ID:
        return None
    return value


def check(body: bytes, secret_given: str | None, secret: str) -> Verdict:
    if not authenticated(secret_given, secret):
        return Verdict(401, "missing or wrong secret header")
    if len(body) > MAX_BODY:
        return Verdict(413, f"body over {MAX_BODY} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as e:  # RecursionError: absurdly deep nesting
        return Verdict(400, f"malformed JSON: {type(e).__name__}")
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict) \
            or not isinstance(payload.get("scope"), str) \
            or not isinstance(payload.get("hash"), str) or not payload["hash"]:
        return Verdict(400, "not a webhook payload: scope, hash and data are required")
    scope, data = payload["scope"], payload["data"]
    if scope not in ORDER_SCOPES | SHIPMENT_SCOPES:
        return Verdict(200, f"scope {scope!r} is not one rulesync handles: ignored")
    order_id = _order_id(data.get("orderId") if scope in SHIPMENT_SCOPES else data.get("id"))
    if order_id is None:
        return Verdict(400, f"{scope}: data carries no valid order id")
    return Verdict(200, "queued", Delivery(payload["hash"], scope, order_id, payload))
