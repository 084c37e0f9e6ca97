"""Which line items a shipment carries, and whether that many units are left to ship."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.ledger.errors import LedgerError
from connectors.ledger.records import LedgerOrder, ShipmentItem


def _quantity(order_id: int, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LedgerError(f"order {order_id}: {what}: quantity must be a positive whole number, "
                          f"got {value!r}")
    return value


def _line_for(order: LedgerOrder, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The imported line item a store shipment item refers to (by order-product id, else sku)."""
    opid, sku = raw.get("order_product_id"), raw.get("sku")
    if opid is not None:
        line = next((li for li in order.line_items if int(li["id"]) == int(opid)), None)
        if line is None:
            raise LedgerError(f"order {order.order_id}: {where}: order-product id {opid} is not "
                              "one of its line items")
        if sku not in (None, "", line.get("sku")):
            raise LedgerError(f"order {order.order_id}: {where}: sku {sku!r} does not match "
                              f"order-product {opid} (sku {line.get('sku')!r})")
        return line
    matches = [li for li in order.line_items if sku and li.get("sku") == sku]
    if len(matches) != 1:
        found = "no line item" if not matches else f"{len(matches)} line items"
        raise LedgerError(f"order {order.order_id}: {where}: sku {sku!r} matches {found}; "
                          "give its order_product_id")
    return matches[0]


def resolve_items(order: LedgerOrder, raw_items: Any, label: str) -> tuple[ShipmentItem, ...]:
    """Map a normalized shipment's items onto the order's line items and check the quantities."""
    if not isinstance(raw_items, list) or not raw_items:
        raise LedgerError(f"order {order.order_id}: shipment {label} carries no items")
    merged: dict[int, ShipmentItem] = {}
    for index, raw in enumerate(raw_items):
        where = f"shipment {label} item {index}"
        if not isinstance(raw, Mapping):
            raise LedgerError(f"order {order.order_id}: {where}: expected an object, got {raw!r}")
        line = _line_for(order, raw, where)
        opid, qty = int(line["id"]), _quantity(order.order_id, where, raw.get("quantity"))
        before = merged[opid].quantity if opid in merged else 0
        merged[opid] = _item(line, before + qty)
    items = tuple(merged.values())
    check_left(order, items, label)
    return items


def allocate(order: LedgerOrder, wanted: Mapping[str, int] | None) -> tuple[ShipmentItem, ...]:
    """Items for a new ledger shipment: ``wanted`` units by sku, or everything still unshipped."""
    left = order.remaining()
    lines = [li for li in order.line_items if int(li["id"]) in left]
    if wanted is None:
        items = tuple(_item(li, left[int(li["id"])]) for li in lines)
        if not items:
            raise LedgerError(f"order {order.order_id}: nothing left to ship")
        return items
    if not wanted:
        raise LedgerError(f"order {order.order_id}: a shipment needs at least one item")
    items_by_opid: dict[int, ShipmentItem] = {}
    for sku, qty in wanted.items():
        todo = _quantity(order.order_id, f"sku {sku!r}", qty)
        if not any(li.get("sku") == sku for li in order.line_items):
            known = ", ".join(sorted({str(li.get("sku")) for li in order.line_items}))
            raise LedgerError(f"order {order.order_id}: no line item has sku {sku!r} "
                              f"(skus: {known})")
        for line in (li for li in lines if li.get("sku") == sku and todo):
            take = min(todo, left[int(line["id"])])
            items_by_opid[int(line["id"])] = _item(line, take)
            todo -= take
        if todo:
            raise LedgerError(f"order {order.order_id}: cannot ship {qty} of {sku!r}: only "
                              f"{qty - todo} left to ship")
    return tuple(items_by_opid.values())


def check_left(order: LedgerOrder, items: tuple[ShipmentItem, ...], label: str) -> None:
    """Refuse a shipment that carries more units of a line than are left to ship."""
    left = order.remaining()
    for item in items:
        if item.quantity > left.get(item.order_product_id, 0):
            raise LedgerError(
                f"order {order.order_id}: shipment {label} ships {item.quantity} of "
                f"{item.sku!r} (order-product {item.order_product_id}) but only "
                f"{left.get(item.order_product_id, 0)} left to ship"
            )


def _item(line: Mapping[str, Any], quantity: int) -> ShipmentItem:
    product_id = line.get("product_id")
    return ShipmentItem(order_product_id=int(line["id"]), sku=str(line.get("sku") or ""),
                        quantity=quantity,
                        product_id=None if product_id is None else int(product_id))
