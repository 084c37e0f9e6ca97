"""The OMS side of a conformance run: its user's changes, and its orders read back.

The kit reads an OMS only through `engine.connect.ports.Oms` (the connector under test, opened from the
world's rulesync.yaml the way the sync opens it), so any connector can be checked. Making a
change *as the OMS's user* is not part of that protocol (the sync never does it), so a connector
author supplies an `OmsUser`; `LedgerUser` does it for any connector that keeps its orders in the
built-in ledger, through `rulesync orders ...`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from engine import config as configuration
from engine.conformance.world import World
from engine.connect.session import open_oms


class OmsUser(Protocol):
    """Someone working in the OMS: the changes the outbound rules push to the store."""

    def pay(self, order_id: int) -> None: ...
    def pack(self, order_id: int) -> None: ...
    def ship(self, order_id: int, tracking: str, carrier: str,
             items: Mapping[str, int] | None = None) -> None:
        """Ship `items` (sku -> quantity), or everything left when None."""
    def close(self, order_id: int) -> None: ...
    def void(self, order_id: int) -> None: ...
    def refund(self, order_id: int) -> None: ...


class LedgerUser:
    """The built-in ledger's user, through the real command (`rulesync orders pay ORDER`...)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def pay(self, order_id: int) -> None:
        self.world.orders("pay", str(order_id))

    def pack(self, order_id: int) -> None:
        self.world.orders("pack", str(order_id))

    def ship(self, order_id: int, tracking: str, carrier: str,
             items: Mapping[str, int] | None = None) -> None:
        flags = [a for sku, n in (items or {}).items() for a in ("--item", f"{sku}={n}")]
        self.world.orders("ship", str(order_id), "--tracking", tracking, "--carrier", carrier,
                          *flags)

    def close(self, order_id: int) -> None:
        self.world.orders("close", str(order_id))

    def void(self, order_id: int) -> None:
        self.world.orders("void", str(order_id))

    def refund(self, order_id: int) -> None:
        self.world.orders("refund", str(order_id))


def oms_orders(world: World, order_ids: Iterable[int]) -> dict[int, dict[str, Any] | None]:
    """What the OMS holds of each order (None: not imported), through the connector under test:
    its state as rules read it, lines, shipping address, warnings and shipments."""
    config = configuration.load(world.config, state=world.state, environ=world.env())
    oms = open_oms(config, world.state)
    try:
        return {oid: _view(oms.get(oid)) for oid in order_ids}
    finally:
        oms.close()


def _view(order: Any) -> dict[str, Any] | None:
    if order is None:
        return None
    return {
        "state": order.state(),
        "lines": sorted((line["sku"], int(line["quantity"])) for line in order.line_items),
        "street": (order.shipping_address or {}).get("street_1"),
        "warnings": list(order.warnings),
        "shipments": sorted((s.tracking_number, s.carrier, tuple(sorted(
            (i.sku, i.quantity) for i in s.items))) for s in order.shipments),
    }
