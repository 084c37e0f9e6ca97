"""Ledger changes made while push_order_info is off are held, counted and named, never dropped
silently; `apply --push-current` later pushes those orders' present state, once."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.acceptance_world import World, order_body

PUSH = "push_order_info=true"


def outcomes(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(a["direction"], a["order_id"], a["event_id"], a["action"], a["params"],
             a["outcome"]) for a in summary["actions"]]


def held(changes: int, orders: int, new: int, on: bool) -> dict[str, Any]:
    return {"setting": "push_order_info", "on": on, "new": new, "changes": changes,
            "orders": orders}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with World(tmp_path_factory.mktemp("pushoff")) as w:
        ids = {name: w.create(order_body(status)) for name, status in (
            ("pay", 7), ("pack", 11), ("ship", 11), ("close", 7), ("untouched", 11))}
        w.tick()
        w.apply()
        w.orders("pay", str(ids["pay"]))
        w.orders("pack", str(ids["pack"]))
        w.orders("ship", str(ids["ship"]), "--tracking", "1ZHELD", "--carrier", "ups")
        for verb in ("pay", "pack", "close"):  # three changes, one present state: Completed
            w.orders(verb, str(ids["close"]))
        w.tick()
        out: dict[str, Any] = {"ids": ids}
        w.sb.reset_counts()
        out["plan_off_text"] = w.run("plan", "--state", str(w.state))
        out["plan_off"] = w.plan()
        out["apply_off"] = w.apply()
        out["apply_off_again"] = w.apply()
        out["refused"] = w.run("apply", "--push-current", "--state", str(w.state))
        out["writes_off"] = w.writes()
        w.tick()
        out["apply_on_text"] = w.run("apply", "--state", str(w.state), "--set", PUSH)
        out["writes_on"] = w.writes()
        out["plan_current"] = json.loads(w.run("plan", "--json", "--push-current", "--state",
                                               str(w.state), "--set", PUSH).stdout)
        r = w.run("apply", "--json", "--push-current", "--state", str(w.state), "--set", PUSH)
        assert r.returncode == 0, r.stderr
        out["apply_current"] = json.loads(r.stdout)
        out["writes_current"] = w.writes()
        out["store"] = {name: (w.store_order(oid)["status_id"], w.store_shipments(oid))
                        for name, oid in ids.items()}
        w.tick()
        out["after"] = json.loads(w.run("plan", "--json", "--push-current", "--state",
                                        str(w.state), "--set", PUSH).stdout)
        yield out


def test_plan_and_apply_count_the_held_changes_and_name_the_setting(story: Any) -> None:
    assert story["plan_off"]["held"] == held(6, 4, 6, False)
    assert story["apply_off"]["held"] == held(6, 4, 6, False)
    assert story["apply_off_again"]["held"] == held(6, 4, 0, False)
    text = story["plan_off_text"]
    assert text.returncode == 0, text.stderr
    # Nothing to send, yet the sides are not in step: six changes wait to be pushed.
    assert text.stdout.splitlines()[0] == "no action planned"
    assert "in step" not in text.stdout
    assert ("held: 6 ledger change(s) on 4 order(s) not pushed to the store because "
            "push_order_info is off (6 in this run)") in text.stdout
    assert "turn push_order_info on and run `rulesync apply --push-current`" in text.stdout
    assert story["writes_off"] == {}


def test_push_current_needs_push_on(story: Any) -> None:
    r = story["refused"]
    assert r.returncode == 1
    assert "push_order_info is off" in r.stderr and "--push-current" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_turning_push_on_alone_sends_nothing_but_says_so(story: Any) -> None:
    r = story["apply_on_text"]
    assert r.returncode == 0, r.stderr
    assert story["writes_on"] == {}
    assert "held: 6 ledger change(s) on 4 order(s) not pushed to the store because " \
           "push_order_info was off" in r.stdout
    assert "run `rulesync apply --push-current` to push those orders' present state" in r.stdout


def test_push_current_pushes_the_present_state_once(story: Any) -> None:
    ids = story["ids"]
    store = story["store"]
    assert store["pay"][0] == 11 and store["pack"][0] == 9 and store["close"][0] == 10
    assert store["untouched"] == (11, [])
    assert store["ship"][0] == 2
    assert [s["tracking_number"] for s in store["ship"][1]] == ["1ZHELD"]
    # Completed is written once, not Awaiting Fulfillment, Awaiting Shipment, then Completed.
    assert story["writes_current"] == {"PUT /v2/orders/{id}": 3,
                                       "POST /v2/orders/{id}/shipments": 1}
    close_actions = [a for a in story["apply_current"]["actions"] if a["order_id"] == ids["close"]]
    assert [(a["params"]["status_id"], a["outcome"]) for a in close_actions] == [(10, "done")]
    assert story["apply_current"]["held"] == held(0, 0, 0, True)
    assert story["apply_current"]["pushed"] == 4


def test_plan_predicts_push_current_and_then_nothing_is_left(story: Any) -> None:
    assert outcomes(story["plan_current"]) == outcomes(story["apply_current"])
    assert story["plan_current"]["held"] == held(0, 0, 0, True)
    assert story["after"]["actions"] == [] and story["after"]["held"]["changes"] == 0


def test_explain_shows_a_held_change(tmp_path: Any) -> None:
    with World(tmp_path) as w:
        oid = w.create(order_body(7))
        w.tick()
        w.apply()
        w.orders("pay", str(oid))
        w.apply()
        r = w.run("explain", str(oid), "--state", str(w.state))
    assert r.returncode == 0, r.stderr
    assert "held: not pushed because push_order_info was off" in r.stdout
