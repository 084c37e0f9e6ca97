"""A change made just before `apply` is handled by that apply; a second change to the same order
later in the same second is handled by the next run, exactly once. One chain per row of the
seed's tables (inbound statuses 7, 11, 9, 2/3 with a shipment, 5, 10 new and previously imported,
8 and 12; outbound pushes with push_order_info on).

The store clock is frozen at one second S for the whole test after the set-up: every change and
every run below happens inside S, as when a merchant clicks and runs `apply` at once.
Stage 1 makes each chain's first change and runs `plan` then `apply`; stage 2 makes the second
change (same order, same second) and runs `plan` then `apply`; stage 3 runs `apply` again in S;
stage 4 lets the clock move on and runs `apply` and `plan` once more.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.acceptance_world import NOTHING_DONE, World, counts, order_body

SETTINGS = ("push_order_info=true", "auto_close=true")
BILLED = {"billed": True, "paid": False, "packed": False, "shipped": "none", "closed": False,
          "void": False, "refunded": False}
PAID = {**BILLED, "paid": True}
PACKED = {**PAID, "packed": True}
Change = Callable[[World, int], None]


def status(s: int) -> Change:
    return lambda w, oid: w.sb.store.set_status(oid, s)


def ship(items: dict[str, int], tracking: str) -> Change:
    return lambda w, oid: w.ship_in_store(oid, items, tracking) and None


def edit(w: World, oid: int) -> None:
    w.sb.store.update_order(oid, {"staff_notes": "called the customer"})


def ledger(*args: str) -> Change:
    return lambda w, oid: w.orders(args[0], str(oid), *args[1:]) and None


@dataclass(frozen=True)
class Chain:
    """An order (created at `start`, imported in the set-up unless `start` is None: then the
    first change creates it), its two changes and the ledger state after each."""

    start: int | None
    first: Change | int  # an int: create the order with that status in stage 1
    after_first: dict[str, Any] | None  # None: not in the ledger
    second: Change
    after_second: dict[str, Any] | None
    first_rule: str  # the rule that decided the first change
    second_rules: tuple[str, ...]  # the rules the second change's events matched (a note: none)
    shipments: int = 0


# A store shipment changes the status too (to 3 or 2): a bare status change, then the shipment.
SHIPPED_EVENTS = ("shipped-status-only", "shipment-recorded")
CHAINS = {
    "7-awaiting-payment-new": Chain(None, 7, BILLED, status(11), PAID,
                                    "awaiting-payment", ("awaiting-fulfillment",)),
    "11-awaiting-fulfillment": Chain(7, status(11), PAID, status(9), PACKED,
                                     "awaiting-fulfillment", ("awaiting-shipment",)),
    "9-awaiting-shipment": Chain(7, status(9), PACKED, ship({"MUG-1": 1}, "1ZSAME01"),
                                 {**PACKED, "shipped": "partial"},
                                 "awaiting-shipment", SHIPPED_EVENTS, 1),
    "2-3-shipped-with-a-shipment": Chain(
        9, ship({"MUG-1": 1}, "1ZSAME02"), {**PACKED, "shipped": "partial"},
        ship({"MUG-1": 1, "CAP-1": 1}, "1ZSAME03"), {**PACKED, "shipped": "complete"},
        "shipment-recorded", SHIPPED_EVENTS, 2),
    "5-cancelled": Chain(7, status(5), {**BILLED, "void": True}, edit, {**BILLED, "void": True},
                         "cancelled", ()),
    "5-cancelled-second": Chain(7, status(11), PAID, status(5), {**PAID, "void": True},
                                "awaiting-fulfillment", ("cancelled",)),
    "10-completed-new": Chain(None, 10, {**PACKED, "closed": True}, edit,
                              {**PACKED, "closed": True}, "completed-new-auto-close", ()),
    "10-completed-previously-imported": Chain(11, status(10), PAID, edit, PAID,
                                              "completed-previously-imported", ()),
    "10-completed-previously-imported-second": Chain(
        7, status(11), PAID, status(10), PAID, "awaiting-fulfillment",
        ("completed-previously-imported",)),
    "8-awaiting-pickup": Chain(7, status(8), BILLED, status(11), PAID,
                               "pickup-or-verification", ("awaiting-fulfillment",)),
    "12-verification-new": Chain(None, 12, None, status(11), PAID,
                                 "pickup-or-verification", ("awaiting-fulfillment",)),
    # outbound, push_order_info on: the push writes the store in S, then the merchant changes
    # the same order in S
    "push-paid": Chain(7, ledger("pay"), PAID, status(9), PACKED, "paid", ("awaiting-shipment",)),
    "push-shipped": Chain(9, ledger("ship", "--tracking", "1ZPUSH1", "--carrier", "ups",
                                    "--item", "MUG-1=1"), {**PACKED, "shipped": "partial"},
                          ship({"MUG-1": 1, "CAP-1": 1}, "1ZSAME04"),
                          {**PACKED, "shipped": "complete"}, "shipped", SHIPPED_EVENTS, 2),
    "push-void": Chain(7, ledger("void"), {**BILLED, "void": True}, edit,
                       {**BILLED, "void": True}, "voided", ()),
    "push-closed": Chain(9, ledger("close"), {**PACKED, "closed": True}, edit,
                         {**PACKED, "closed": True}, "closed", ()),
}
STORE_AFTER_PUSH = {"push-paid": 11, "push-void": 5, "push-closed": 10, "push-shipped": 3}


def decisions(w: World, oid: int) -> list[tuple[str, list[str]]]:
    """(event id, matched rule ids) of every decision recorded for the order."""
    conn = sqlite3.connect(f"file:{w.state}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT event_id, matched FROM sync_decisions WHERE order_id = ? "
                            "ORDER BY id", (oid,)).fetchall()
    finally:
        conn.close()
    return [(e, json.loads(m)) for e, m in rows]


def state_of(w: World, oid: int) -> dict[str, Any] | None:
    order = w.ledger_get(oid)
    return None if order is None else order["state"]


def history(w: World, oid: int) -> Counter[str]:
    return Counter(kind for kind, _ in w.ledger_dump().get(oid, {}).get("history", []))


class Run:
    def __init__(self, w: World) -> None:
        self.w = w
        self.ids: dict[str, int] = {}
        self.snaps: list[dict[str, Any]] = []
        self.stamps: list[dict[str, str]] = []  # per stage: name -> store date_modified

    def stage(self, *, plan: bool = True) -> None:
        w = self.w
        self.stamps.append({n: w.store_order(i)["date_modified"] for n, i in self.ids.items()})
        planned = w.plan(*SETTINGS)["actions"] if plan else []
        w.sb.reset_counts()
        summary = w.apply(*SETTINGS)
        self.snaps.append({
            "plan": planned, "summary": summary, "writes": w.writes(),
            "state": {n: state_of(w, i) for n, i in self.ids.items()},
            "decisions": {n: decisions(w, i) for n, i in self.ids.items()},
            "history": {n: history(w, i) for n, i in self.ids.items()},
            "store": {n: (w.store_order(i)["status_id"], len(w.store_shipments(i)))
                      for n, i in self.ids.items()}})


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with World(tmp_path_factory.mktemp("same-second")) as w:
        r = Run(w)
        for name, chain in CHAINS.items():
            if chain.start is not None:
                r.ids[name] = w.create(order_body(chain.start))
        w.tick()
        w.apply(*SETTINGS)  # the set-up import
        w.tick()  # second S: the clock stays here until stage 4
        for name, chain in CHAINS.items():
            if isinstance(chain.first, int):
                r.ids[name] = w.create(order_body(chain.first))
            else:
                chain.first(w, r.ids[name])
        r.stage()  # 1
        for name, chain in CHAINS.items():
            chain.second(w, r.ids[name])
        r.stage()  # 2
        r.stage(plan=False)  # 3: again in S
        w.tick()
        r.stage()  # 4: the second has closed
        yield r


def rules_of(found: list[tuple[str, list[str]]]) -> list[str]:
    return [rule for _, matched in found for rule in matched]


@pytest.mark.parametrize("name", CHAINS)
def test_a_change_followed_at_once_by_apply_is_handled_by_that_apply(run: Run, name: str) -> None:
    chain, first = CHAINS[name], run.snaps[0]
    assert first["state"][name] == chain.after_first
    assert chain.first_rule in rules_of(first["decisions"][name]), first["decisions"][name]
    if name in STORE_AFTER_PUSH:  # the push was sent by that apply
        assert first["store"][name][0] == STORE_AFTER_PUSH[name]


@pytest.mark.parametrize("name", CHAINS)
def test_a_second_change_in_the_same_second_is_handled_once_by_the_next_run(
        run: Run, name: str) -> None:
    chain = CHAINS[name]
    # the store's date_modified after the first change (and its push) and after the second
    stamp_first, stamp_second = run.stamps[1][name], run.stamps[2][name]
    assert stamp_first == stamp_second, "the two changes were not made in the same second"
    second = run.snaps[1]
    assert second["state"][name] == chain.after_second
    new = second["decisions"][name][len(run.snaps[0]["decisions"][name]):]
    assert tuple(rules_of(new)) == chain.second_rules, new
    # exactly once: nothing more in S, nor once the second has closed
    for later in run.snaps[2:]:
        assert later["state"][name] == chain.after_second
        assert later["decisions"][name] == second["decisions"][name]
        assert later["history"][name] == second["history"][name]
        assert later["store"][name] == second["store"][name]
    hist = second["history"][name]
    assert all(n == 1 for kind, n in hist.items() if kind != "shipment_recorded"), hist
    assert hist["shipment_recorded"] == chain.shipments
    assert second["store"][name][1] == chain.shipments  # no duplicate shipment in the store


def test_the_later_runs_do_nothing_and_write_nothing(run: Run) -> None:
    for snap in run.snaps[1:]:
        assert snap["writes"] == {}, snap["writes"]
    for snap in run.snaps[2:]:
        assert counts(snap["summary"]) == NOTHING_DONE
    assert run.snaps[3]["plan"] == []
    pushes = run.snaps[0]["writes"]
    assert pushes == {"PUT /v2/orders/{id}": 3, "POST /v2/orders/{id}/shipments": 1}, pushes


def test_plan_at_each_stage_lists_what_apply_then_did(run: Run) -> None:
    for snap in run.snaps[:2]:
        planned = sorted((a["order_id"], a["action"]) for a in snap["plan"])
        done = sorted((a["order_id"], a["action"]) for a in snap["summary"]["actions"])
        assert planned == done
