"""Shipment rules applied to an order record ([v2] paths./orders/{order_id}/shipments*)."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, not_found
from .statuses import PARTIALLY_SHIPPED, SHIPPED

# [v2] components.schemas.orderShipment_Put: the only writable fields (PUT cannot change `items`).
PUT_FIELDS = (
    "order_address_id",
    "tracking_number",
    "tracking_link",
    "shipping_provider",
    "tracking_carrier",
    "shipping_method",
    "comments",
    "merchant_shipping_cost",
)
MAX_LEN = {"tracking_number": 50, "tracking_link": 500, "comments": 65535}  # orderShipment_Post


def _check_lengths(body: dict[str, Any]) -> None:
    for key, limit in MAX_LEN.items():
        if len(str(body.get(key, ""))) > limit:
            raise ApiError(400, f"The field '{key}' is longer than {limit} characters.")


def _requested(order: dict[str, Any], body: dict[str, Any]) -> dict[int, int]:
    """Validate `items` and sum the quantities per order_product_id."""
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "The required field 'items' was not supplied.")
    wanted: dict[int, int] = {}
    for item in items:
        try:
            pid, qty = int(item["order_product_id"]), int(item["quantity"])
        except (KeyError, TypeError, ValueError) as e:
            raise ApiError(400, "Each item needs an integer order_product_id and quantity.") from e
        if qty < 1:
            raise ApiError(422, f"The quantity for order product {pid} must be at least 1.")
        wanted[pid] = wanted.get(pid, 0) + qty
    return wanted


def _validate(order: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[int, int]]:
    if "order_address_id" not in body:
        raise ApiError(400, "The required field 'order_address_id' was not supplied.")
    address_id = int(body["order_address_id"])
    if not any(a["id"] == address_id for a in order["addresses"]):
        raise ApiError(422, f"Order address {address_id} does not belong to order {order['id']}.")
    _check_lengths(body)
    wanted = _requested(order, body)
    lines = {x["id"]: x for x in order["products"]}
    for pid, qty in wanted.items():
        line = lines.get(pid)
        if line is None:
            raise ApiError(422, f"Order product {pid} does not belong to order {order['id']}.")
        if line["order_address_id"] != address_id:
            raise ApiError(
                422,
                f"Order product {pid} ships to address {line['order_address_id']}, "
                f"not {address_id}.",
            )
        left = line["quantity"] - line["quantity_shipped"]
        if qty > left:
            raise ApiError(
                422, f"Cannot ship {qty} of order product {pid}: only {left} left to ship."
            )
    return address_id, wanted


def add(order: dict[str, Any], shipment_id: int, now: int, body: dict[str, Any]) -> dict[str, Any]:
    """Create a shipment, update quantity_shipped and move the status.

    GAP (FACTS.md §5): no doc says POST /shipments sets the status. We follow the control panel's
    "Ship Items" meaning of statuses 2 and 3 ([v2] paths./order_statuses.get): 3 Partially Shipped
    while anything is left, 2 Shipped (and date_shipped set) once everything is shipped. A client
    must not rely on it: it should read status_id back or PUT the status itself.
    """
    address_id, wanted = _validate(order, body)
    lines = {x["id"]: x for x in order["products"]}
    for pid, qty in wanted.items():
        lines[pid]["quantity_shipped"] += qty
    record = {
        "id": shipment_id,
        "order_id": order["id"],
        "order_address_id": address_id,
        "date_created": now,
        "items": [
            {"order_product_id": pid, "product_id": lines[pid]["product_id"], "quantity": q}
            for pid, q in wanted.items()
        ],
    }
    for key in PUT_FIELDS[1:]:
        record[key] = str(body.get(key, "") or "")
    record["merchant_shipping_cost"] = str(body.get("merchant_shipping_cost", "0.0000"))
    order["shipments"].append(record)
    if all(x["quantity_shipped"] >= x["quantity"] for x in order["products"]):
        order["status_id"] = SHIPPED
        order["date_shipped"] = order["date_shipped"] or now
    else:
        order["status_id"] = PARTIALLY_SHIPPED
    return record


def find(order: dict[str, Any], shipment_id: int) -> dict[str, Any]:
    for rec in order["shipments"]:
        if rec["id"] == shipment_id:
            return rec
    raise not_found(f"shipment {shipment_id} of order {order['id']}")


def update(order: dict[str, Any], shipment_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """PUT: tracking fields only; `items` is refused ([v2] components.schemas.orderShipment_Put)."""
    rec = find(order, shipment_id)
    if "items" in body:
        raise ApiError(
            400, "The field 'items' cannot be changed; delete the shipment and create a new one."
        )
    unknown = sorted(set(body) - set(PUT_FIELDS))
    if unknown:
        raise ApiError(400, f"The field '{unknown[0]}' cannot be written.")
    _check_lengths(body)
    if "order_address_id" in body:
        if not any(a["id"] == int(body["order_address_id"]) for a in order["addresses"]):
            raise ApiError(
                422, f"Order address {body['order_address_id']} does not belong to the order."
            )
        rec["order_address_id"] = int(body["order_address_id"])
    for key in PUT_FIELDS[1:]:
        if key in body:
            rec[key] = str(body[key])
    return rec


def remove(order: dict[str, Any], shipment_id: int) -> dict[str, Any]:
    """DELETE one shipment.

    FACTS.md §5: deleting a shipment does not move the order out of its shipped status, so the
    status and date_shipped stay. Our choice: the shipped quantities are given back
    (quantity_shipped / items_shipped go down), so the items can be shipped again.
    """
    rec = find(order, shipment_id)
    lines = {x["id"]: x for x in order["products"]}
    for item in rec["items"]:
        line = lines.get(item["order_product_id"])
        if line is not None:
            line["quantity_shipped"] = max(0, line["quantity_shipped"] - item["quantity"])
    order["shipments"].remove(rec)
    return rec
