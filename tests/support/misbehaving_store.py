"""A misbehaving store in front of the real sandbox: rewrites or refuses what it says about one
order, the way a broken store or a meddling proxy would.

It wraps the sandbox's request handler (the pipeline behind its HTTP server), so rulesync still
talks real HTTP to a real store; only the chosen replies change. Store data is never touched:
healing the store (`heal`) gives back exactly what the sandbox holds, with the same
date_modified, so nothing but a retry can bring a dropped order back.
"""
from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.app import Outcome, error_body

ORDER_PATH = re.compile(r"/v2/orders(?:/(\d+))?")
SHIPMENTS_PATH = re.compile(r"/v2/orders/(\d+)/shipments")
Rewrite = Callable[[dict[str, Any]], None]


class MisbehavingStore:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.rewrites: dict[int, Rewrite] = {}
        self.shipment_rewrites: dict[int, Rewrite] = {}
        self.refusals: dict[tuple[str, str], int] = {}  # (method, path) -> HTTP status
        self.swallowed: dict[tuple[str, str], int] = {}  # applied, then answered with a status
        self._original = sb.app.handle
        sb.app.handle = self.handle  # type: ignore[method-assign]

    # -- what to do ---------------------------------------------------------------------
    def rewrite(self, order_id: int, change: Rewrite) -> None:
        """Every order reply (list pages and GET /v2/orders/{id}) carries `change(order)`."""
        self.rewrites[order_id] = change

    def rewrite_shipments(self, order_id: int, change: Rewrite) -> None:
        """Every shipment in replies to GET /v2/orders/{order_id}/shipments carries
        `change(shipment)`."""
        self.shipment_rewrites[order_id] = change

    def refuse(self, method: str, path: str, status: int) -> None:
        """Answer `method path` (e.g. GET /v2/orders/7) with `status`, without doing it."""
        self.refusals[(method, path)] = status

    def swallow(self, method: str, path: str, status: int) -> None:
        """Do `method path`, then answer `status` as if it had failed."""
        self.swallowed[(method, path)] = status

    def heal(self) -> None:
        self.rewrites.clear()
        self.shipment_rewrites.clear()
        self.refusals.clear()
        self.swallowed.clear()

    def restore(self) -> None:
        self.sb.app.handle = self._original  # type: ignore[method-assign]

    # -- the handler --------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               raw: bytes) -> Outcome:
        refused = self.refusals.get((method, path))
        if refused is not None:
            return _error(refused)
        out = self._original(method, path, query, headers, raw)
        swallowed = self.swallowed.get((method, path))
        if swallowed is not None:
            return _error(swallowed)
        if method != "GET" or out.status != 200:
            return out
        shipments = SHIPMENTS_PATH.fullmatch(path)
        if shipments:
            change = self.shipment_rewrites.get(int(shipments.group(1)))
            return _rewritten(out, lambda _: change) if change else out
        if not ORDER_PATH.fullmatch(path):
            return out
        return _rewritten(out, lambda order: self.rewrites.get(int(order.get("id") or 0)))


def _rewritten(out: Outcome, change_of: Callable[[dict[str, Any]], Rewrite | None]) -> Outcome:
    """The reply with `change_of(record)` applied to each record of its body (a list or one)."""
    body = copy.deepcopy(out.body)
    for record in body if isinstance(body, list) else [body]:
        change = change_of(record)
        if change is not None:
            change(record)
    return dataclasses.replace(out, body=body)


def _error(status: int) -> Outcome:
    return Outcome(status, error_body("v2", status, f"refused by the misbehaving store ({status})",
                                      {}))


# -- ways an order can be unreadable ---------------------------------------------------------

def status_as_string(order: dict[str, Any]) -> None:
    order["status_id"] = str(order["status_id"])


def consignments_null(order: dict[str, Any]) -> None:
    order["consignments"] = None


def negative_quantity(order: dict[str, Any]) -> None:
    """A line item quantity of -1: the order reads, the ledger refuses to import it."""
    consignments = order["consignments"]
    for part in consignments if isinstance(consignments, list) else [consignments]:
        for group in part.get("shipping") or []:
            for line in group.get("line_items") or []:
                line["quantity"] = -1


def date_modified_null(order: dict[str, Any]) -> None:
    order["date_modified"] = None


def date_modified_empty(order: dict[str, Any]) -> None:
    order["date_modified"] = ""


def consignments_of_numbers(order: dict[str, Any]) -> None:
    order["consignments"] = [1]


def consignment_shipping_a_string(order: dict[str, Any]) -> None:
    order["consignments"] = [{"shipping": "x"}]


def billing_address_a_string(order: dict[str, Any]) -> None:
    order["billing_address"] = "x"


def shipping_consignment_without_id(order: dict[str, Any]) -> None:
    """A shipping consignment without its id, whose line items do not name their address
    either: nothing says which address the items go to."""
    consignments = order["consignments"]
    for part in consignments if isinstance(consignments, list) else [consignments]:
        for group in part.get("shipping") or []:
            group.pop("id", None)
            for line in group.get("line_items") or []:
                line.pop("order_address_id", None)


# -- ways a shipment can be unreadable --------------------------------------------------------

def shipment_items_a_string(shipment: dict[str, Any]) -> None:
    shipment["items"] = "x"


def shipment_items_of_numbers(shipment: dict[str, Any]) -> None:
    shipment["items"] = [1]
