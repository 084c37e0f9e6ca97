"""What the ledger keeps from a normalized store order when it imports it (docs/formats.md).

Captured once; later imports and syncs never overwrite it (the seed's "Order Details" and
"Customer Info" notes).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.ledger.errors import LedgerError


def order_key(value: Any, what: str = "order id") -> int:
    """A store id as the ledger stores it: a whole number ("101" is accepted)."""
    if not isinstance(value, bool):
        try:
            return int(value)
        except (TypeError, ValueError):
            pass
    raise LedgerError(f"{what} must be a whole number, got {value!r}")


def capture(order: Mapping[str, Any]) -> tuple[int, dict[str, Any], list[str]]:
    """(order id, details, warnings) from a normalized order, or LedgerError if unusable."""
    if not isinstance(order, Mapping) or "id" not in order:
        raise LedgerError("cannot import: a normalized order with an \"id\" is required")
    order_id = order_key(order["id"])
    line_items = [_line_item(order_id, index, line)
                  for index, line in enumerate(order.get("line_items") or [])]
    details = {
        "line_items": line_items,
        "customer": order.get("customer"),
        "billing_address": order.get("billing_address"),
        "shipping_address": order.get("shipping_address"),
        "totals": dict(order.get("totals") or {}),
        "customer_message": order.get("customer_message") or "",
        "staff_notes": order.get("staff_notes") or "",
        "store_status_id": order.get("status_id"),
        "store_status": order.get("status") or "",
        "date_created": order.get("date_created"),
    }
    return order_id, details, _warnings(order)


def _line_item(order_id: int, index: int, line: Any) -> dict[str, Any]:
    where = f"cannot import order {order_id}: line_items[{index}]"
    if not isinstance(line, Mapping) or "id" not in line:
        raise LedgerError(f"{where}: a line item with an \"id\" is required")
    quantity = line.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise LedgerError(f"{where}: quantity must be a whole number >= 0, got {quantity!r}")
    return {**line, "id": order_key(line["id"], f"{where}: id")}


def _warnings(order: Mapping[str, Any]) -> list[str]:
    """The normalizer's warnings, plus the multiple-address one if the normalizer left it out."""
    warnings = [str(w) for w in order.get("warnings") or []]
    count = order.get("shipping_address_count") or 0
    address = order.get("shipping_address") or {}
    if count > 1 and not any("shipping addresses" in w for w in warnings):
        warnings.append(f"{count} shipping addresses; imported the first (id {address.get('id')})")
    return warnings
