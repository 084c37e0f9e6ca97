"""Unit tests of plan's parts: the state snapshot, the store client that cannot write, and the
present-state events of `apply --push-current`."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.plan_client import PlanClient, StoreWriteInPlan
from connectors.ledger.records import LedgerOrder, Shipment, ShipmentItem
from engine.errors import RulesyncError
from engine.storage.planning import private_copy, snapshot
from engine.sync.events import present_events

LINES = ({"id": 1, "sku": "MUG-1", "quantity": 2}, {"id": 2, "sku": "CAP-1", "quantity": 1})


def order(*shipments: Shipment, **flags: bool) -> LedgerOrder:
    base = {"billed": True, "paid": False, "packed": False, "closed": False, "void": False,
            "refunded": False}
    return LedgerOrder(order_id=7, imported_at="t", line_items=LINES, shipments=shipments,
                       **{**base, **flags})


def shipment(sid: str, quantity: int, *, origin: str = "user", store_id: str | None = None
             ) -> Shipment:
    return Shipment(sid, 7, "1Z", "ups", "", origin, "t",
                    (ShipmentItem(1, "MUG-1", quantity),), 11, store_id)


def kinds(o: LedgerOrder) -> list[str]:
    return [e["type"] for e in present_events(o, "s")]


def test_present_state_is_one_status_not_a_replay() -> None:
    assert kinds(order(paid=True)) == ["order.paid"]
    assert kinds(order(paid=True, packed=True)) == ["order.packed"]
    assert kinds(order(paid=True, packed=True, closed=True)) == ["order.closed"]
    assert kinds(order(void=True, paid=True)) == ["order.voided"]
    assert kinds(order()) == []


def test_present_state_pushes_only_the_shipments_the_store_lacks() -> None:
    mine, linked = shipment("L-1", 1), shipment("L-2", 1, store_id="40")
    from_store = shipment("41", 1, origin="store", store_id="41")
    events = present_events(order(mine, linked, from_store, paid=True, packed=True), "s")
    # a shipment moves the store status itself: no Awaiting Shipment before it
    assert [(e["type"], e["id"]) for e in events] == [("order.shipped", "s:order.shipped:L-1")]
    assert events[0]["shipment"]["items"][0]["quantity"] == 1
    closed = order(mine, paid=True, packed=True, closed=True, refunded=True)
    assert kinds(closed) == ["order.shipped", "order.closed", "order.refunded"]


def client() -> PlanClient:
    return PlanClient("store", "plan-test-token-7f3c", "http://127.0.0.1:9")  # a secret from now on


def test_the_plan_client_refuses_every_request_but_get() -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        with pytest.raises(StoreWriteInPlan):
            client().request(method, "/v2/orders/{order_id}", {"order_id": 1}, body={})
    with pytest.raises(StoreWriteInPlan):
        client().delete_shipment(1, 2)


def test_simulated_writes_are_seen_by_later_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    c = client()
    store = {"id": 5, "status_id": 11, "items_total": 3, "items_shipped": 0}
    monkeypatch.setattr("connectors.bigcommerce.client.BigCommerceClient.get_order",
                        lambda self, oid: dict(store))
    monkeypatch.setattr("connectors.bigcommerce.client.BigCommerceClient.list_shipments",
                        lambda self, oid: [])
    body: dict[str, Any] = {"order_address_id": 1, "items": [{"order_product_id": 1,
                                                              "quantity": 2}]}
    first = c.create_shipment(5, body)
    assert first["id"] < 0 and c.get_order(5)["status_id"] == 3  # Partially Shipped
    c.create_shipment(5, {**body, "items": [{"order_product_id": 2, "quantity": 1}]})
    assert c.get_order(5)["status_id"] == 2 and c.get_order(5)["items_shipped"] == 3
    assert [s["id"] for s in c.list_shipments(5)] == [-1, -2]
    c.update_order_status(5, 10)
    assert c.get_order(5)["status_id"] == 10
    assert store["status_id"] == 11  # nothing reached the store


def test_snapshot_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "state.sqlite"
    with private_copy(missing) as copy:
        assert copy.exists() and copy.stat().st_size == 0
    assert not (tmp_path / "no").exists() and not copy.parent.exists()


def test_snapshot_copies_what_is_committed(tmp_path: Path) -> None:
    source = tmp_path / "state.sqlite"
    with closing(sqlite3.connect(source, isolation_level=None)) as c:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t (x)")
        c.execute("INSERT INTO t VALUES (1)")
        snapshot(source, tmp_path / "copy.sqlite")  # while the writer is still open
    with closing(sqlite3.connect(tmp_path / "copy.sqlite")) as c:
        assert c.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_a_file_that_is_no_database_is_named(tmp_path: Path) -> None:
    source = tmp_path / "state.sqlite"
    source.write_text("not a database " * 100)
    with pytest.raises(RulesyncError, match=f"cannot read the state file {source}"):
        snapshot(source, tmp_path / "copy.sqlite")
    assert source.read_text() == "not a database " * 100
