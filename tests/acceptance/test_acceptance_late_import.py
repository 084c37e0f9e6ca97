"""A store shipment read before its order was in the ledger: the order cancelled, shipped by
the merchant anyway (nothing to record then), then set to Awaiting Shipment, which imports it.
The import takes the shipment in at once, and `explain` shows the decision that recorded it."""
from __future__ import annotations

import json

from tests.support import databases
from tests.support.acceptance_world import World, order_body

STATE_BACKENDS = databases.BACKENDS


def test_a_shipment_seen_before_the_import_is_recorded_with_it_and_explained(
        world: World) -> None:
    oid = world.create(order_body(5))  # Cancelled, never imported
    world.tick()
    world.apply()
    shipment = world.ship_in_store(oid, {"MUG-1": 1}, "MERCH-1", "fedex")
    world.tick()
    world.apply()
    event = f"store:{oid}:shipment:{shipment['id']}"
    decided = world.query("SELECT actions FROM sync_decisions WHERE event_id = ?", (event,))
    assert decided == [("[]",)], decided  # no order in the ledger: nothing to record
    world.sb.store.set_status(oid, 9)  # Awaiting Shipment: imported, paid and packed
    world.tick()
    summary = world.apply()
    assert summary["errors"] == 0, summary["problems"]
    ledger = world.ledger_get(oid)
    assert [s["tracking_number"] for s in ledger["shipments"]] == ["MERCH-1"], ledger
    assert ledger["state"]["shipped"] == "partial"
    assert world.plan()["actions"] == []
    rows = world.query("SELECT actions FROM sync_decisions WHERE event_id = ?", (event,))
    assert len(rows) == 1 and [a["action"] for a in json.loads(rows[0][0])] == [
        "record_shipment"], rows  # one decision per event: the one that recorded it
    explained = world.run("explain", str(oid), "--json", "--state", str(world.state))
    assert explained.returncode == 0, explained.stderr
    decisions = json.loads(explained.stdout)["decisions"]
    mine = [d for d in decisions if d["event_id"] == event]
    assert len(mine) == 1 and "record_shipment" in json.dumps(mine[0]["actions"]), mine
