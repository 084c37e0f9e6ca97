"""Shape checks on what the store answers, before anything reads a field.

A 2xx reply that is not what the endpoint returns (an object where the orders list belongs, an
order id "abc", a time of "1e1000000") is a `StoreReplyError` naming the endpoint: the page or
the endpoint cannot be used, so the run stops there with nothing half-done from that page. What
is wrong *inside* one order (a bad amount, an unknown status) is the normalizer's business and
concerns that order alone.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.bigcommerce.errors import StoreReplyError

MAX_ID_DIGITS = 18  # fits in 64 bits; also keeps int() of a hostile string cheap


def kind(value: Any) -> str:
    """A JSON type name for messages: 'an object', 'a list', 'a string', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number",
             float: "a number"}
    return names.get(type(value), type(value).__name__)


def _refuse(method: str, endpoint: str, what: str) -> StoreReplyError:
    return StoreReplyError(method, endpoint, reason=f"unexpected reply: {what}")


def as_object(reply: Any, method: str, endpoint: str, what: str) -> dict[str, Any]:
    if not isinstance(reply, dict):
        raise _refuse(method, endpoint, f"expected {what} (an object), got {kind(reply)}")
    return reply


def as_list(reply: Any, method: str, endpoint: str, what: str) -> list[dict[str, Any]]:
    """A list of objects; None (204 No Content) is the empty list."""
    if reply is None:
        return []
    if not isinstance(reply, list):
        raise _refuse(method, endpoint, f"expected a list of {what}, got {kind(reply)}")
    for n, row in enumerate(reply):
        if not isinstance(row, dict):
            raise _refuse(method, endpoint, f"item {n} of the {what} is {kind(row)}, "
                                            "not an object")
    return reply


def whole_number(value: Any, method: str, endpoint: str, field: str,
                 digits: int = MAX_ID_DIGITS) -> int:
    """An int, or a string of decimal digits, of at most `digits` digits, >= 0."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10 ** digits:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= digits:
        return int(value)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
    raise _refuse(method, endpoint, f"{field} is {shown}, not a whole number")


def with_ids(rows: list[dict[str, Any]], method: str, endpoint: str, what: str
             ) -> list[dict[str, Any]]:
    """Every row has a positive integer `id` (paging by id and the outbox keys rely on it)."""
    for n, row in enumerate(rows):
        if whole_number(row.get("id"), method, endpoint, f"the id of {what} {n}") <= 0:
            raise _refuse(method, endpoint, f"the id of {what} {n} is {row.get('id')!r}")
    return rows


def server_time(reply: Any, method: str, endpoint: str) -> int:
    doc: Mapping[str, Any] = as_object(reply, method, endpoint, "the server time")
    return whole_number(doc.get("time"), method, endpoint, "'time'", digits=12)
