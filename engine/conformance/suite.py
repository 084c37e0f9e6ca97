"""The conformance tests, as a base class a connector's own test module subclasses.

    from engine.conformance import Conformance

    class TestMyOms(Conformance):
        oms = {"connector": "my-oms", "endpoint": "..."}   # rulesync.yaml's `oms:` mapping
        def oms_user(self, world): return MyOmsUser(world)  # makes changes in your OMS

pytest collects the subclass (its name starts with `Test`), never this class. Two class-scoped
runs feed the tests: the seed's rows (engine/conformance/rows.py) and the crash trials
(engine/conformance/crash.py), each on its own sandbox store.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from engine.conformance.crash import CrashRun, run_crashes
from engine.conformance.databases import SQLITE, Database
from engine.conformance.expected import INBOUND, OUTBOUND, PUSHED_STATUS, Row, state, store_status
from engine.conformance.oms_side import LedgerUser, OmsUser
from engine.conformance.rows import RowsRun, run_rows
from engine.conformance.samples import NOTHING_DONE, counts
from engine.conformance.world import World

SHIPMENT_POST = "POST /v2/orders/{id}/shipments"
Shipment = tuple[str, str, tuple[tuple[str, int], ...]]  # tracking, carrier, sku -> quantity


class Conformance:
    """Subclass as `Test...`; set `oms`, and override `database` and `oms_user` as needed."""

    oms: ClassVar[dict[str, Any]] = {"connector": "ledger"}

    def database(self) -> Database:
        """Where each world keeps its state: "sqlite", a PostgreSQL server's URL (each world
        gets a new schema there), or for another state backend a function (folder, name) ->
        location making a new, empty state of it. Call pytest.skip here when there is nothing
        to test against."""
        return SQLITE

    def oms_user(self, world: World) -> OmsUser:
        """Someone making changes in the OMS under test (engine/conformance/oms_side.py)."""
        return LedgerUser(world)

    # Class-scoped fixtures are class methods (pytest); the hooks above are called on an
    # instance of the subclass, so that an author writes them as plain methods.
    @pytest.fixture(scope="class")
    @classmethod
    def seed_rows(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RowsRun]:
        kit = cls()
        with World(tmp_path_factory.mktemp("rows"), database=kit.database(),
                   oms=kit.oms) as w:
            yield run_rows(w, kit.oms_user(w))

    @pytest.fixture(scope="class")
    @classmethod
    def crash_runs(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRun]:
        kit = cls()
        database, base = kit.database(), tmp_path_factory.mktemp("crash")
        with World(base / "uninterrupted", database=database, oms=kit.oms) as clean, \
                World(base / "crashed", database=database, oms=kit.oms) as crashed:
            yield run_crashes(clean, crashed, kit.oms_user)

    # -- the seed's first table: store -> OMS -------------------------------------------------

    @pytest.mark.parametrize("row", INBOUND, ids=[r.label for r in INBOUND])
    def test_inbound_row(self, seed_rows: RowsRun, row: Row) -> None:
        """The OMS order ends as the row says, from that stage on; the store is left alone."""
        if row.order.startswith("to-"):  # a change to an order the OMS imported before
            assert seed_rows.oms(0, row.order) is not None, "not imported at first"
        for stage in range(row.stage, 4):
            got = seed_rows.oms(stage, row.order)
            assert (got and got["state"]) == row.oms, f"after stage {stage}: {got}"
            store = seed_rows.store(stage, row.order)
            assert store == {"status_id": store_status(row.order), "shipments": []}, store

    def test_store_shipments_are_recorded_partial_then_complete(self, seed_rows: RowsRun
                                                                ) -> None:
        first: Shipment = ("1ZSTORE1", "ups", (("MUG-1", 1),))
        rest: Shipment = ("9400STORE2", "usps", (("CAP-1", 1), ("MUG-1", 1)))
        expect = [(0, "none", []), (1, "partial", [first]), (2, "complete", [first, rest]),
                  (3, "complete", [first, rest])]
        for stage, shipped, shipments in expect:
            got = seed_rows.oms(stage, "store-ships")
            assert got is not None and got["state"] == state("billed", "paid", "packed",
                                                             shipped=shipped), (stage, got)
            assert got["shipments"] == sorted(shipments), (stage, got["shipments"])
            assert seed_rows.store(stage, "store-ships")["shipments"] == sorted(shipments)

    def test_two_shipping_addresses_import_the_first_with_a_warning(self, seed_rows: RowsRun
                                                                   ) -> None:
        got = seed_rows.oms(3, "two-addresses")
        assert got is not None and got["street"] == "1 Main St", got
        assert got["warnings"], "no warning about the second address"
        assert got["lines"] == [("CAP-1", 1), ("MUG-1", 2)], got["lines"]

    # -- the seed's second table: OMS -> store ------------------------------------------------

    @pytest.mark.parametrize("row", OUTBOUND, ids=[r.label for r in OUTBOUND])
    def test_outbound_row(self, seed_rows: RowsRun, row: Row) -> None:
        for stage in range(row.stage, 4):
            got = seed_rows.oms(stage, row.order)
            assert (got and got["state"]) == row.oms, f"after stage {stage}: {got}"
            store = seed_rows.store(stage, row.order)
            assert store == {"status_id": PUSHED_STATUS[row.order], "shipments": []}, store

    def test_oms_shipments_reach_the_store_partial_then_complete(self, seed_rows: RowsRun
                                                                 ) -> None:
        first: Shipment = ("1ZOMS1", "fedex", (("MUG-1", 1),))
        rest: Shipment = ("1ZOMS2", "fedex", (("CAP-1", 1), ("MUG-1", 1)))
        expect = [(1, "partial", 3, [first]), (2, "complete", 2, [first, rest]),
                  (3, "complete", 2, [first, rest])]
        for stage, shipped, status, shipments in expect:
            got = seed_rows.oms(stage, "ship")
            assert got is not None and got["state"]["shipped"] == shipped, (stage, got)
            assert got["shipments"] == sorted(shipments), (stage, got["shipments"])
            assert seed_rows.store(stage, "ship") == {"status_id": status,
                                                      "shipments": sorted(shipments)}

    # -- the invariants -----------------------------------------------------------------------

    def test_every_apply_converges(self, seed_rows: RowsRun) -> None:
        for n, stage in enumerate(seed_rows.stages):
            assert stage.plan["actions"] == [], f"plan after apply {n}: {stage.plan['actions']}"
            assert stage.summary["errors"] == 0, (n, stage.summary["problems"])

    def test_no_ping_pong(self, seed_rows: RowsRun) -> None:
        """What rulesync wrote to one side and reads back from it causes nothing: only the OMS
        user's changes are pushed, and the store changes rulesync made are not taken in."""
        stages, names = seed_rows.stages, {i: n for n, i in seed_rows.ids.items()}

        def acted(stage: int, direction: str, *outcomes: str) -> set[str]:
            return {names[a["order_id"]] for a in stages[stage].summary["actions"]
                    if a["direction"] == direction and (a["outcome"] in outcomes or not outcomes)}

        assert [acted(n, "outbound") for n in range(4)] == [
            set(), {"pay", "pack", "ship", "conflict", "close", "void"}, {"ship"}, set()]
        assert acted(2, "inbound", "done") == {"store-ships", "new-10-auto-close"}
        assert [s.writes for s in stages] == [
            {}, {"PUT /v2/orders/{id}": 4, SHIPMENT_POST: 2}, {SHIPMENT_POST: 1}, {}]
        assert counts(stages[3].summary) == NOTHING_DONE, stages[3].summary
        assert stages[3].oms == stages[2].oms
        for name in ("store-ships", "ship", "conflict"):
            oms, store = stages[3].oms[name], stages[3].store[name]
            assert oms is not None and oms["shipments"] == store["shipments"], name

    def test_a_conflict_is_shown_not_applied(self, seed_rows: RowsRun) -> None:
        """The store cancels an order the OMS shipped: recorded and shown, not applied."""
        oid, stages = seed_rows.ids["conflict"], seed_rows.stages
        assert [s.summary["conflicts"] for s in stages] == [0, 0, 1, 0]
        assert any(str(oid) in p for p in stages[2].summary["problems"]), stages[2].summary
        got = seed_rows.oms(3, "conflict")
        assert got is not None and got["state"] == state("billed", "paid", "packed",
                                                         shipped="complete"), got
        assert seed_rows.store(3, "conflict")["status_id"] == 5
        assert "conflict" in seed_rows.explain_conflict, seed_rows.explain_conflict

    # -- exactly once, crashing at every kind of point ----------------------------------------

    def test_the_runs_were_killed(self, crash_runs: CrashRun) -> None:
        assert crash_runs.kills["inbound"] >= 5 and crash_runs.kills["outbound"] >= 5, \
            crash_runs.kills

    def test_actions_were_handed_over_again_after_their_effect(self, crash_runs: CrashRun
                                                               ) -> None:
        """Some kills came after an effect: the OMS had to find its own earlier work."""
        again = set(crash_runs.handed_again)
        assert any(d == "inbound" for d, _ in again), again
        assert ("outbound", "create_store_shipment") in again, again

    def test_after_crashes_both_sides_are_as_without(self, crash_runs: CrashRun) -> None:
        clean, crashed = crash_runs.oms
        assert crashed == clean
        assert sum(o is not None for o in clean.values()) >= 9, clean
        clean_store, crashed_store = crash_runs.store
        assert crashed_store == clean_store

    def test_no_shipment_is_posted_twice(self, crash_runs: CrashRun) -> None:
        clean, crashed = crash_runs.posts
        assert crashed == clean == 3, crash_runs.posts

    def test_after_crashes_nothing_is_left_to_do(self, crash_runs: CrashRun) -> None:
        for summary, plan in zip(crash_runs.readback, crash_runs.plans):
            assert counts(summary) == NOTHING_DONE, summary
            assert plan["actions"] == [], plan["actions"]
