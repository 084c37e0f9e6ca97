"""The seed's two tables (PRODUCT.md), run end to end on one sandbox store in four stages.

Every row gets its own store order. Stage 1 creates them in the store (some at their row's
status, the others to be changed later) and applies; stage 2 makes the later store changes and
the OMS user's changes, partial shipments on both sides included; stage 3 ships the rest on both
sides, cancels in the store an order the OMS shipped (a conflict) and imports a Completed order
with auto_close on; stage 4 changes nothing. Every apply runs with push_order_info on, so
nothing rulesync wrote may come back as a change (no ping-pong). After each stage the run keeps
the summary, the plan that follows it, the store writes and both sides of every order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.conformance.oms_side import OmsUser, oms_orders
from engine.conformance.samples import ADDRESS, SECOND_ADDRESS, order_body
from engine.conformance.world import World

PUSH = "push_order_info=true"
AUTO_CLOSE = "auto_close=true"
UNLISTED = (0, 1, 4, 6, 13, 14)  # statuses the seed does not name: no update, ever

# name -> the status it is created with in stage 1, and the one the store moves it to in stage 2
CREATED: dict[str, int] = {
    "new-7": 7, "new-11": 11, "new-9": 9, "new-10": 10, "new-8": 8, "new-12": 12,
    "to-11": 7, "to-9": 7, "to-2": 11, "to-3": 11, "to-5": 7, "to-10": 7, "to-8": 7, "to-12": 7,
    "two-addresses": 7, "store-ships": 9, "conflict": 9,
    "pay": 7, "pack": 7, "ship": 7, "close": 7, "void": 7, "refund": 11,
    **{f"new-{s}": s for s in UNLISTED}, **{f"to-{s}": 7 for s in UNLISTED},
}
MOVED = {"to-11": 11, "to-9": 9, "to-2": 2, "to-3": 3, "to-5": 5, "to-10": 10, "to-8": 8,
         "to-12": 12, **{f"to-{s}": s for s in UNLISTED}}
LATE = {"new-10-auto-close": 10}  # created in stage 3, applied with auto_close on


@dataclass
class Stage:
    summary: dict[str, Any]
    plan: dict[str, Any]
    writes: dict[str, int]
    oms: dict[str, dict[str, Any] | None]
    store: dict[str, dict[str, Any]]


@dataclass
class RowsRun:
    world: World
    ids: dict[str, int] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    explain_conflict: str = ""

    def oms(self, stage: int, name: str) -> dict[str, Any] | None:
        return self.stages[stage].oms[name]

    def store(self, stage: int, name: str) -> dict[str, Any]:
        return self.stages[stage].store[name]

    def snapshot(self, *sets: str) -> None:
        w = self.world
        w.tick()
        w.sb.reset_counts()
        summary = w.apply(PUSH, *sets)
        writes = w.writes()
        plan = w.plan(PUSH, *sets)
        held = oms_orders(w, self.ids.values())
        self.stages.append(Stage(summary, plan, writes,
                                 {n: held[i] for n, i in self.ids.items()},
                                 {n: store_view(w, i) for n, i in self.ids.items()}))


def store_view(w: World, order_id: int) -> dict[str, Any]:
    """The store order's status and its shipments (tracking, carrier, sku -> quantity)."""
    sku = {int(line["id"]): line["sku"] for line in w.lines(order_id).values()}
    return {"status_id": w.store_order(order_id)["status_id"],
            "shipments": sorted((s["tracking_number"], s["tracking_carrier"], tuple(sorted(
                (sku[int(i["order_product_id"])], int(i["quantity"])) for i in s["items"])))
                for s in w.store_shipments(order_id))}


def run_rows(w: World, user: OmsUser) -> RowsRun:
    run = RowsRun(w)
    for name, status in CREATED.items():
        addresses = (ADDRESS, SECOND_ADDRESS) if name == "two-addresses" else (ADDRESS,)
        run.ids[name] = w.create(order_body(status, addresses=addresses))
    run.snapshot()  # 0

    ids = run.ids
    for name, status in MOVED.items():
        w.sb.store.set_status(ids[name], status)
    w.ship_in_store(ids["store-ships"], {"MUG-1": 1}, "1ZSTORE1", "ups")
    user.pay(ids["pay"])
    user.pack(ids["pack"])
    user.ship(ids["ship"], "1ZOMS1", "fedex", {"MUG-1": 1})
    user.ship(ids["conflict"], "1ZOMSALL", "ups")
    user.close(ids["close"])
    user.void(ids["void"])
    user.refund(ids["refund"])
    run.snapshot()  # 1

    w.ship_in_store(ids["store-ships"], {"MUG-1": 1, "CAP-1": 1}, "9400STORE2", "usps")
    user.ship(ids["ship"], "1ZOMS2", "fedex")
    w.sb.store.set_status(ids["conflict"], 5)
    for name, status in LATE.items():
        ids[name] = w.create(order_body(status))
    run.snapshot(AUTO_CLOSE)  # 2

    run.snapshot(AUTO_CLOSE)  # 3: nothing changed anywhere since stage 2
    r = w.run("explain", str(ids["conflict"]), "--state", str(w.state))
    assert r.returncode == 0, f"explain exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    run.explain_conflict = r.stdout
    return run
