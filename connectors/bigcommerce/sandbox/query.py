"""GET /v2/orders filters, sort and paging ([v2] paths./orders.get, components.parameters.*)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from .dates import parse_date
from .errors import ApiError

MAX_LIMIT = 250  # GAP (FACTS.md §3): the spec gives no maximum; the general docs say 250 -> 413.
SORT_FIELDS = {
    "id",
    "customer_id",
    "date_created",
    "date_modified",
    "status_id",
    "channel_id",
    "external_id",
}
Predicate = Callable[[dict[str, Any]], bool]


def _int(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        return int(params[name])
    except ValueError as e:
        raise ApiError(400, f"The filter '{name}' must be an integer.") from e


def _date(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        return parse_date(params[name])
    except ValueError as e:
        raise ApiError(400, f"The filter '{name}' is not an RFC 2822 or ISO 8601 date.") from e


def _compare(field: str, op: Callable[[Any, Any], bool], value: Any) -> Predicate:
    return lambda order: bool(op(order[field], value))


def _bounds(params: Mapping[str, str]) -> list[Predicate]:
    """min_* and max_* are inclusive."""
    preds: list[Predicate] = []
    for field, parse in (("id", _int), ("date_created", _date), ("date_modified", _date)):
        low, high = parse(params, f"min_{field}"), parse(params, f"max_{field}")
        if low is not None:
            preds.append(_compare(field, operator.ge, low))
        if high is not None:
            preds.append(_compare(field, operator.le, high))
    return preds


def order_filter(params: Mapping[str, str]) -> Predicate:
    """Build the predicate for the list and count endpoints.

    GAP (FACTS.md §3): nothing says whether archived orders are listed. Our choice: they are
    left out, as in the control panel's default view; GET /v2/orders/{id} still returns them.
    """
    preds = _bounds(params)
    for name in ("status_id", "customer_id", "channel_id"):
        value = _int(params, name)
        if value is not None:
            preds.append(_compare(name, operator.eq, value))
    if "email" in params:
        email = params["email"].lower()
        preds.append(lambda o: o["billing_address"]["email"].lower() == email)
    for name in ("external_order_id", "payment_method", "cart_id"):
        if name in params:
            wanted = params[name]
            preds.append(lambda o, f=name, v=wanted: str(o.get(f) or "") == v)  # type: ignore[misc]
    return lambda o: not o["is_deleted"] and all(p(o) for p in preds)


def sort_key(params: Mapping[str, str]) -> tuple[Callable[[dict[str, Any]], tuple[Any, ...]], bool]:
    """`sort=field[:asc|:desc]`; ties are broken by id so pages never overlap or skip."""
    field, _, direction = params.get("sort", "id").partition(":")
    if field not in SORT_FIELDS or direction not in ("", "asc", "desc"):
        raise ApiError(400, f"Invalid sort '{params['sort']}'.")
    return (
        lambda o: (
            o.get(field) or 0 if field != "external_id" else str(o.get(field) or ""),
            o["id"],
        )
    ), direction == "desc"


def paging(params: Mapping[str, str]) -> tuple[int, int]:
    """page (default 1) and limit (default 50, at most 250, above that 413)."""
    page, limit = _int(params, "page"), _int(params, "limit")
    page = 1 if page is None else page
    limit = 50 if limit is None else limit
    if page < 1 or limit < 1:
        raise ApiError(400, "page and limit must be positive integers.")
    if limit > MAX_LIMIT:
        raise ApiError(413, f"The limit {limit} is larger than the maximum of {MAX_LIMIT}.")
    return page, limit


def page_of(items: list[Any], params: Mapping[str, str]) -> list[Any]:
    page, limit = paging(params)
    return items[(page - 1) * limit : page * limit]
