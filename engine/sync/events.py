"""Turning what changed on each side into normalized events (docs/formats.md).

Event ids are deterministic: a rerun after a crash derives the same ids, hence the same
idempotency keys, so the outbox recognises the work it already did.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.ledger.records import HistoryEntry, LedgerOrder, Shipment

# Ledger history kinds that outbound rules see; other kinds (imported, shipment_linked) are
# bookkeeping and cause nothing.
LEDGER_EVENTS = {"paid": "order.paid", "packed": "order.packed",
                 "shipment_recorded": "order.shipped", "closed": "order.closed",
                 "voided": "order.voided", "refunded": "order.refunded"}


def store_events(order: Mapping[str, Any], shipments: Iterable[Mapping[str, Any]] | None,
                 last_seen: Mapping[str, Any] | None, recorded: Iterable[Shipment]
                 ) -> list[dict[str, Any]]:
    """Events for one changed store order: a status change, shipments the store no longer has
    (their quantities free up first), then shipments the ledger lacks.

    `shipments` is None when they were not fetched; `recorded` are the ledger's shipments."""
    oid = int(order["id"])
    recorded = list(recorded)
    known = {str(i) for s in recorded for i in (s.id, s.store_id) if i}
    events: list[dict[str, Any]] = []
    previous = None if last_seen is None else last_seen["status_id"]
    if previous != order["status_id"]:
        events.append({"id": f"store:{oid}:status:{previous}->{order['status_id']}"
                             f"@{order['date_modified']}",
                       "type": "order.status_changed", "order_id": oid,
                       "previous_status_id": previous, "new_status_id": order["status_id"],
                       "order": dict(order)})
    if shipments is None:
        return events
    shipments = list(shipments)
    in_store = {str(s["id"]) for s in shipments}
    for gone in recorded:
        # Any recorded shipment with a store twin that the store no longer has; the ledger
        # refuses (a conflict, shown once) to forget one that was made in the ledger.
        if gone.store_id and str(gone.store_id) not in in_store:
            events.append({"id": f"store:{oid}:shipment-deleted:{gone.id}",
                           "type": "shipment.deleted", "order_id": oid,
                           "shipment": gone.as_dict()})
    for shipment in shipments:
        if str(shipment["id"]) not in known:
            events.append({"id": f"store:{oid}:shipment:{shipment['id']}",
                           "type": "shipment.created", "order_id": oid,
                           "shipment": dict(shipment), "order": dict(order)})
    return events


def ledger_event(entry: HistoryEntry) -> dict[str, Any] | None:
    """The outbound event of one ledger change made by a ledger user, if it has one."""
    kind = LEDGER_EVENTS.get(entry.kind)
    if kind is None or entry.origin != "user":
        return None  # changes rulesync made (origin store/rulesync) are never sent back
    event: dict[str, Any] = {"id": f"ledger:{entry.seq}", "type": kind,
                             "order_id": entry.order_id}
    if kind == "order.shipped":
        event["shipment"] = dict(entry.details)
    return event


def present_events(order: LedgerOrder, stem: str) -> list[dict[str, Any]]:
    """Outbound events that bring the store to the ledger order's present state, for
    `apply --push-current` after changes were held while push_order_info was off.

    Not a replay: each ledger shipment the store does not have yet, then one status event for
    how far the order got (closed; else packed or paid while nothing is shipped, as a shipment
    moves the store status itself), and refunded. Void is the whole story for a void order. The
    outbound rules decide what each event sends."""
    state, oid = order.state(), order.order_id

    def event(kind: str, suffix: str = "", **extra: Any) -> dict[str, Any]:
        return {"id": f"{stem}:{kind}{suffix}", "type": kind, "order_id": oid, **extra}

    if state["void"]:
        return [event("order.voided")]
    events = [event("order.shipped", f":{s.id}", shipment=s.as_dict())
              for s in order.shipments if s.origin == "user" and not s.store_id]
    if state["closed"]:
        events.append(event("order.closed"))
    elif state["shipped"] == "none" and (state["packed"] or state["paid"]):
        events.append(event("order.packed" if state["packed"] else "order.paid"))
    if state["refunded"]:
        events.append(event("order.refunded"))
    return events
