"""What the seed's tables say each order of engine/conformance/rows.py ends as."""
from __future__ import annotations

from typing import Any, NamedTuple

from engine.conformance.rows import CREATED, LATE, MOVED, UNLISTED


def state(*flags: str, shipped: str = "none") -> dict[str, Any]:
    """The OMS state rules read, with these flags set (docs/formats.md, "State")."""
    known = ("billed", "paid", "packed", "closed", "void", "refunded")
    assert set(flags) <= set(known), flags
    return {"imported": True, **{f: f in flags for f in known}, "shipped": shipped}


BILLED = state("billed")
PAID = state("billed", "paid")
PACKED = state("billed", "paid", "packed")


class Row(NamedTuple):
    label: str  # the row of the seed's table, as the test id shows it
    order: str  # its order in rows.py
    stage: int  # the stage whose apply makes the change
    oms: dict[str, Any] | None  # the OMS's state from then on (None: never imported)


INBOUND = [
    Row("7 Awaiting Payment imports as billed", "new-7", 0, BILLED),
    Row("11 Awaiting Fulfillment imports a new order as paid", "new-11", 0, PAID),
    Row("11 Awaiting Fulfillment marks an imported order paid", "to-11", 1, PAID),
    Row("9 Awaiting Shipment imports a new order as paid and packed", "new-9", 0, PACKED),
    Row("9 Awaiting Shipment marks an imported order paid and packed", "to-9", 1, PACKED),
    Row("2 Shipped as a bare status change updates nothing", "to-2", 1, PAID),
    Row("3 Partially Shipped as a bare status change updates nothing", "to-3", 1, PAID),
    Row("5 Cancelled voids", "to-5", 1, state("billed", "void")),
    Row("10 Completed imports a new order billed, paid, packed (auto_close off)", "new-10", 0,
        PACKED),
    Row("10 Completed imports a new order and closes it (auto_close on)", "new-10-auto-close", 2,
        state("billed", "paid", "packed", "closed")),
    Row("10 Completed does not update an order imported before", "to-10", 1, BILLED),
    Row("8 Awaiting Pickup does not import", "new-8", 0, None),
    Row("8 Awaiting Pickup does not update", "to-8", 1, BILLED),
    Row("12 Manual Verification Required does not import", "new-12", 0, None),
    Row("12 Manual Verification Required does not update", "to-12", 1, BILLED),
    *(Row(f"{s} (not in the seed) does not import", f"new-{s}", 0, None) for s in UNLISTED),
    *(Row(f"{s} (not in the seed) does not update", f"to-{s}", 1, BILLED) for s in UNLISTED),
]

# OMS user's change -> the store status it pushes (refund: none, the order keeps its 11)
OUTBOUND = [
    Row("paid sets 11 Awaiting Fulfillment", "pay", 1, PAID),
    Row("packed sets 9 Awaiting Shipment", "pack", 1, state("billed", "packed")),
    Row("closed sets 10 Completed", "close", 1, state("billed", "closed")),
    Row("void sets 5 Cancelled", "void", 1, state("billed", "void")),
    Row("refund does not update the store", "refund", 1, state("billed", "paid", "refunded")),
]
PUSHED_STATUS = {"pay": 11, "pack": 9, "close": 10, "void": 5, "refund": 11}


def store_status(name: str) -> int:
    """The status the store itself gave an inbound row's order (rulesync writes none)."""
    return {**CREATED, **LATE, **MOVED}[name]
