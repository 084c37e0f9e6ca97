"""Ledger -> store with push_order_info on, one test per row of the seed's second table, and the
same ledger changes with push_order_info off. Ledger changes are made with `rulesync orders ...`.

Stages: 0 imports the store orders; 1 makes the ledger changes (pay, pack, partial ship, close,
void, refund) and pushes; 2 ships the rest and pushes; 3 reads everything back (no ping-pong).
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.acceptance_world import NOTHING_DONE, World, counts, order_body, shipment_items

# SQLite only: what these test is the same on both backends (one SqlState, one Ledger);
# the state on PostgreSQL is tested by the conformance kit (test_conformance.py: the seed's
# rows, crashes, conflicts), the crash trials, plan and the concurrency tests.
STATE_BACKENDS = ("sqlite",)

PUSH = "push_order_info=true"
NAMES = {"pay": 7, "pack": 7, "ship": 7, "close": 7, "void": 7, "refund": 11, "store_ship": 9}


class Stages:
    def __init__(self, w: World) -> None:
        self.w = w
        self.ids: dict[str, int] = {}
        self.summary: list[dict[str, Any]] = []
        self.plans: list[dict[str, Any]] = []
        self.writes: list[dict[str, int]] = []
        self.ledger: list[dict[str, Any]] = []
        self.store: list[dict[str, Any]] = []

    def snapshot(self) -> None:
        self.w.sb.reset_counts()
        self.summary.append(self.w.apply(PUSH))
        self.writes.append(self.w.writes())
        self.plans.append(self.w.plan(PUSH))
        self.ledger.append({n: self.w.ledger_get(i) for n, i in self.ids.items()})
        self.store.append({n: (self.w.store_order(i), self.w.store_shipments(i))
                           for n, i in self.ids.items()})


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Any:
    with World(tmp_path_factory.mktemp("outbound"), backend=backend) as w:
        s = Stages(w)
        for name, status in NAMES.items():
            s.ids[name] = w.create(order_body(status))
        w.tick()
        s.snapshot()  # 0: imports only
        w.tick()
        ids = s.ids
        w.orders("pay", str(ids["pay"]))
        w.orders("pack", str(ids["pack"]))
        w.orders("ship", str(ids["ship"]), "--tracking", "1ZOUT0001", "--carrier", "ups",
                 "--item", "MUG-1=1")
        w.orders("close", str(ids["close"]))
        w.orders("void", str(ids["void"]))
        w.orders("refund", str(ids["refund"]))
        w.ship_in_store(ids["store_ship"], {"MUG-1": 2}, "1ZSTORE", "fedex")
        s.snapshot()  # 1
        w.tick()
        w.orders("ship", str(ids["ship"]), "--tracking", "9400OUT0002", "--carrier", "usps")
        s.snapshot()  # 2
        w.tick()
        s.snapshot()  # 3: the store changes rulesync made are now read back
        w.tick()
        s.snapshot()  # 4
        yield s


def test_every_apply_converges_plan_is_empty(stages: Stages) -> None:
    for n, plan in enumerate(stages.plans):
        assert plan["actions"] == [], f"plan after apply {n}: {plan}"
    for n, summary in enumerate(stages.summary):
        assert summary["errors"] == 0 and summary["conflicts"] == 0, (n, summary["problems"])


def test_imports_push_nothing_back(stages: Stages) -> None:
    assert stages.summary[0]["imported"] == len(NAMES)
    assert stages.summary[0]["pushed"] == 0
    assert stages.writes[0] == {}


def test_paid_sets_awaiting_fulfillment(stages: Stages) -> None:
    assert stages.store[0]["pay"][0]["status_id"] == 7
    assert stages.store[1]["pay"][0]["status_id"] == 11
    assert stages.ledger[1]["pay"]["state"]["paid"] is True
    assert stages.store[4]["pay"][0]["status_id"] == 11


def test_packed_sets_awaiting_shipment(stages: Stages) -> None:
    assert stages.store[1]["pack"][0]["status_id"] == 9
    assert stages.store[4]["pack"][0]["status_id"] == 9


def test_shipped_creates_store_shipments_with_tracking_and_exactly_the_items(
        stages: Stages) -> None:
    lines = stages.w.lines(stages.ids["ship"])
    mug, cap = lines["MUG-1"]["id"], lines["CAP-1"]["id"]
    # partial
    order1, ships1 = stages.store[1]["ship"]
    assert len(ships1) == 1
    assert (ships1[0]["tracking_number"], ships1[0]["tracking_carrier"]) == ("1ZOUT0001", "ups")
    assert shipment_items(ships1[0]) == [(mug, 1)]
    assert order1["status_id"] == 3 and order1["items_shipped"] == 1
    assert stages.ledger[1]["ship"]["state"]["shipped"] == "partial"
    # the rest
    order2, ships2 = stages.store[2]["ship"]
    assert len(ships2) == 2
    rest = next(s for s in ships2 if s["tracking_number"] == "9400OUT0002")
    assert rest["tracking_carrier"] == "usps"
    assert shipment_items(rest) == sorted([(mug, 1), (cap, 1)])
    assert order2["status_id"] == 2 and order2["items_shipped"] == 3
    assert stages.ledger[2]["ship"]["state"]["shipped"] == "complete"
    # each ledger shipment is linked to its store shipment
    ledger_ships = stages.ledger[4]["ship"]["shipments"]
    assert sorted(str(s["store_id"]) for s in ledger_ships) == sorted(
        str(s["id"]) for s in stages.store[4]["ship"][1])


def test_closed_sets_completed(stages: Stages) -> None:
    assert stages.store[1]["close"][0]["status_id"] == 10
    assert stages.store[4]["close"][0]["status_id"] == 10


def test_void_sets_cancelled(stages: Stages) -> None:
    assert stages.store[1]["void"][0]["status_id"] == 5
    assert stages.store[4]["void"][0]["status_id"] == 5
    assert stages.ledger[4]["void"]["state"]["void"] is True


def test_refund_changes_nothing_in_the_store(stages: Stages) -> None:
    assert stages.ledger[1]["refund"]["state"]["refunded"] is True
    assert stages.store[4]["refund"] == stages.store[0]["refund"]  # not even date_modified
    pushed_for_refund = [a for a in stages.summary[1]["actions"]
                         if a["order_id"] == stages.ids["refund"] and a["outcome"] == "done"]
    assert pushed_for_refund == []


def test_store_shipment_read_in_with_push_on_is_not_sent_back(stages: Stages) -> None:
    ledger = stages.ledger[4]["store_ship"]
    assert [(s["tracking_number"], s["carrier"]) for s in ledger["shipments"]] == [
        ("1ZSTORE", "fedex")]
    assert ledger["state"]["shipped"] == "partial"
    assert len(stages.store[4]["store_ship"][1]) == 1
    assert [a for summary in stages.summary for a in summary["actions"]
            if a["order_id"] == stages.ids["store_ship"] and a["direction"] == "outbound"] == []


def test_exactly_the_expected_writes(stages: Stages) -> None:
    # pay, pack, close, void: one status PUT each; one shipment POST per ledger shipment
    assert stages.writes[1] == {"PUT /v2/orders/{id}": 4, "POST /v2/orders/{id}/shipments": 1}
    assert stages.writes[2] == {"POST /v2/orders/{id}/shipments": 1}
    assert stages.summary[1]["pushed"] == 5
    assert stages.summary[2]["pushed"] == 1


def test_round_trip_no_ping_pong(stages: Stages) -> None:
    for n in (3, 4):
        assert counts(stages.summary[n]) == NOTHING_DONE, stages.summary[n]
        assert stages.writes[n] == {}
    assert stages.ledger[4] == stages.ledger[2]
    for name in NAMES:
        ledger_ships = stages.ledger[4][name]["shipments"]
        store_ships = stages.store[4][name][1]
        assert len(store_ships) == len(ledger_ships), name
    # the read-back store shipments did not come in as new ledger shipments
    assert len(stages.ledger[4]["ship"]["shipments"]) == 2


# -- push_order_info off ------------------------------------------------------------------------

def test_push_order_info_off_sends_nothing(world: World) -> None:
    ids = {name: world.create(order_body(7)) for name in ("pay", "pack", "ship", "close", "void")}
    world.tick()
    world.apply()
    before = {n: (world.store_order(i), world.store_shipments(i)) for n, i in ids.items()}
    world.orders("pay", str(ids["pay"]))
    world.orders("pack", str(ids["pack"]))
    world.orders("ship", str(ids["ship"]), "--tracking", "1ZOFF", "--carrier", "ups")
    world.orders("close", str(ids["close"]))
    world.orders("void", str(ids["void"]))
    world.tick()
    summary = world.apply()
    world.tick()
    again = world.apply()
    assert world.plan()["actions"] == []
    assert summary["pushed"] == 0 and again["pushed"] == 0
    assert summary["errors"] == 0
    assert world.writes() == {}
    after = {n: (world.store_order(i), world.store_shipments(i)) for n, i in ids.items()}
    assert after == before
    states = {n: world.ledger_get(i)["state"] for n, i in ids.items()}
    assert states["pay"]["paid"] and states["pack"]["packed"] and states["close"]["closed"]
    assert states["ship"]["shipped"] == "complete" and states["void"]["void"]
