"""Inbound actions (store -> ledger): each maps to one idempotent ledger method."""
from __future__ import annotations

from collections.abc import Callable

from connectors.ledger.errors import Conflict
from connectors.ledger.ledger import Ledger
from engine.language.effects import DONE, NOOP, ActionCall, Handler, Outcome

ORIGIN = "store"  # the change came from the store through the sync


def _flag(method: Callable[..., bool]) -> Handler:
    def handle(ledger: Ledger, call: ActionCall) -> Outcome:
        changed = method(ledger, call.order_id, origin=ORIGIN, note=call.params.get("note", ""))
        return DONE if changed else NOOP
    return handle


def import_order(ledger: Ledger, call: ActionCall) -> Outcome:
    order = call.event.get("order")
    if not order:
        return Outcome("failed", "the event carries no order to import")
    changed = ledger.import_order(order, origin=ORIGIN, note=call.params.get("note", ""))
    return DONE if changed else NOOP


def record_shipment(ledger: Ledger, call: ActionCall) -> Outcome:
    shipment = call.event.get("shipment")
    if not shipment:
        return Outcome("failed", "the event carries no shipment to record")
    changed = ledger.record_shipment(call.order_id, shipment, origin=ORIGIN,
                                     note=call.params.get("note", ""))
    return DONE if changed else NOOP


def remove_shipment(ledger: Ledger, call: ActionCall) -> Outcome:
    shipment = call.event.get("shipment") or {}
    changed = ledger.remove_shipment(call.order_id, str(shipment.get("id", "")), origin=ORIGIN,
                                     note=call.params.get("note", ""))
    return DONE if changed else NOOP


HANDLERS: dict[str, Handler] = {
    "import_order": import_order,
    "mark_paid": _flag(Ledger.mark_paid),
    "mark_packed": _flag(Ledger.mark_packed),
    "record_shipment": record_shipment,
    "remove_shipment": remove_shipment,
    "close_order": _flag(Ledger.close_order),
    "void_order": _flag(Ledger.void),
    "mark_refunded": _flag(Ledger.refund),
}


def execute(ledger: Ledger, call: ActionCall) -> Outcome:
    try:
        return HANDLERS[call.action](ledger, call)
    except Conflict as e:
        return Outcome("conflict", str(e))
