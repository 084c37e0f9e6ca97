"""Outbound actions (ledger -> store): status writes and shipments, each exactly once."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.errors import FatalApiError, RateLimitError, StoreReplyError
from connectors.bigcommerce.shipments import same_shipment
from connectors.ledger.records import LedgerOrder
from engine.connect.ports import Oms, SyncState
from engine.errors import StaleOrder
from engine.language.catalog import HOLD_STATUSES, TERMINAL_STATUSES, downgrade, status_label
from engine.language.effects import DONE, NOOP, ActionCall, Handler, Outcome


@dataclass(frozen=True)
class StoreSide:
    client: BigCommerceClient
    ledger: Oms
    state: SyncState


# Completed, Cancelled, Refunded and the holds: a shipment would move the order to (Partially)
# Shipped, out of them.
NO_SHIPMENT_STATUSES = TERMINAL_STATUSES | HOLD_STATUSES | {10}


def _live_status(side: StoreSide, order_id: int) -> int:
    """The store order's status now, which must be the one the inbound sync last saw, or the
    one a status write of rulesync's was setting when its process died (`writing_status`)."""
    live = int(side.client.get_order(order_id)["status_id"])
    seen = side.state.store_order(order_id)
    if seen is not None and seen.get("writing_status") == live:
        side.state.remember_store_order(order_id, status_id=live, writing_status=None)
        return live
    if seen is not None and seen["status_id"] is not None and seen["status_id"] != live:
        raise StaleOrder(f"order {order_id} is {status_label(live)} in the store, last synced "
                         f"as {status_label(seen['status_id'])}")
    return live


def _remember_shipped(side: StoreSide, order_id: int) -> None:
    """Read back the status our shipment gave the order (FACTS §5 GAP: the docs do not say it
    changes it). Partially Shipped / Shipped are what a shipment causes, so remembering them
    hides nothing inbound rules act on, and reading them back is then no change."""
    order = side.client.get_order(order_id)
    if int(order["status_id"]) in (2, 3):
        side.state.remember_store_order(order_id, status_id=int(order["status_id"]),
                                        items_shipped=int(order.get("items_shipped") or 0))


def set_store_status(side: StoreSide, call: ActionCall) -> Outcome:
    target = int(call.params["status_id"])
    current = _live_status(side, call.order_id)
    if current == target:
        return NOOP
    why = downgrade(current, target)
    if why and not call.params.get("allow_downgrade"):
        return Outcome("conflict", f"not sent: {why}")
    # Marked durably before it is sent: a process killed after the store took the write, before
    # it remembered it, leaves the mark, and the status read back that matches it is known as
    # rulesync's own write, not a change the merchant made (engine/sync/run.py `store_change`).
    side.state.remember_store_order(call.order_id, durable=True, writing_status=target)
    try:
        side.client.update_order_status(call.order_id, target)
    except (FatalApiError, RateLimitError) as e:
        if not isinstance(e, StoreReplyError):  # refused, or never sent: the store has no write
            side.state.remember_store_order(call.order_id, writing_status=None)
        raise
    # Remember what we wrote, so that reading it back from the store is no change (no ping-pong).
    side.state.remember_store_order(call.order_id, status_id=target, writing_status=None)
    return DONE


def _address(order: LedgerOrder, call: ActionCall) -> int | str:
    """The one store address the shipment's items go to, or why there is not exactly one."""
    details = order.as_dict()
    lines = {item["id"]: item.get("order_address_id") for item in details["line_items"]}
    found = {lines.get(i["order_product_id"]) for i in call.event["shipment"]["items"]}
    found.discard(None)
    if len(found) > 1:
        # A store shipment belongs to one address (FACTS §10); the ledger keeps only the first.
        return (f"the items ship to {len(found)} different addresses; record one ledger "
                "shipment per address")
    address = details.get("shipping_address") or {}
    chosen = found.pop() if found else address.get("id")
    return int(chosen) if chosen is not None else "the order has no shipping address"


def shipment_body(call: ActionCall, address_id: int) -> dict[str, Any]:
    shipment = call.event["shipment"]
    body: dict[str, Any] = {
        "order_address_id": address_id,
        "items": [{"order_product_id": i["order_product_id"], "quantity": i["quantity"]}
                  for i in shipment["items"]],
        "tracking_number": shipment.get("tracking_number", ""),
        # tracking_carrier takes AfterShip slugs such as "ups" or "dhl" (FACTS §3), unlike the
        # closed shipping_provider list, so a carrier typed in the ledger always fits.
        "tracking_carrier": shipment.get("carrier", ""),
    }
    if call.params.get("comments"):
        body["comments"] = call.params["comments"]
    return body


def create_store_shipment(side: StoreSide, call: ActionCall) -> Outcome:
    order = side.ledger.get(call.order_id)
    if order is None:
        return Outcome("failed", f"order {call.order_id} is not in the ledger")
    address = _address(order, call)
    if isinstance(address, str):
        return Outcome("conflict", f"not sent: {address}")
    body = shipment_body(call, address)
    source = str(call.event["shipment"]["id"])
    mine = next((s for s in order.shipments if s.id == source), None)
    if mine is not None and mine.store_id:  # linked by an earlier attempt that then died
        _remember_shipped(side, call.order_id)  # which that attempt may not have done
        return Outcome("done", f"store shipment {mine.store_id}")
    # A store shipment already linked to another ledger shipment is that one's, not ours, even
    # when address, tracking number and items are the same.
    taken = {str(s.store_id) for s in order.shipments if s.store_id}

    def ours(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
        return str(existing["id"]) not in taken and same_shipment(existing, wanted)

    made = None
    if call.attempts > 1:  # an earlier attempt may have created it before the process died
        made = next((s for s in side.client.list_shipments(call.order_id) if ours(s, body)), None)
    if made is None:
        current = _live_status(side, call.order_id)
        if current in NO_SHIPMENT_STATUSES and not call.params.get("allow_downgrade"):
            # A shipment moves the order to Partially Shipped or Shipped (FACTS §5).
            return Outcome("conflict", f"not sent: the store order is {status_label(current)} "
                           "and a shipment would move it to Shipped")
        made = side.client.create_shipment_once(call.order_id, body, match=ours)
    side.ledger.link_store_shipment(call.order_id, source, made["id"])
    _remember_shipped(side, call.order_id)
    return Outcome("done", f"store shipment {made['id']}")


HANDLERS: dict[str, Handler] = {
    "set_store_status": set_store_status,
    "create_store_shipment": create_store_shipment,
}


def execute(side: StoreSide, call: ActionCall) -> Outcome:
    return HANDLERS[call.action](side, call)
