"""Invariant 2, exactly-once effects: SIGKILL `rulesync apply` at many crash points of a
250-order run (inbound imports, then outbound pushes including the non-idempotent shipment POST),
rerun until a run ends without crashing, and compare both sides with an uninterrupted run on an
identical, separate sandbox store.
"""
from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from typing import Any

import pytest

from connectors.ledger import Ledger, LedgerError
from engine import config as configuration
from engine.connect.session import open_sync
from engine.sync.summary import Summary
from tests.support import databases
from tests.support.acceptance_world import NOTHING_DONE, RULESYNC, World, counts, order_body

# The 250-order trials run on SQLite only: on PostgreSQL the conformance kit's crash run
# (tests/acceptance/test_conformance.py) kills `apply` at its crash points through the same
# SqlState and Ledger code. The single-order crash tests below run on both.
STATE_BACKENDS = ("sqlite",)
BOTH = pytest.mark.backends(*databases.BACKENDS)

PUSH = "push_order_info=true"
CRASH_ENV = "RULESYNC_TEST_CRASH_AT"
KILLED = -signal.SIGKILL
# Crash points are counted per process. The import run writes nothing to the store, so each
# inbound trial starts from an empty ledger against the same store: one kill at point N, then
# reruns. Outbound resumes where it stopped, so its kills are chained in one ledger.
# A 250-order import passes about 600 points: each inbound point falls inside it (checked).
ORDERS = 250
INBOUND_POINTS = list(range(1, 600, 75))
OUTBOUND_POINTS = [1, 2, 3, 4, 6, 8, 11, 14, 18, 23, 29, 36, 44, 53, 63,
                   74]


def crashing_apply(w: World, points: list[int], *sets: str) -> int:
    """Apply, killed at each point in turn until a run finishes; then one clean run. Kills."""
    kills = 0
    for n in points:
        r = w.run("apply", "--json", "--state", str(w.state), *[a for s in sets
                  for a in ("--set", s)], **{CRASH_ENV: str(n)})
        if r.returncode == KILLED:
            kills += 1
            continue
        assert r.returncode == 0, f"crash point {n}: exit {r.returncode}\n{r.stderr}"
        break
    summary = w.apply(*sets)
    assert summary["errors"] == 0, summary["problems"]
    return kills


def ledger_changes(w: World) -> list[tuple[str, int]]:
    """The same ledger user's changes on both sides: ship in full, ship part, pay, close."""
    dump = w.ledger_dump()
    open_orders = [o for oid, o in sorted(dump.items())
                   if not o["state"]["void"] and o["state"]["shipped"] != "complete"
                   and o["line_items"]]
    done: list[tuple[str, int]] = []
    with Ledger(w.state) as ledger:
        for o in open_orders[:30]:
            oid = o["order_id"]
            try:
                ledger.ship(oid, f"CRASH-FULL-{oid}", "ups", None, origin="user")
                done.append(("ship-all", oid))
            except LedgerError:
                pass
        for o in open_orders[30:50]:
            oid = o["order_id"]
            shipped = Counter()
            for s in o["shipments"]:
                for i in s["items"]:
                    shipped[i["order_product_id"]] += i["quantity"]
            line = next((li for li in o["line_items"]
                         if li["quantity"] - shipped[li["id"]] >= 1), None)
            if line is None or sum(1 for li in o["line_items"] if li["sku"] == line["sku"]) > 1:
                continue
            ledger.ship(oid, f"CRASH-PART-{oid}", "fedex", {line["sku"]: 1}, origin="user")
            done.append(("ship-part", oid))
        for o in [o for o in open_orders[50:] if not o["state"]["paid"]][:10]:
            ledger.mark_paid(o["order_id"], origin="user")
            done.append(("pay", o["order_id"]))
        for o in [o for o in open_orders[50:] if o["state"]["paid"]][:10]:
            ledger.close_order(o["order_id"], origin="user")
            done.append(("close", o["order_id"]))
    return done


def comparable(dump: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The ledger without the times (and store ids) that differ between two separate runs."""
    out = {}
    for oid, o in dump.items():
        o = {k: v for k, v in o.items() if k != "imported_at"}
        o["shipments"] = sorted(
            ({k: v for k, v in s.items() if k not in ("date_created", "store_id")}
             for s in o["shipments"]), key=repr)
        out[oid] = o
    return out


def shipment_actions(w: World) -> list[dict[str, Any]]:
    """The outbox rows of the shipment pushes: attempts, status and the ledger shipment."""
    rows = w.query("SELECT order_id, attempts, status, outcome, event FROM sync_outbox "
                   "WHERE action = 'create_store_shipment' ORDER BY seq")
    return [{"order_id": oid, "attempts": attempts, "status": status, "outcome": outcome,
             "shipment": json.loads(event)["shipment"]["id"]}
            for oid, attempts, status, outcome, event in rows]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Any:
    base = tmp_path_factory.mktemp("crash")
    with World(base / "clean", seed_orders=ORDERS, backend=backend) as clean, \
            World(base / "crashed", seed_orders=ORDERS, backend=backend) as crashed:
        assert clean.store_dump() == crashed.store_dump()  # identical stores to start with
        out: dict[str, Any] = {}
        # 1: import everything
        for w in (clean, crashed):
            w.tick()
        clean.apply(PUSH)
        reference = comparable(clean.ledger_dump())
        out["kills_inbound"], out["inbound_trials"] = 0, {}
        for n in INBOUND_POINTS:
            crashed.state = crashed.new_state(f"state-{n}")
            out["kills_inbound"] += crashing_apply(crashed, [n], PUSH)
            out["inbound_trials"][n] = comparable(crashed.ledger_dump()) == reference
        out["ledger_after_import"] = (reference, comparable(crashed.ledger_dump()))
        # 2: the ledger user's changes, pushed to the store
        out["changes"] = [ledger_changes(w) for w in (clean, crashed)]
        for w in (clean, crashed):
            w.tick()
        clean.apply(PUSH)
        out["kills_outbound"] = crashing_apply(crashed, OUTBOUND_POINTS, PUSH)
        out["kills"] = out["kills_inbound"] + out["kills_outbound"]
        out["pushes"] = [shipment_actions(w) for w in (clean, crashed)]
        # 3: read back what was pushed; nothing more may happen
        out["readback"] = []
        for w in (clean, crashed):
            w.tick()
            out["readback"].append(w.apply(PUSH))
        out["plans"] = [w.plan(PUSH) for w in (clean, crashed)]
        out["ledger"] = [comparable(w.ledger_dump()) for w in (clean, crashed)]
        out["store"] = [w.store_dump() for w in (clean, crashed)]
        out["posts"] = [w.sb.api_calls().get("POST /v2/orders/{id}/shipments", 0)
                        for w in (clean, crashed)]
        out["store_ids"] = [{oid: [s["id"] for s in w.store_shipments(oid)]
                             for oid in w.sb.store.order_ids({})} for w in (clean, crashed)]
        out["links"] = [{(oid, s["id"]): s["store_id"] for oid, o in w.ledger_dump().items()
                         for s in o["shipments"]} for w in (clean, crashed)]
        yield out


def test_at_least_20_crashes_happened(runs: Any) -> None:
    assert runs["kills"] >= 20, (runs["kills_inbound"], runs["kills_outbound"])
    assert runs["kills_inbound"] == len(INBOUND_POINTS)  # every import trial was killed


def test_the_crashes_hit_the_shipment_post(runs: Any) -> None:
    # an attempt count above 1 means a run died after counting the attempt: the POST may have
    # happened, and the rerun had to reconcile with the store instead of posting again
    assert any(p["attempts"] > 1 for p in runs["pushes"][1]), runs["pushes"][1]


def test_every_import_trial_ends_with_the_ledger_of_the_uninterrupted_run(runs: Any) -> None:
    assert runs["inbound_trials"] and all(runs["inbound_trials"].values()), runs["inbound_trials"]


def test_ledger_after_import_equals_uninterrupted_run(runs: Any) -> None:
    clean, crashed = runs["ledger_after_import"]
    assert len(clean) > 50
    assert crashed == clean


def test_same_ledger_changes_were_made_on_both_sides(runs: Any) -> None:
    clean, crashed = runs["changes"]
    assert clean == crashed
    kinds = Counter(k for k, _ in clean)
    assert kinds["ship-all"] >= 10 and kinds["ship-part"] >= 5, kinds


def test_final_ledger_equals_uninterrupted_run(runs: Any) -> None:
    clean, crashed = runs["ledger"]
    assert crashed == clean


def test_final_store_equals_uninterrupted_run(runs: Any) -> None:
    clean, crashed = runs["store"]
    assert crashed == clean


def test_no_duplicate_shipment_in_the_store(runs: Any) -> None:
    for store in runs["store"]:
        for oid, order in store.items():
            dupes = [s for s, n in Counter(order["shipments"]).items() if n > 1]
            assert dupes == [], (oid, dupes)


def test_the_shipment_post_is_never_repeated(runs: Any) -> None:
    clean, crashed = runs["posts"]
    assert crashed == clean
    assert clean == sum(1 for p in runs["pushes"][0] if p["status"] == "done")


def test_shipment_pushes_have_the_same_outcomes_as_uninterrupted_run(runs: Any) -> None:
    clean, crashed = ([(p["order_id"], p["shipment"], p["status"]) for p in pushes]
                      for pushes in runs["pushes"])
    assert crashed == clean
    assert sum(1 for *_, status in clean if status == "done") >= 15, clean


def test_each_pushed_ledger_shipment_is_linked_to_exactly_one_store_shipment(runs: Any) -> None:
    for pushes, links, ids in zip(runs["pushes"], runs["links"], runs["store_ids"]):
        for p in pushes:
            store_id = links[(p["order_id"], p["shipment"])]
            if p["status"] == "done":
                assert store_id is not None and int(store_id) in ids[p["order_id"]], p
            else:  # refused (e.g. items for several addresses): nothing may reach the store
                assert store_id is None, p
        linked = Counter(v for v in links.values() if v is not None)
        assert [k for k, n in linked.items() if n > 1] == []


def test_pushed_shipments_carry_their_tracking_once(runs: Any) -> None:
    store = runs["store"][1]
    for p in runs["pushes"][1]:
        if p["status"] != "done":
            continue
        kind = [k for k, oid in runs["changes"][1] if oid == p["order_id"]][0]
        prefix = "CRASH-FULL" if kind == "ship-all" else "CRASH-PART"
        tracking = [s for s in store[p["order_id"]]["shipments"]
                    if s[0] == f"{prefix}-{p['order_id']}"]
        assert len(tracking) == 1, (p, store[p["order_id"]])


def test_read_back_causes_nothing_and_plan_is_empty(runs: Any) -> None:
    for summary in runs["readback"]:
        assert counts(summary) == {**NOTHING_DONE, "conflicts": summary["conflicts"]}
        assert summary["pushed"] == 0 and summary["imported"] == 0
    for plan in runs["plans"]:
        assert plan["actions"] == []


@BOTH
def test_killed_after_the_shipment_post_the_rerun_reconciles_instead_of_posting(
        world: World) -> None:
    oid = world.create(order_body(9))
    world.tick()
    world.apply(PUSH)
    world.orders("ship", str(oid), "--tracking", "1ZKILL", "--carrier", "ups")
    world.tick()
    world.sb.reset_counts()
    post = "POST /v2/orders/{id}/shipments"
    # point 1: the decision is recorded; the next run starts with the pending action, whose
    # point 1 is "attempt counted" and point 2 "after the effect, before it is marked done"
    assert world.run("apply", "--state", str(world.state), "--set", PUSH,
                     **{CRASH_ENV: "1"}).returncode == KILLED
    assert world.sb.api_calls().get(post, 0) == 0
    assert world.run("apply", "--state", str(world.state), "--set", PUSH,
                     **{CRASH_ENV: "2"}).returncode == KILLED
    assert world.sb.api_calls().get(post, 0) == 1
    assert len(world.store_shipments(oid)) == 1
    summary = world.apply(PUSH)
    assert summary["errors"] == 0
    world.tick()
    again = world.apply(PUSH)
    assert counts(again) == NOTHING_DONE
    assert world.plan(PUSH)["actions"] == []
    assert world.sb.api_calls().get(post, 0) == 1
    ships = world.store_shipments(oid)
    assert [(s["tracking_number"], s["tracking_carrier"]) for s in ships] == [("1ZKILL", "ups")]
    ledger = world.ledger_get(oid)
    assert len(ledger["shipments"]) == 1
    assert str(ledger["shipments"][0]["store_id"]) == str(ships[0]["id"])
    assert ledger["state"]["shipped"] == "complete"


@BOTH
def test_killed_after_linking_a_shipment_the_rerun_remembers_the_status_it_caused(
        world: World) -> None:
    """Killed after the store shipment was linked to the ledger's, before the status it caused
    (Shipped) was remembered (here emulated: the push set back to pending, the status as
    before): the rerun finds it linked and remembers the status, so reading Shipped back is
    no change the merchant made."""
    oid = world.create(order_body(9))
    world.tick()
    world.apply(PUSH)
    world.orders("ship", str(oid), "--tracking", "1ZLINK", "--carrier", "ups")
    world.tick()
    world.apply(PUSH)
    assert world.store_order(oid)["status_id"] == 2
    decided = world.query("SELECT count(*) FROM sync_decisions WHERE order_id = ?", (oid,))
    world.execute("UPDATE sync_store_orders SET status_id = 9 WHERE order_id = ?", (oid,))
    world.execute("UPDATE sync_outbox SET status = 'pending' WHERE order_id = ? AND "
                  "action = 'create_store_shipment'", (oid,))
    world.tick()
    assert world.apply(PUSH)["errors"] == 0
    assert world.query("SELECT count(*) FROM sync_decisions WHERE order_id = ?",
                       (oid,)) == decided
    assert len(world.store_shipments(oid)) == 1
    assert world.plan(PUSH)["actions"] == []


@BOTH
@pytest.mark.parametrize("first", ["apply", "webhook"])
def test_killed_after_the_store_took_a_status_write_the_rerun_knows_it_as_its_own(
        world: World, monkeypatch: pytest.MonkeyPatch, first: str) -> None:
    """`apply` killed by the store's answer to a status PUT: the store took the write, the
    process never heard so. What runs next must read that status back as rulesync's own write,
    not as the merchant's change (here Awaiting Shipment, which inbound would take as paid):
    `apply`, which first runs the push again, or the order's webhook, which reads it first."""
    oid = world.create(order_body(7))  # Awaiting Payment
    world.tick()
    world.apply(PUSH)
    world.orders("pack", str(oid))
    world.tick()
    app, handle = world.sb.app, world.sb.app.handle
    running: list[subprocess.Popen[str]] = []

    def killing_on_put(method: str, path: str, *rest: Any) -> Any:
        outcome = handle(method, path, *rest)
        if method == "PUT" and path == f"/v2/orders/{oid}":
            running[0].kill()  # the write is applied; its answer finds no one
            running[0].wait()
        return outcome

    monkeypatch.setattr(app, "handle", killing_on_put)
    running.append(subprocess.Popen(
        [RULESYNC, "apply", "--state", str(world.state), "--set", PUSH], cwd=world.dir,
        env=world.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True))
    assert running[0].wait(timeout=120) == KILLED
    monkeypatch.undo()
    assert world.store_order(oid)["status_id"] == 9
    inbound = ("SELECT event_id FROM sync_decisions WHERE order_id = ? AND "
               "direction = 'inbound' ORDER BY id")
    before = world.query(inbound, (oid,))
    if first == "webhook":  # as `serve` syncs an order from its webhook (engine/serve/worker.py)
        settings = world.dir / "push.yaml"
        settings.write_text("version: 1\nsettings: {push_order_info: true}\n")
        with open_sync(configuration.load(settings, state=world.state,
                                          environ=world.env())) as sync:
            sync.refresh(oid, Summary())
        assert world.query(inbound, (oid,)) == before
    for _ in range(2):
        summary = world.apply(PUSH)
        assert summary["errors"] == 0 and summary["conflicts"] == 0, summary["problems"]
        world.tick()
    assert world.query(inbound, (oid,)) == before  # no decision on a change nobody made
    state = world.ledger_get(oid)["state"]
    assert state["packed"] and not state["paid"], state
    assert world.store_order(oid)["status_id"] == 9
    assert world.plan(PUSH)["actions"] == []
    assert world.query("SELECT status FROM sync_outbox WHERE order_id = ? AND "
                       "action = 'set_store_status'", (oid,)) in ([("done",)], [("noop",)])


@BOTH
def test_a_status_write_marked_but_never_sent_hides_no_other_change(world: World) -> None:
    """A mark left by a write that never reached the store (killed before it was sent) takes
    only that status for rulesync's: the merchant's change to another one is decided as usual,
    and the mark goes with that sync."""
    oid = world.create(order_body(11))  # Awaiting Fulfillment
    world.tick()
    world.apply(PUSH)
    world.execute("UPDATE sync_store_orders SET writing_status = 9 WHERE order_id = ?", (oid,))
    world.sb.store.update_order(oid, {"status_id": 5})  # Cancelled, by the merchant
    world.tick()
    summary = world.apply(PUSH)
    assert summary["errors"] == 0, summary["problems"]
    assert world.query("SELECT event_id FROM sync_decisions WHERE order_id = ? AND "
                       "event_id LIKE ?", (oid, "%:status:11->5@%")) != []
    assert world.query("SELECT writing_status FROM sync_store_orders WHERE order_id = ?",
                       (oid,)) == [(None,)]
    assert world.ledger_get(oid)["state"]["void"]


@BOTH
def test_two_identical_ledger_shipments_survive_a_crash_before_the_second_post(
        world: World) -> None:
    """Two boxes with the same tracking number and the same items are two shipments. A run
    killed after counting the second POST's attempt (before the POST) must still create it."""
    oid = world.create(order_body(9, lines=(("MUG-1", "Mug", 2, "12.00"),)))
    world.tick()
    world.apply(PUSH)
    world.orders("ship", str(oid), "--tracking", "1ZSAME", "--carrier", "ups", "--item",
                 "MUG-1=1")
    world.orders("ship", str(oid), "--tracking", "1ZSAME", "--carrier", "ups", "--item",
                 "MUG-1=1")
    world.tick()
    # points: 1 decision, 2 attempt, (POST), 3 done-check; 4 decision, 5 attempt -> killed
    r = world.run("apply", "--state", str(world.state), "--set", PUSH, **{CRASH_ENV: "5"})
    assert r.returncode == KILLED
    assert len(world.store_shipments(oid)) == 1
    summary = world.apply(PUSH, expect_rc=None)
    assert summary.get("errors") == 0, summary.get("problems")
    world.tick()
    world.apply(PUSH)
    ledger = world.ledger_get(oid)
    assert ledger["state"]["shipped"] == "complete"
    store = world.store_shipments(oid)
    assert len(store) == 2, store
    assert world.store_order(oid)["items_shipped"] == 2
    assert len({s["store_id"] for s in ledger["shipments"]}) == 2
