"""The retry set, through the real command against the real sandbox: an order whose read,
normalization, evaluation or action failed is reported, kept with its reason and attempt count,
retried by later runs with backoff until it goes through, and shown and managed with
`rulesync failures`. Nothing is reported once and then forgotten.

The store misbehaves through `MisbehavingStore`, which changes only replies: when it is healed
the order is exactly as the store held it, with the same date_modified, so the change feed never
lists it again and only the retry set can bring it in.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

import rules as shipped
from connectors.bigcommerce.changefeed import DEFAULT_OVERLAP
from engine.storage.retries import FIRST_WAIT
from tests.support.acceptance_world import World, counts, order_body
from tests.support.misbehaving_store import (
    MisbehavingStore,
    billing_address_a_string,
    consignment_shipping_a_string,
    consignments_null,
    consignments_of_numbers,
    date_modified_empty,
    date_modified_null,
    negative_quantity,
    shipment_items_a_string,
    shipment_items_of_numbers,
    shipping_consignment_without_id,
    status_as_string,
)

PUSH = "push_order_info=true"
BREAKAGES = {"status_id as a string": status_as_string, "consignments null": consignments_null,
             "negative quantity": negative_quantity, "date_modified null": date_modified_null,
             "date_modified empty": date_modified_empty,
             "consignments a list of numbers": consignments_of_numbers,
             "consignment shipping a string": consignment_shipping_a_string,
             "billing_address a string": billing_address_a_string,
             "shipping consignment without an id": shipping_consignment_without_id}


def refuse_shipments(store: MisbehavingStore, order_id: int) -> None:
    store.refuse("GET", f"/v2/orders/{order_id}/shipments", 403)


SHIPMENT_BREAKAGES: dict[str, Callable[[MisbehavingStore, int], None]] = {
    "refused": refuse_shipments,
    "items a string": lambda store, oid: store.rewrite_shipments(oid, shipment_items_a_string),
    "items of numbers": lambda store, oid: store.rewrite_shipments(oid,
                                                                   shipment_items_of_numbers),
}


@pytest.fixture
def store(world: World) -> Iterator[MisbehavingStore]:
    proxy = MisbehavingStore(world.sb)
    yield proxy
    proxy.restore()


def failures(w: World) -> list[dict[str, Any]]:
    r = w.run("failures", "list", "--json", "--state", str(w.state))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["failures"]  # type: ignore[no-any-return]


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def age(w: World, by: float) -> None:
    """Let `by` seconds pass for the retry set: every failure happened that much earlier."""
    conn = sqlite3.connect(w.state)
    with conn:
        conn.execute("UPDATE sync_retries SET next_attempt_at = next_attempt_at - ?", (by,))
    conn.close()


def gets_of(w: World) -> int:
    return w.sb.api_calls().get("GET /v2/orders/{id}", 0)


def break_one_of_two_orders(world: World, store: MisbehavingStore,
                            breakage: Callable[[dict[str, Any]], None]) -> int:
    """Two new orders, one of them unreadable: the apply imports the other and keeps the broken
    one in the retry set with its first failure. Returns the broken one's id."""
    good, bad = world.create(order_body(11)), world.create(order_body(11))
    world.tick()
    store.rewrite(bad, breakage)

    summary = world.apply(expect_rc=1)
    # one error: when the import fails, the actions after it (mark_paid) are not run
    assert counts(summary)["imported"] == 1 and counts(summary)["errors"] == 1, summary
    assert any(p.startswith(f"order {bad}:") for p in summary["problems"]), summary["problems"]
    assert summary["retries"] == {"waiting": 1, "due": 0}
    assert world.ledger_get(good) is not None and world.ledger_get(bad) is None
    (entry,) = failures(world)
    assert (entry["order_id"], entry["direction"], entry["attempts"]) == (bad, "inbound", 1)
    assert entry["reason"] and entry["first_failed_at"] == entry["last_failed_at"]
    assert "not in the ledger" not in entry["reason"]  # the first failure, not what followed
    assert seconds(entry["next_attempt_at"]) - seconds(entry["last_failed_at"]) == FIRST_WAIT
    return bad


@pytest.mark.parametrize("breakage", list(BREAKAGES.values())[1:], ids=list(BREAKAGES)[1:])
def test_each_unreadable_order_is_kept_for_a_retry_that_imports_it_once_fixed(
        world: World, store: MisbehavingStore, breakage: Callable[[dict[str, Any]], None]) -> None:
    """Every kind of broken record (the first one goes through every step of the retry set in
    the test below): reported, kept, and imported by the first due retry after the store is
    fixed, past the change feed's overlap so that only the retry set can bring it in."""
    bad = break_one_of_two_orders(world, store, breakage)
    world.tick(DEFAULT_OVERLAP + 1)
    store.heal()
    age(world, FIRST_WAIT)
    summary = world.apply()
    assert counts(summary)["imported"] == 1 and summary["retries"] == {"waiting": 0, "due": 0}
    assert world.ledger_get(bad)["state"]["paid"] is True
    assert failures(world) == []


def test_an_unreadable_order_waits_for_a_retry_until_the_store_is_fixed(
        world: World, store: MisbehavingStore) -> None:
    bad = break_one_of_two_orders(world, store, next(iter(BREAKAGES.values())))

    # plan never says "in step" while an order waits; it writes nothing
    plan = world.run("plan", "--state", str(world.state))
    assert plan.returncode == 0, plan.stderr
    assert "in step" not in plan.stdout
    assert "1 order(s) wait for a retry (0 due now)" in plan.stdout
    assert world.plan()["retries"] == {"waiting": 1, "due": 0}

    # not due yet: the next apply does not touch it
    before = gets_of(world)
    assert world.apply()["retries"] == {"waiting": 1, "due": 0}
    assert gets_of(world) == before and failures(world)[0]["attempts"] == 1

    # due and still broken: tried again, the wait doubles; plan says so first. The store clock
    # moves past the feed's overlap, so once healed only the retry set brings the order in (a
    # date_modified made readable would otherwise be a change the feed lists).
    world.tick(DEFAULT_OVERLAP + 1)
    age(world, FIRST_WAIT)
    planned = world.plan()
    assert any(p.startswith(f"order {bad}:") for p in planned["problems"]), planned
    assert planned["retries"] == {"waiting": 1, "due": 0} and failures(world)[0]["attempts"] == 1
    before = gets_of(world)
    summary = world.apply(expect_rc=1)
    assert gets_of(world) == before + 1  # the order, read again
    (entry,) = failures(world)
    assert entry["attempts"] == 2
    assert seconds(entry["next_attempt_at"]) - seconds(entry["last_failed_at"]) == 2 * FIRST_WAIT

    # the store is fixed: plan shows the retry, the next due apply imports the order
    store.heal()
    age(world, 2 * FIRST_WAIT)
    planned = world.plan()
    assert {(a["order_id"], a["action"], a.get("retry")) for a in planned["actions"]} >= {
        (bad, "import_order", True), (bad, "mark_paid", True)}
    summary = world.apply()
    assert counts(summary)["imported"] == 1 and summary["retries"] == {"waiting": 0, "due": 0}
    assert world.ledger_get(bad)["state"]["paid"] is True
    assert failures(world) == []
    planned = world.plan()
    assert (planned["actions"], planned["problems"]) == ([], [])
    assert planned["retries"] == {"waiting": 0, "due": 0}
    assert "in step" in world.run("plan", "--state", str(world.state)).stdout


@pytest.mark.parametrize("breakage", SHIPMENT_BREAKAGES.values(), ids=list(SHIPMENT_BREAKAGES))
def test_an_order_whose_shipments_cannot_be_read_is_retried_and_the_page_goes_on(
        world: World, store: MisbehavingStore,
        breakage: Callable[[MisbehavingStore, int], None]) -> None:
    shipped_oid = world.create(order_body(9))
    world.tick()
    world.apply()
    other = world.create(order_body(7))
    world.ship_in_store(shipped_oid, {"MUG-1": 2, "CAP-1": 1}, "1ZSHIP")
    world.tick()
    breakage(store, shipped_oid)
    summary = world.apply(expect_rc=1)
    assert world.ledger_get(other) is not None
    assert world.ledger_get(shipped_oid)["shipments"] == []
    assert any("shipments" in p and str(shipped_oid) in p for p in summary["problems"])
    assert [e["order_id"] for e in failures(world)] == [shipped_oid]
    store.heal()
    age(world, FIRST_WAIT)
    world.apply()
    order = world.ledger_get(shipped_oid)
    assert order["state"]["shipped"] == "complete"
    assert [s["tracking_number"] for s in order["shipments"]] == ["1ZSHIP"]
    assert failures(world) == []


def test_a_failed_push_is_retried_and_never_duplicates_a_shipment(
        world: World, store: MisbehavingStore) -> None:
    oid = world.create(order_body(9))
    world.tick()
    world.apply()
    world.orders("ship", str(oid), "--tracking", "1ZONCE", "--carrier", "ups")
    # The store makes the shipment but answers 422: the push failed as far as rulesync knows.
    store.swallow("POST", f"/v2/orders/{oid}/shipments", 422)
    summary = world.apply(PUSH, expect_rc=1)
    assert counts(summary)["errors"] == 1
    (entry,) = failures(world)
    assert (entry["order_id"], entry["direction"]) == (oid, "outbound")
    assert "create_store_shipment" in entry["reason"]
    assert len(world.store_shipments(oid)) == 1

    store.heal()
    age(world, FIRST_WAIT)
    summary = world.apply(PUSH)
    assert counts(summary)["pushed"] == 1 and failures(world) == []
    assert len(world.store_shipments(oid)) == 1  # found and linked, not posted again
    assert world.writes().get("POST /v2/orders/{id}/shipments") == 1
    (mine,) = world.ledger_get(oid)["shipments"]
    assert str(mine["store_id"]) == str(world.store_shipments(oid)[0]["id"])


def test_a_refused_status_write_is_retried_until_the_store_takes_it(
        world: World, store: MisbehavingStore) -> None:
    oid = world.create(order_body(7))
    world.tick()
    world.apply()
    world.orders("pay", str(oid))
    store.refuse("PUT", f"/v2/orders/{oid}", 422)
    world.apply(PUSH, expect_rc=1)
    assert world.store_order(oid)["status_id"] == 7
    assert [(e["order_id"], e["direction"]) for e in failures(world)] == [(oid, "outbound")]
    planned = world.plan(PUSH)
    assert planned["actions"] == [] and planned["retries"] == {"waiting": 1, "due": 0}
    age(world, FIRST_WAIT)
    world.apply(PUSH, expect_rc=1)  # still refused: a second attempt
    assert failures(world)[0]["attempts"] == 2
    store.heal()
    age(world, 2 * FIRST_WAIT)
    assert [a["action"] for a in world.plan(PUSH)["actions"]] == ["set_store_status"]
    assert counts(world.apply(PUSH))["pushed"] == 1
    assert world.store_order(oid)["status_id"] == 11 and failures(world) == []


def test_a_token_refused_on_a_push_stops_the_run_and_the_next_one_sends_it(
        world: World, store: MisbehavingStore) -> None:
    """A 401 fails every order alike, on a push as on a read: the run stops with the token's
    message, the retry set stays empty, and the push, still pending, goes once the token works."""
    oids = [world.create(order_body(7)) for _ in range(3)]
    world.tick()
    world.apply()
    for oid in oids:
        world.orders("pay", str(oid))
    store.refuse("PUT", f"/v2/orders/{oids[0]}", 401)
    r = world.run("apply", "--json", "--state", str(world.state), "--set", PUSH)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "401 from the store: check BIGCOMMERCE_ACCESS_TOKEN" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert failures(world) == []
    assert world.store_order(oids[0])["status_id"] == 7
    store.heal()
    summary = world.apply(PUSH)
    assert summary["errors"] == 0, summary["problems"]
    assert [world.store_order(oid)["status_id"] for oid in oids] == [11, 11, 11]
    assert world.plan(PUSH)["actions"] == []


def test_a_conflict_is_shown_not_retried(world: World) -> None:
    oid = world.create(order_body(9))
    world.tick()
    world.apply()
    world.sb.store.set_status(oid, 10)  # Completed in the store
    world.tick()
    world.apply()
    world.orders("ship", str(oid), "--tracking", "1ZLATE", "--carrier", "ups")
    summary = world.apply(PUSH)
    assert counts(summary)["conflicts"] == 1 and counts(summary)["errors"] == 0
    assert failures(world) == [] and summary["retries"] == {"waiting": 0, "due": 0}


def test_a_push_left_behind_an_order_that_waits_does_not_retry_it_before_it_is_due(
        world: World) -> None:
    """Both sides shipped the order (the ledger user all of it, the merchant one unit in the
    store): the store's shipment cannot be recorded (nothing left to ship), so the order waits
    for an inbound retry, and the ledger's shipment push, finding the store changed, is left
    for later. Runs before the retry is due must not retry the order through that push: the
    attempt count and the backoff stand."""
    oid = world.create(order_body(11))
    world.tick()
    world.apply(PUSH)
    world.orders("ship", str(oid), "--tracking", "LEDGER-1", "--carrier", "ups")
    world.ship_in_store(oid, {"MUG-1": 1}, "STORE-1", "fedex")
    world.tick()
    world.apply(PUSH, expect_rc=1)
    (first,) = [e for e in failures(world) if e["direction"] == "inbound"]
    assert first["order_id"] == oid and first["attempts"] == 1, first
    for _ in range(3):
        world.apply(PUSH, expect_rc=None)
    (later,) = [e for e in failures(world) if e["direction"] == "inbound"]
    assert (later["attempts"], later["next_attempt_at"]) == (1, first["next_attempt_at"]), later
    age(world, FIRST_WAIT)
    world.apply(PUSH, expect_rc=None)  # due now: retried once
    (due,) = [e for e in failures(world) if e["direction"] == "inbound"]
    assert due["attempts"] == 2, due
    assert len(world.store_shipments(oid)) == 1  # nothing pushed over the merchant's shipment


def test_a_rule_that_failed_is_decided_again_once_the_rule_file_is_fixed(world: World) -> None:
    rules = world.dir / "myrules"
    shutil.copytree(shipped.BIGCOMMERCE, rules)
    outbound = rules / "outbound.yaml"
    good_text = outbound.read_text()
    outbound.write_text(good_text.replace("({{ event.shipment.id }})",
                                          "({{ event.shipment.box.label }})"))
    config = world.dir / "rulesync.yaml"
    config.write_text("version: 1\nrules: [myrules]\n")
    oid = world.create(order_body(9))
    world.tick()
    world.apply(config=config)
    world.orders("ship", str(oid), "--tracking", "1ZRULE", "--carrier", "ups")
    world.apply(PUSH, config=config, expect_rc=1)
    (entry,) = failures(world)
    assert entry["direction"] == "outbound" and "box" in entry["reason"]
    assert world.store_shipments(oid) == []

    outbound.write_text(good_text)
    age(world, FIRST_WAIT)
    assert counts(world.apply(PUSH, config=config))["pushed"] == 1
    assert [s["tracking_number"] for s in world.store_shipments(oid)] == ["1ZRULE"]
    assert failures(world) == []
    explained = world.run("explain", str(oid), "--state", str(world.state), config=config)
    assert "error:" not in explained.stdout and "create_store_shipment: done" in explained.stdout


# -- rulesync failures list | retry | forget -------------------------------------------------

def test_failures_list_retry_and_forget(world: World, store: MisbehavingStore) -> None:
    first, second = world.create(order_body(11)), world.create(order_body(7))
    world.tick()
    store.rewrite(first, status_as_string)
    store.rewrite(second, consignments_null)
    world.apply(expect_rc=1)

    text = world.run("failures", "list", "--state", str(world.state))
    assert text.returncode == 0 and "2 order(s) wait for a retry (0 due now)" in text.stdout
    assert "'11'" in text.stdout  # the reason, as the run reported it
    listed = json.loads(world.run("failures", "list", "--json", "--state",
                                  str(world.state)).stdout)
    assert {e["order_id"] for e in listed["failures"]} == {first, second}
    assert (listed["waiting"], listed["due"]) == (2, 0)

    # retry runs now, whatever the backoff: still broken -> exit 1, one more attempt
    r = world.run("failures", "retry", str(first), "--json", "--state", str(world.state))
    assert r.returncode == 1, r.stderr
    answer = json.loads(r.stdout)
    assert answer["succeeded"] is False and answer["failures"][0]["attempts"] == 2
    store.heal()
    r = world.run("failures", "retry", str(first), "--json", "--state", str(world.state),
                  "--set", PUSH)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["succeeded"] is True and answer["failures"] == []
    assert answer["summary"]["imported"] == 1
    assert answer["summary"]["held"]["on"] is True  # as apply with the same settings says
    assert answer["summary"]["held"] == world.apply(PUSH)["held"]
    assert world.ledger_get(first)["state"]["paid"] is True
    text = world.run("failures", "retry", str(second), "--state", str(world.state))
    assert text.returncode == 0 and "no longer in the retry set" in text.stdout, text.stdout

    # forget: gone from the set, the order is not retried any more
    store.rewrite(second, consignments_null)
    world.sb.store.set_status(second, 11)
    world.tick()
    world.apply(expect_rc=1)
    r = world.run("failures", "forget", str(second), "--json", "--state", str(world.state))
    assert r.returncode == 0, r.stderr
    assert [e["order_id"] for e in json.loads(r.stdout)["forgotten"]] == [second]
    assert failures(world) == []
    age(world, 10 * FIRST_WAIT)
    before = gets_of(world)
    world.apply()
    assert gets_of(world) == before

    # unknown ids: exit 1 with a one-line message, nothing changed
    for verb in ("retry", "forget"):
        r = world.run("failures", verb, "424242", "--state", str(world.state))
        assert r.returncode == 1 and "424242 is not in the retry set" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
