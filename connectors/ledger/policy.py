"""No silent downgrade: which changes the ledger refuses, as data (see docs/ledger.md).

A change that is already in effect is a no-op, checked before these rules, so a retry never
conflicts. A refused change raises Conflict and writes nothing.
"""
from __future__ import annotations

from collections.abc import Callable

from connectors.ledger.errors import Conflict
from connectors.ledger.records import SHIPPED_NONE, LedgerOrder

Check = tuple[Callable[[LedgerOrder], bool], str]

_VOID: Check = (lambda order: order.void, "the order is void")

REFUSED_WHEN: dict[str, tuple[Check, ...]] = {
    "mark paid": (_VOID,),
    "mark packed": (_VOID,),
    "record a shipment": (_VOID,),
    "close": (_VOID,),
    "void": (
        (lambda order: order.shipped != SHIPPED_NONE,
         "the order has already shipped (shipped: {shipped})"),
        (lambda order: order.closed, "the order is closed"),
    ),
    "refund": ((lambda order: not order.paid, "the order is not paid"),),
}


def ensure_allowed(order: LedgerOrder, action: str) -> None:
    """Raise Conflict naming the first rule that refuses ``action`` on ``order``."""
    for refuses, reason in REFUSED_WHEN[action]:
        if refuses(order):
            raise Conflict(order.order_id, action, reason.format(shipped=order.shipped))
