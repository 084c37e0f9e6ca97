"""The in-memory store: orders, shipments and hooks behind one lock, optionally saved to a file.

Every mutation bumps the order's date_modified (whole seconds, UTC, from `clock`), saves the data
file and then tells the listeners (the webhook dispatcher) which events happened.
"""

from __future__ import annotations

import copy
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import hooks, orders, persistence, query, records, render, shipments
from .errors import ApiError, not_found

Listener = Callable[[str, dict[str, Any]], None]


def empty_state() -> dict[str, Any]:
    return {
        "next_id": {"order": 100, "line": 1, "address": 1, "shipment": 1, "hook": 1},
        "orders": {},
        "hooks": {},
        "custom_labels": {},
    }


class Store:
    def __init__(
        self,
        store_hash: str,
        clock: Callable[[], float] = time.time,
        data_file: str | Path | None = None,
    ) -> None:
        self.store_hash = store_hash
        self.store_id = str(1_000_000 + zlib.crc32(store_hash.encode()) % 9_000_000)
        self.clock = clock
        self.api_root = f"https://api.bigcommerce.com/stores/{store_hash}/v2"
        self.data_file = Path(data_file) if data_file else None
        self.listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._state = empty_state()
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._batch_depth = 0
        saved = persistence.load(self.data_file) if self.data_file else None
        if saved is not None:
            saved["orders"] = {int(o["id"]): o for o in saved["orders"]}
            saved["hooks"] = {int(h["id"]): h for h in saved["hooks"]}
            self._state = saved
        self.loaded = saved is not None

    # -- plumbing -------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock())

    def next_id(self, kind: str) -> int:
        value = self._state["next_id"][kind]
        self._state["next_id"][kind] = value + 1
        return value

    def emit(self, scope: str, data: dict[str, Any]) -> None:
        self._events.append((scope, data))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many mutations, one save of the data file at the end (used by seeding)."""
        with self._lock:
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
            self._save()

    @contextmanager
    def _mutating(self) -> Iterator[None]:
        with self._lock:
            self._events = []
            yield
            if not self._batch_depth:
                self._save()
            events, self._events = self._events, []
        for scope, data in events:
            for listener in list(self.listeners):
                listener(scope, data)

    def _save(self) -> None:
        if self.data_file is not None:
            state = {
                **self._state,
                "orders": list(self._state["orders"].values()),
                "hooks": list(self._state["hooks"].values()),
            }
            persistence.save(self.data_file, state)

    def _order(self, order_id: int) -> dict[str, Any]:
        order = self._state["orders"].get(int(order_id))
        if order is None:
            raise not_found(f"order {order_id}")
        return order

    def _touch(self, order: dict[str, Any], previous_status: int) -> None:
        order["date_modified"] = self.now()
        self.emit("store/order/updated", {"type": "order", "id": order["id"]})
        if order["status_id"] != previous_status:
            self.emit(
                "store/order/statusUpdated",
                {
                    "type": "order",
                    "id": order["id"],
                    "status": {
                        "previous_status_id": previous_status,
                        "new_status_id": order["status_id"],
                    },
                },
            )

    # -- order writes ---------------------------------------------------------------------
    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v2/orders. Sandbox extension: a product may carry `order_address_index` to say
        which of the body's shipping_addresses it ships to (default: the first)."""
        orders.check_post(body)
        with self._mutating():
            order = records.new_order(self.next_id("order"), self.now(), body)
            bodies = body.get("shipping_addresses") or [body["billing_address"]]
            order["addresses"] = [
                records.new_address(self.next_id("address"), order["id"], a) for a in bodies
            ]
            for product in body["products"]:
                index = min(int(product.get("order_address_index", 0)), len(bodies) - 1)
                line = records.new_line(
                    self.next_id("line"), order["id"], order["addresses"][index]["id"], product
                )
                order["products"].append(line)
            self._state["orders"][order["id"]] = order
            self.emit("store/order/created", {"type": "order", "id": order["id"]})
            return self.order(order["id"])

    def update_order(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /v2/orders/{id}; validates everything before changing anything."""
        with self._mutating():
            order = self._order(order_id)
            orders.check_put(order, body)
            previous, was_deleted = order["status_id"], order["is_deleted"]
            orders.apply_put(order, body, self.next_id)
            self._touch(order, previous)
            if order["is_deleted"] and not was_deleted:
                self.emit("store/order/archived", {"type": "order", "id": order["id"]})
            return self.order(order_id)

    def set_status(self, order_id: int, status_id: int) -> dict[str, Any]:
        return self.update_order(order_id, {"status_id": status_id})

    def archive_order(self, order_id: int) -> None:
        self.update_order(order_id, {"is_deleted": True})

    def set_custom_label(self, status_id: int, label: str) -> None:
        with self._mutating():
            self._state["custom_labels"][str(orders.check_status(status_id))] = label

    # -- shipment writes ------------------------------------------------------------------
    def create_shipment(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        with self._mutating():
            order = self._order(order_id)
            previous = order["status_id"]
            rec = shipments.add(order, self._state["next_id"]["shipment"], self.now(), body)
            self.next_id("shipment")
            self.emit(
                "store/shipment/created",
                {"type": "shipment", "id": rec["id"], "orderId": order["id"]},
            )
            self._touch(order, previous)
            return copy.deepcopy(render.shipment(order, rec))

    def update_shipment(
        self, order_id: int, shipment_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        with self._mutating():
            order = self._order(order_id)
            rec = shipments.update(order, int(shipment_id), body)
            self.emit(
                "store/shipment/updated",
                {"type": "shipment", "id": rec["id"], "orderId": order["id"]},
            )
            order["date_modified"] = self.now()
            return copy.deepcopy(render.shipment(order, rec))

    def delete_shipment(self, order_id: int, shipment_id: int | None = None) -> None:
        """Delete one shipment, or all of the order's shipments when shipment_id is None."""
        with self._mutating():
            order = self._order(order_id)
            ids = (
                [shipment_id] if shipment_id is not None else [s["id"] for s in order["shipments"]]
            )
            for sid in ids:
                shipments.remove(order, int(sid))
                self.emit(
                    "store/shipment/deleted",
                    {"type": "shipment", "id": int(sid), "orderId": order["id"]},
                )
            if ids:
                self._touch(order, order["status_id"])

    # -- reads ----------------------------------------------------------------------------
    def labels(self) -> dict[int, str]:
        return {int(k): v for k, v in self._state["custom_labels"].items()}

    def order(self, order_id: int, include: frozenset[str] = frozenset()) -> dict[str, Any]:
        with self._lock:
            rec = self._order(order_id)
            body = render.order(rec, self.api_root, self.labels())
            if "consignments" in include:
                body["consignments"] = render.consignments(
                    rec, self.api_root, "consignments.line_items" in include
                )
            # No copy of the whole: render shares nothing with the record (it builds the body
            # afresh and copies what a PUT or POST stored as an object). Copying it all was 40% of the
            # cost of a list page.
            return body

    def order_ids(self, params: Mapping[str, str]) -> list[int]:
        """Ids of the orders matching the filters, sorted, not paged."""
        keep = query.order_filter(params)
        key, reverse = query.sort_key(params)
        with self._lock:
            found = [o for o in self._state["orders"].values() if keep(o)]
        return [o["id"] for o in sorted(found, key=key, reverse=reverse)]

    def status_counts(self, params: Mapping[str, str]) -> dict[int, int]:
        keep = query.order_filter(params)
        with self._lock:
            counts: dict[int, int] = {}
            for o in self._state["orders"].values():
                if keep(o):
                    counts[o["status_id"]] = counts.get(o["status_id"], 0) + 1
            return counts

    def sub_resources(self, order_id: int, kind: str) -> list[dict[str, Any]]:
        """'products', 'addresses' or 'shipments' of an order, rendered."""
        with self._lock:
            order = self._order(order_id)
            make: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
                "products": render.line,
                "addresses": lambda a: render.address(order, a, self.api_root),
                "shipments": lambda s: render.shipment(order, s),
            }
            return copy.deepcopy([make[kind](x) for x in order[kind]])

    def hooks(self) -> hooks.HookTable:
        """The v3 hooks, sharing this store's lock, clock and data file."""
        return hooks.HookTable(
            self._state["hooks"],
            self._mutating,
            self._lock,
            self.now,
            lambda: self.next_id("hook"),
            self.store_hash,
        )

    def raise_if_missing(self, order_id: int) -> None:
        with self._lock:
            self._order(order_id)


__all__ = ["ApiError", "Store"]
