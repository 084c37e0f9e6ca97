"""Cases found in review, each through the real command against the sandbox: the store's live
status guards every push, and a store shipment deleted and made again."""
from __future__ import annotations

from pathlib import Path

from tests.support.acceptance_world import World, counts, order_body

PUSH = "push_order_info=true"


def _imported(w: World, status_id: int) -> int:
    oid = w.create(order_body(status_id))
    w.tick()
    w.apply()
    return oid


def test_paid_after_shipped_in_one_run_does_not_move_the_store_back(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = _imported(w, 7)
        w.orders("ship", str(oid), "--tracking", "1ZALL", "--carrier", "ups")
        w.orders("pay", str(oid))
        summary = w.apply(PUSH)
        assert counts(summary)["pushed"] == 1 and counts(summary)["conflicts"] == 1, summary
        assert any("back from 2 Shipped" in p for p in summary["problems"]), summary["problems"]
        assert w.store_order(oid)["status_id"] == 2  # Shipped, not Awaiting Fulfillment
        w.tick()
        assert w.plan(PUSH)["actions"] == []


def test_shipping_a_completed_store_order_is_a_conflict(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = _imported(w, 9)
        w.sb.store.set_status(oid, 10)  # the merchant completes it in the store
        w.orders("ship", str(oid), "--tracking", "1ZLATE", "--carrier", "ups")
        summary = w.apply(PUSH)
        assert counts(summary)["conflicts"] == 1, summary
        assert any("10 Completed" in p for p in summary["problems"]), summary["problems"]
        assert w.store_shipments(oid) == [] and w.store_order(oid)["status_id"] == 10


def test_a_store_shipment_deleted_and_made_again_replaces_it_in_the_ledger(
        tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = _imported(w, 9)
        wrong = w.ship_in_store(oid, {"MUG-1": 2, "CAP-1": 1}, "1ZWRONG")
        w.tick()
        w.apply()
        assert [s["tracking_number"] for s in w.ledger_get(oid)["shipments"]] == ["1ZWRONG"]
        w.sb.store.delete_shipment(oid, wrong["id"])
        w.ship_in_store(oid, {"MUG-1": 2, "CAP-1": 1}, "1ZRIGHT")
        w.tick()
        summary = w.apply()
        assert counts(summary)["errors"] == 0, summary["problems"]
        ledger = w.ledger_get(oid)
        assert [s["tracking_number"] for s in ledger["shipments"]] == ["1ZRIGHT"]
        assert ledger["state"]["shipped"] == "complete"
        w.tick()
        assert w.plan()["actions"] == []


def test_a_pushed_ledger_shipment_deleted_in_the_store_is_a_conflict_shown_once(
        tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = _imported(w, 9)
        w.orders("ship", str(oid), "--tracking", "1ZMINE", "--carrier", "ups")
        assert counts(w.apply(PUSH))["pushed"] == 1
        (made,) = w.store_shipments(oid)
        w.sb.store.delete_shipment(oid, made["id"])
        w.tick()
        summary = w.apply(PUSH)
        assert counts(summary)["conflicts"] == 1, summary
        assert any("made in the ledger" in p for p in summary["problems"]), summary["problems"]
        assert [s["tracking_number"] for s in w.ledger_get(oid)["shipments"]] == ["1ZMINE"]
        w.tick()
        again = w.apply(PUSH)
        assert counts(again)["conflicts"] == 0 and w.store_shipments(oid) == []


def test_a_store_change_not_yet_synced_is_synced_before_a_push_hides_it(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = _imported(w, 7)
        w.orders("pack", str(oid))
        w.sb.store.set_status(oid, 11)  # paid in the store, in the second the feed leaves open
        summary = w.apply(PUSH)
        assert counts(summary)["pushed"] == 1 and counts(summary)["errors"] == 0, summary
        ledger = w.ledger_get(oid)["state"]
        assert ledger["paid"] and ledger["packed"]  # the store's payment reached the ledger
        assert w.store_order(oid)["status_id"] == 9
        w.tick()
        assert w.plan(PUSH)["actions"] == []


def test_a_store_order_on_hold_is_not_moved_by_the_ledger(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = _imported(w, 7)
        w.sb.store.set_status(oid, 12)  # Manual Verification Required
        w.tick()
        w.apply()
        w.orders("pay", str(oid))
        summary = w.apply(PUSH)
        assert counts(summary)["conflicts"] == 1, summary
        assert w.store_order(oid)["status_id"] == 12


def test_a_shipment_remade_on_a_completed_order_is_still_seen(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = _imported(w, 9)
        wrong = w.ship_in_store(oid, {"MUG-1": 2, "CAP-1": 1}, "1ZWRONG")
        w.sb.store.set_status(oid, 10)
        w.tick()
        w.apply()
        w.sb.store.delete_shipment(oid, wrong["id"])
        w.ship_in_store(oid, {"MUG-1": 2, "CAP-1": 1}, "1ZRIGHT")
        w.sb.store.set_status(oid, 10)
        w.tick()
        assert counts(w.apply())["errors"] == 0
        assert [s["tracking_number"] for s in w.ledger_get(oid)["shipments"]] == ["1ZRIGHT"]


def test_a_rule_failing_for_one_event_is_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    import shutil

    import rules as shipped

    with World(tmp_path) as w:
        copy = w.dir / "myrules"
        shutil.copytree(shipped.BIGCOMMERCE, copy)
        outbound = copy / "outbound.yaml"
        outbound.write_text(outbound.read_text().replace(
            "({{ event.shipment.id }})", "({{ event.shipment.box.label }})"))
        config = w.dir / "rulesync.yaml"
        config.write_text("version: 1\nrules: [myrules]\n")
        shipped_oid, paid_oid = _imported(w, 9), _imported(w, 7)
        w.orders("ship", str(shipped_oid), "--tracking", "1ZX", "--carrier", "ups")
        w.orders("pay", str(paid_oid))
        summary = w.apply(PUSH, config=config, expect_rc=1)
        assert counts(summary)["errors"] == 1 and counts(summary)["pushed"] == 1, summary
        assert any("rule 'shipped'" in p and "box" in p for p in summary["problems"])
        assert w.store_order(paid_oid)["status_id"] == 11  # the next event still ran
        explained = w.run("explain", str(shipped_oid), "--state", str(w.state), config=config)
        assert "error:" in explained.stdout
