"""The store client `plan` uses: it reads the live store and never writes to it.

`plan` runs the real sync (engine/storage/planning.py); this client lets every GET through and answers
the two writes a sync makes, a status PUT and a shipment POST, from memory, so that later reads
in the same run see their effect as they would in `apply`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.bigcommerce.client import BigCommerceClient


class StoreWriteInPlan(RuntimeError):
    """A bug: something tried to change the store during `plan`."""


class PlanClient(BigCommerceClient):
    """Reads the store; answers its own writes from memory and never sends one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: dict[int, dict[str, Any]] = {}  # status_id / items_shipped written
        self._shipments: dict[int, list[dict[str, Any]]] = {}
        self._made = 0

    def request(self, method: str, template: str, path_params: Mapping[str, Any] | None = None,
                params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        if method != "GET":  # the one gate every call goes through: nothing else can slip by
            raise StoreWriteInPlan(f"plan never writes to the store ({method} {template})")
        return super().request(method, template, path_params, params, body)

    def _seen(self, order: dict[str, Any]) -> dict[str, Any]:
        return {**order, **self._orders.get(int(order["id"]), {})}

    def get_order(self, order_id: int) -> dict[str, Any]:
        return self._seen(super().get_order(order_id))

    def list_orders_page(self, **filters: Any) -> list[dict[str, Any]]:
        return [self._seen(order) for order in super().list_orders_page(**filters)]

    def list_shipments(self, order_id: int) -> list[dict[str, Any]]:
        return super().list_shipments(order_id) + self._shipments.get(order_id, [])

    def update_order_status(self, order_id: int, status_id: int) -> dict[str, Any]:
        if type(status_id) is not int or not 0 <= status_id <= 14:
            raise ValueError(f"status_id must be an integer 0-14, got {status_id!r}")
        self._orders.setdefault(order_id, {})["status_id"] = status_id
        return {"id": order_id, "status_id": status_id}

    def create_shipment(self, order_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """What the store does on POST (FACTS §5, as the sandbox models it): the items count as
        shipped, and the order becomes Shipped once all are, else Partially Shipped. The id is
        negative, so it can never be taken for a store shipment."""
        order = self.get_order(order_id)
        shipped = int(order.get("items_shipped") or 0) + sum(
            int(item["quantity"]) for item in body.get("items") or ())
        total = int(order.get("items_total") or 0)
        self._orders.setdefault(order_id, {}).update(
            items_shipped=shipped, status_id=2 if shipped >= total else 3)
        self._made += 1
        made = {**body, "id": -self._made, "order_id": order_id}
        self._shipments.setdefault(order_id, []).append(made)
        return made
