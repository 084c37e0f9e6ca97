"""The sandbox store as a test sees it: orders made and shipped in-process (the merchant's own
doing, never counted as an API call), read back, and the writes rulesync made through the API."""
from __future__ import annotations

from typing import Any

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock

WRITE_METHODS = ("POST ", "PUT ", "DELETE ")


class StoreSide:
    sb: Sandbox
    clock: FrozenClock

    def tick(self, seconds: int = 2) -> None:
        """Move the store clock on, so that changes made so far are in a closed second."""
        self.clock.advance(seconds)

    def create(self, body: dict[str, Any]) -> int:
        return int(self.sb.store.create_order(body)["id"])

    def lines(self, order_id: int) -> dict[str, dict[str, Any]]:
        """The store order's lines by sku."""
        return {p["sku"]: p for p in self.sb.store.sub_resources(order_id, "products")}

    def ship_in_store(self, order_id: int, items: dict[str, int], tracking: str,
                      carrier: str = "ups") -> dict[str, Any]:
        """The store's Ship Items action (a shipment created through the API)."""
        lines = self.lines(order_id)
        first = next(iter(lines.values()))
        shipment: dict[str, Any] = self.sb.store.create_shipment(order_id, {
            "order_address_id": first["order_address_id"],
            "items": [{"order_product_id": lines[sku]["id"], "quantity": qty}
                      for sku, qty in items.items()],
            "tracking_number": tracking, "tracking_carrier": carrier})
        return shipment

    def store_order(self, order_id: int) -> dict[str, Any]:
        order: dict[str, Any] = self.sb.store.order(order_id)
        return order

    def store_shipments(self, order_id: int) -> list[dict[str, Any]]:
        shipments: list[dict[str, Any]] = self.sb.store.sub_resources(order_id, "shipments")
        return shipments

    def store_dump(self) -> dict[int, dict[str, Any]]:
        """Status and shipments (without ids and times) of every store order."""
        out = {}
        for oid in self.sb.store.order_ids({}):
            order = self.sb.store.order(oid)
            ships = sorted((s["tracking_number"], s["tracking_carrier"], s["order_address_id"],
                            tuple(sorted((i["order_product_id"], i["quantity"])
                                         for i in s["items"])))
                           for s in self.store_shipments(oid))
            out[oid] = {"status_id": order["status_id"], "items_shipped": order["items_shipped"],
                        "shipments": ships}
        return out

    def writes(self) -> dict[str, int]:
        """API calls that could change the store (rulesync's; test set-up goes in-process)."""
        return {k: v for k, v in self.sb.api_calls().items() if k.startswith(WRITE_METHODS)}
