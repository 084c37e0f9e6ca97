"""Store -> ledger, one test per row and note of the seed's first table (PRODUCT.md).

One store, built in stages, drives every scenario at once (the real command costs ~1 s per run):
stage 1 creates the orders, stage 2 makes the later store changes, stage 3 the second shipment,
stage 4 is a run with nothing new. After every stage the test keeps both sides: the ledger
(read as `rulesync orders show --json` prints it), the store orders and the apply summary.
Each test then checks its own order on both sides, after its stage and at the end.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.acceptance_world import (
    ADDRESS,
    NOTHING_DONE,
    SECOND_ADDRESS,
    World,
    counts,
    order_body,
    shipment_items,
)

# SQLite only: what these test is the same on both backends (one SqlState, one Ledger);
# the state on PostgreSQL is tested by the conformance kit (test_conformance.py: the seed's
# rows, crashes, conflicts), the crash trials, plan and the concurrency tests.
STATE_BACKENDS = ("sqlite",)

BILLED = {"billed": True, "paid": False, "packed": False, "shipped": "none", "closed": False,
          "void": False, "refunded": False}
PAID = {**BILLED, "paid": True}
PACKED = {**PAID, "packed": True}

STAGE1 = {  # name -> status the order is created with
    "awaiting_payment": 7, "awaiting_fulfillment_new": 11, "awaiting_shipment_new": 9,
    "to_fulfillment": 7, "to_shipment": 7, "shipments": 9, "bare_shipped": 11, "cancel": 7,
    "completed_new": 10, "completed_prev": 7, "pickup": 7, "verification": 7, "pickup_new": 8,
    "verification_new": 12, "multi_address": 7, "edit_items": 7, "edit_email": 7,
}
STAGE2_STATUS = {"to_fulfillment": 11, "to_shipment": 9, "bare_shipped": 2, "cancel": 5,
                 "completed_prev": 10, "pickup": 8, "verification": 12}


class Stages:
    def __init__(self, w: World) -> None:
        self.w = w
        self.ids: dict[str, int] = {}
        self.ledger: list[dict[str, Any]] = []   # per stage: name -> orders show --json
        self.store: list[dict[str, Any]] = []    # per stage: name -> (store order, shipments)
        self.summary: list[dict[str, Any]] = []
        self.plans: list[dict[str, Any]] = []

    def snapshot(self) -> None:
        self.w.tick()
        self.summary.append(self.w.apply())
        self.plans.append(self.w.plan())
        self.ledger.append({n: self.w.ledger_get(i) for n, i in self.ids.items()})
        self.store.append({n: (self.w.store_order(i), self.w.store_shipments(i))
                           for n, i in self.ids.items()})

    def actions_for(self, name: str, stage: int) -> list[dict[str, Any]]:
        return [a for a in self.summary[stage]["actions"] if a["order_id"] == self.ids[name]]


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Any:
    with World(tmp_path_factory.mktemp("inbound"), backend=backend) as w:
        s = Stages(w)
        for name, status in STAGE1.items():
            addresses = (ADDRESS, SECOND_ADDRESS) if name == "multi_address" else (ADDRESS,)
            s.ids[name] = w.create(order_body(status, addresses=addresses))
        s.snapshot()  # 0

        store = w.sb.store
        for name, status in STAGE2_STATUS.items():
            store.set_status(s.ids[name], status)
        w.ship_in_store(s.ids["shipments"], {"MUG-1": 1, "CAP-1": 1}, "1ZPART0001", "ups")
        mug = w.lines(s.ids["edit_items"])["MUG-1"]
        store.update_order(s.ids["edit_items"], {"products": [
            {"id": mug["id"], "quantity": 5},
            {"name": "Tea", "sku": "TEA-1", "quantity": 3, "price_inc_tax": "4.00",
             "price_ex_tax": "4.00"}]})
        store.update_order(s.ids["edit_email"], {"billing_address": {
            "email": "new-address@example.com", "first_name": "Joanna", "phone": "555-9999"}})
        s.snapshot()  # 1

        w.ship_in_store(s.ids["shipments"], {"MUG-1": 1}, "9400REST0002", "usps")
        s.snapshot()  # 2

        s.snapshot()  # 3: nothing changed anywhere since stage 2
        s.final_writes = w.writes()
        yield s


def check_unchanged_store(s: Stages, name: str, status: int, stage: int = 3) -> None:
    order, ships = s.store[stage][name]
    assert order["status_id"] == status
    assert ships == []


# -- every stage ------------------------------------------------------------------------------

def test_every_apply_converges_plan_is_empty(stages: Stages) -> None:
    for n, plan in enumerate(stages.plans):
        assert plan["actions"] == [], f"plan after apply {n} is not empty: {plan}"
        assert plan["problems"] == []
    for n, summary in enumerate(stages.summary):
        assert summary["errors"] == 0 and summary["conflicts"] == 0, (n, summary["problems"])


def test_inbound_sync_never_writes_to_the_store(stages: Stages) -> None:
    assert stages.final_writes == {}


def test_a_run_with_nothing_new_does_nothing(stages: Stages) -> None:
    assert counts(stages.summary[3]) == NOTHING_DONE
    assert [a for a in stages.summary[3]["actions"] if a["outcome"] != "noop"] == []
    assert stages.ledger[3] == stages.ledger[2]


# -- the rows -------------------------------------------------------------------------------

def test_awaiting_payment_imports_as_billed(stages: Stages) -> None:
    order = stages.ledger[0]["awaiting_payment"]
    assert order is not None and order["state"] == BILLED
    assert [i["sku"] for i in order["line_items"]] == ["MUG-1", "CAP-1"]
    assert order["customer"]["email"] == "jo@example.com"
    assert order["customer_message"] == "Leave at the door"
    assert order["totals"]["total_inc_tax"] == "29.0000"
    assert stages.ledger[3]["awaiting_payment"]["state"] == BILLED
    check_unchanged_store(stages, "awaiting_payment", 7)


def test_awaiting_fulfillment_on_new_order_imports_and_marks_paid(stages: Stages) -> None:
    assert stages.ledger[0]["awaiting_fulfillment_new"]["state"] == PAID
    assert stages.ledger[3]["awaiting_fulfillment_new"]["state"] == PAID
    check_unchanged_store(stages, "awaiting_fulfillment_new", 11)


def test_awaiting_fulfillment_marks_imported_order_paid(stages: Stages) -> None:
    assert stages.ledger[0]["to_fulfillment"]["state"] == BILLED
    assert stages.ledger[1]["to_fulfillment"]["state"] == PAID
    assert [a["action"] for a in stages.actions_for("to_fulfillment", 1)
            if a["outcome"] == "done"] == ["mark_paid"]
    check_unchanged_store(stages, "to_fulfillment", 11)


def test_awaiting_shipment_on_new_order_marks_paid_and_packed(stages: Stages) -> None:
    assert stages.ledger[0]["awaiting_shipment_new"]["state"] == PACKED
    check_unchanged_store(stages, "awaiting_shipment_new", 9)


def test_awaiting_shipment_marks_imported_order_paid_and_packed(stages: Stages) -> None:
    assert stages.ledger[0]["to_shipment"]["state"] == BILLED
    assert stages.ledger[1]["to_shipment"]["state"] == PACKED
    check_unchanged_store(stages, "to_shipment", 9)


def test_store_shipments_are_recorded_with_tracking_partial_then_complete(stages: Stages) -> None:
    name = "shipments"
    assert stages.ledger[0][name]["state"] == PACKED
    # stage 1: the first store shipment (1 mug + 1 cap of 2 mugs + 1 cap)
    after_first = stages.ledger[1][name]
    store_first = stages.store[1][name][1]
    assert len(store_first) == 1
    assert after_first["state"] == {**PACKED, "shipped": "partial"}
    assert len(after_first["shipments"]) == 1
    got = after_first["shipments"][0]
    assert (got["tracking_number"], got["carrier"]) == ("1ZPART0001", "ups")
    assert str(got["id"]) == str(store_first[0]["id"])
    assert shipment_items(got) == shipment_items(store_first[0])
    # stage 2: the rest
    after_rest = stages.ledger[2][name]
    store_ships = stages.store[2][name][1]
    assert after_rest["state"] == {**PACKED, "shipped": "complete"}
    assert sorted((s["tracking_number"], s["carrier"]) for s in after_rest["shipments"]) == [
        ("1ZPART0001", "ups"), ("9400REST0002", "usps")]
    assert sorted(shipment_items(s) for s in after_rest["shipments"]) == sorted(
        shipment_items(s) for s in store_ships)
    # the store side is the store's own doing: 2 shipments, status Shipped, nothing added
    assert len(stages.store[3][name][1]) == 2
    assert stages.store[3][name][0]["status_id"] == 2
    assert len(stages.ledger[3][name]["shipments"]) == 2


def test_bare_status_change_to_shipped_records_nothing(stages: Stages) -> None:
    name = "bare_shipped"
    assert stages.ledger[0][name]["state"] == PAID
    assert stages.ledger[1][name]["state"] == PAID
    assert stages.ledger[1][name]["shipments"] == []
    done = [a for a in stages.actions_for(name, 1) if a["outcome"] == "done"]
    assert done == []
    check_unchanged_store(stages, name, 2)


def test_cancelled_voids_the_order(stages: Stages) -> None:
    assert stages.ledger[0]["cancel"]["state"] == BILLED
    assert stages.ledger[1]["cancel"]["state"] == {**BILLED, "void": True}
    check_unchanged_store(stages, "cancel", 5)


def test_completed_new_order_imports_billed_paid_packed_not_closed_without_auto_close(
        stages: Stages) -> None:
    assert stages.ledger[0]["completed_new"]["state"] == PACKED
    assert stages.ledger[3]["completed_new"]["state"] == PACKED
    check_unchanged_store(stages, "completed_new", 10)


def test_completed_on_previously_imported_order_changes_nothing(stages: Stages) -> None:
    assert stages.ledger[0]["completed_prev"]["state"] == BILLED
    assert stages.ledger[1]["completed_prev"]["state"] == BILLED
    assert [a for a in stages.actions_for("completed_prev", 1) if a["outcome"] == "done"] == []
    check_unchanged_store(stages, "completed_prev", 10)


@pytest.mark.parametrize("name,status", [("pickup", 8), ("verification", 12)])
def test_awaiting_pickup_and_verification_change_nothing_on_imported_order(
        stages: Stages, name: str, status: int) -> None:
    assert stages.ledger[1][name] == stages.ledger[0][name]
    assert stages.ledger[1][name]["state"] == BILLED
    check_unchanged_store(stages, name, status)


@pytest.mark.parametrize("name,status", [("pickup_new", 8), ("verification_new", 12)])
def test_awaiting_pickup_and_verification_do_not_import_new_order(
        stages: Stages, name: str, status: int) -> None:
    assert stages.ledger[3][name] is None
    check_unchanged_store(stages, name, status)


def test_two_shipping_addresses_import_the_first_with_a_warning(stages: Stages) -> None:
    order = stages.ledger[0]["multi_address"]
    store_addresses = stages.w.sb.store.sub_resources(stages.ids["multi_address"], "addresses")
    first = min(store_addresses, key=lambda a: a["id"])
    assert order["shipping_address"]["street_1"] == "1 Main St" == first["street_1"]
    assert order["shipping_address"]["id"] == first["id"]
    assert "9 Side Rd" not in str(order)
    assert any("2 shipping addresses" in w for w in order["warnings"]), order["warnings"]
    assert order["state"] == BILLED
    check_unchanged_store(stages, "multi_address", 7)


def test_editing_items_in_the_store_after_import_changes_nothing(stages: Stages) -> None:
    before, after = stages.ledger[0]["edit_items"], stages.ledger[3]["edit_items"]
    store_lines = stages.w.lines(stages.ids["edit_items"])
    assert store_lines["MUG-1"]["quantity"] == 5 and "TEA-1" in store_lines  # the edit happened
    assert after == before
    assert [(i["sku"], i["quantity"]) for i in after["line_items"]] == [("MUG-1", 2),
                                                                       ("CAP-1", 1)]


def test_editing_customer_email_in_the_store_after_import_changes_nothing(stages: Stages) -> None:
    before, after = stages.ledger[0]["edit_email"], stages.ledger[3]["edit_email"]
    assert stages.store[3]["edit_email"][0]["billing_address"]["email"] == \
        "new-address@example.com"
    assert after == before
    assert after["customer"]["email"] == "jo@example.com"
    assert after["billing_address"]["email"] == "jo@example.com"
    assert after["billing_address"]["first_name"] == "Jo"


def test_orders_show_prints_the_ledger_order(stages: Stages) -> None:
    for name in ("shipments", "multi_address"):
        assert stages.w.show(stages.ids[name]) == stages.ledger[3][name]


def test_explain_names_the_rule_and_its_version_for_a_no_update(stages: Stages) -> None:
    r = stages.w.run("explain", str(stages.ids["bare_shipped"]), "--json", "--state",
                     str(stages.w.state))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    matched = [(d["event"]["type"], d["matched"], d["rules_sha256"]) for d in data["decisions"]]
    assert any(t == "order.status_changed" and "shipped-status-only" in m and sha
               for t, m, sha in matched), matched


# -- auto_close on (its own store: the setting applies to a whole run) ------------------------

def test_completed_new_order_is_closed_with_auto_close(world: World) -> None:
    new = world.create(order_body(10))
    imported_before = world.create(order_body(7))
    world.tick()
    world.apply("auto_close=true")
    world.sb.store.set_status(imported_before, 10)
    world.tick()
    summary = world.apply("auto_close=true")
    assert world.plan("auto_close=true")["actions"] == []
    assert world.show(new)["state"] == {**PACKED, "closed": True}
    assert world.show(imported_before)["state"] == BILLED  # previously imported: no update
    assert summary["errors"] == 0
    assert world.store_order(new)["status_id"] == 10
    assert world.writes() == {}


def test_an_order_first_seen_shipped_is_imported_paid_and_shipped_in_one_run(
        world: World) -> None:
    """Several events of one order in one run: each is decided on the ledger order as the one
    before it left it, so the shipment is recorded on the order that was just imported."""
    oid = world.create(order_body(7))
    world.tick()
    world.ship_in_store(oid, {"MUG-1": 1}, "1ZFIRST001")
    world.sb.store.set_status(oid, 11)
    world.tick()
    summary = world.apply()
    assert [a["action"] for a in summary["actions"]] == [
        "import_order", "mark_paid", "record_shipment"]
    shown = world.show(oid)
    assert shown["state"] == {**PAID, "shipped": "partial"}
    assert [s["tracking_number"] for s in shown["shipments"]] == ["1ZFIRST001"]
    assert world.plan()["actions"] == []


# -- no silent downgrade ------------------------------------------------------------------------

def test_store_cancelling_an_order_the_ledger_shipped_is_a_conflict_not_applied(
        world: World) -> None:
    oid = world.create(order_body(9))
    world.tick()
    world.apply()
    world.orders("ship", str(oid), "--tracking", "1ZLEDGER", "--carrier", "ups")
    world.sb.store.set_status(oid, 5)
    world.tick()
    summary = world.apply()
    assert summary["conflicts"] == 1, summary
    assert any(str(oid) in p and "void" in p for p in summary["problems"]), summary["problems"]
    state = world.ledger_get(oid)["state"]
    assert state["void"] is False and state["shipped"] == "complete"
    assert world.plan()["actions"] == []
    world.tick()
    assert counts(world.apply()) == NOTHING_DONE  # recorded once, not retried forever
    r = world.run("explain", str(oid), "--state", str(world.state))
    assert r.returncode == 0 and "conflict" in r.stdout, r.stdout
    assert world.writes() == {}
