"""What rule files may name: BigCommerce statuses, event types, state fields and actions.

Statuses are fixed ids 0-14; merchants may only relabel them (FACTS.md §1), so rules key on ids
and the names here are only shown beside them for people.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STATUSES: dict[int, str] = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}

INBOUND, OUTBOUND = "inbound", "outbound"
STATUS_EVENT = "order.status_changed"
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    INBOUND: (STATUS_EVENT, "shipment.created", "shipment.updated", "shipment.deleted"),
    OUTBOUND: ("order.paid", "order.packed", "order.shipped", "order.closed", "order.voided",
               "order.refunded"),
}
# First-level keys of the public event and state formats (docs/formats.md); deeper keys are free.
EVENT_FIELDS = frozenset({"id", "type", "order_id", "previous_status_id", "new_status_id",
                          "order", "shipment"})
# Keys of the normalized order and shipment (docs/formats.md) that events carry. A store
# connector of one's own may add others, so a rule naming an unlisted one gets a warning, not
# an error: most often it is a typo that would fail every event it meets.
NESTED_FIELDS: dict[str, frozenset[str]] = {
    "order": frozenset({"id", "status_id", "status", "date_created", "date_modified",
                        "date_shipped", "payment_status", "customer", "billing_address",
                        "shipping_address", "shipping_address_count", "line_items", "totals",
                        "items_total", "items_shipped", "customer_message", "staff_notes",
                        "warnings"}),
    "shipment": frozenset({"id", "order_id", "order_address_id", "tracking_number", "carrier",
                           "tracking_link", "date_created", "items", "origin", "store_id"}),
}
STATE_FLAGS = ("imported", "billed", "paid", "packed", "closed", "void", "refunded")
SHIPPED_VALUES = ("none", "partial", "complete")
STATE_FIELDS = frozenset(STATE_FLAGS + ("shipped",))
NOT_IMPORTED_STATE: dict[str, object] = {**{f: False for f in STATE_FLAGS}, "shipped": "none"}
STATUS_PATHS = frozenset({"event.new_status_id", "event.previous_status_id"})


@dataclass(frozen=True)
class ActionSpec:
    name: str
    doc: str
    params: dict[str, type]  # parameter name -> type of its (rendered) value
    required: frozenset[str] = frozenset()


def _spec(name: str, doc: str, required: tuple[str, ...] = (), **params: type) -> ActionSpec:
    return ActionSpec(name, doc, {"note": str, **params}, frozenset(required))


ACTIONS: dict[str, dict[str, ActionSpec]] = {
    INBOUND: {s.name: s for s in (
        _spec("import_order", "import the order into the ledger as billed (never overwrites)"),
        _spec("mark_paid", "mark the ledger order paid"),
        _spec("mark_packed", "mark the ledger order packed"),
        _spec("record_shipment", "record the event's shipment with its tracking"),
        _spec("remove_shipment", "forget a store shipment the store deleted"),
        _spec("close_order", "close the ledger order"),
        _spec("void_order", "void the ledger order"),
        _spec("mark_refunded", "mark the ledger order refunded"),
    )},
    OUTBOUND: {s.name: s for s in (
        _spec("set_store_status", "set the store order's status_id", ("status_id",),
              status_id=int, allow_downgrade=bool),
        _spec("create_store_shipment",
              "create a store shipment with tracking for exactly the event's items",
              comments=str, allow_downgrade=bool),
    )},
}


def status_label(status_id: object) -> str:
    name = STATUSES.get(status_id) if isinstance(status_id, int) else None
    return f"{status_id} {name}" if name else str(status_id)


# The store's fulfilment path, for "no silent downgrade": a status write that would move an order
# back along it (e.g. Shipped -> Awaiting Fulfillment) is a conflict unless the rule allows it.
FULFILMENT_RANK = {7: 1, 11: 2, 9: 3, 3: 4, 2: 5, 10: 6}
TERMINAL_STATUSES = frozenset({5, 4})  # Cancelled, Refunded: nothing moves an order out of them
# Off the path, where a merchant or the payment provider holds the order: a ledger change does
# not take it out of them (Incomplete, Pending, Declined, Manual Verification Required, Disputed,
# Partially Refunded).
HOLD_STATUSES = frozenset({0, 1, 6, 12, 13, 14})


def downgrade(current: int | None, target: int) -> str:
    """Why writing `target` over `current` moves the order backwards, or '' if it does not."""
    if current is None or current == target:
        return ""
    if current in TERMINAL_STATUSES or current in HOLD_STATUSES:
        return f"the store order is {status_label(current)}"
    if FULFILMENT_RANK.get(target, 99) < FULFILMENT_RANK.get(current, 0):
        return f"it would move the store order back from {status_label(current)} to " \
               f"{status_label(target)}"
    return ""


def event_problems(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What makes a hand-written event (`rulesync eval`, a test case) unlike any the sync makes
    (docs/formats.md), as (key, why): an order id that is no integer, a status id outside 0-14,
    a status change without its new status."""
    found = []

    def shown(value: Any) -> str:
        return json.dumps(value, default=str)  # YAML may give a date

    if type(event.get("order_id")) is not int:
        found.append(("order_id", f"order_id must be an integer, not {shown(event.get('order_id'))}"))
    for key in ("previous_status_id", "new_status_id"):
        value = event.get(key)
        if key in event and not (value is None and key == "previous_status_id") \
                and (type(value) is not int or value not in STATUSES):
            found.append((key, f"{key} must be a BigCommerce status id 0-14"
                               f"{', or null' if key == 'previous_status_id' else ''}, "
                               f"not {shown(value)}"))
    if event.get("type") == STATUS_EVENT and "new_status_id" not in event:
        found.append(("new_status_id", f"an {STATUS_EVENT} event needs new_status_id"))
    return found
