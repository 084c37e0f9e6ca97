"""Exactly-once under crashes: `rulesync apply` killed (SIGKILL) at crash point after crash
point (RULESYNC_TEST_CRASH_AT, engine/sync/actions.py: after each decision is recorded, after each
action's attempt is counted, after each effect), rerun until a run ends, on one store; the same
changes applied without a crash on an identical second store. Both sides of every order must
end the same, with the same number of shipment POSTs, and the next run must do nothing.

Kills are chained on one state (a rerun first finishes what the killed run left pending, then
goes on), so the OMS under test never needs resetting between trials.
"""
from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.conformance.oms_side import OmsUser, oms_orders
from engine.conformance.rows import PUSH, store_view
from engine.conformance.samples import order_body
from engine.conformance.world import World
from engine.connect.session import open_state

CRASH_ENV = "RULESYNC_TEST_CRASH_AT"
KILLED = -signal.SIGKILL
SHIPMENT_POST = "POST /v2/orders/{id}/shipments"
# Crash points are counted per process; each run is killed at the next one of these. A 2 after
# a kill makes the next run die just after the effect of an action the killed run left pending,
# so that the action is handed over again (attempts 2) with its effect already done.
POINTS = (1, 2, 2, 3, 5, 7, 2, 9, 12, 2, 15, 19, 2, 24, 30, 37, 45, 54, 64)
STATUSES = (7, 11, 9, 10, 5, 9, 7, 7, 11, 9, 7)  # the store orders both worlds start with


@dataclass
class CrashRun:
    kills: dict[str, int] = field(default_factory=dict)  # phase -> runs killed
    oms: list[dict[int, Any]] = field(default_factory=list)  # [uninterrupted, crashed]
    store: list[dict[int, Any]] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)
    readback: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    # (direction, action) of each action the crashed world handed over more than once: its
    # effect may have happened before the kill, so the connector had to look before doing it
    handed_again: list[tuple[str, str]] = field(default_factory=list)


def crashing_apply(w: World) -> int:
    """Apply, killed at each point in turn until a run finishes; then one clean run. Kills."""
    kills = 0
    for n in POINTS:
        r = w.run_with(["apply", "--json", "--state", str(w.state), "--set", PUSH],
                       {CRASH_ENV: str(n)})
        if r.returncode != KILLED:
            assert r.returncode == 0, f"crash point {n}: exit {r.returncode}\n{r.stderr}"
            break
        kills += 1
    summary = w.apply(PUSH)
    assert summary["errors"] == 0, summary["problems"]
    return kills


def later_changes(w: World, user: OmsUser, ids: list[int]) -> None:
    """The same store and OMS user's changes on both sides; the store's come first in a run."""
    w.ship_in_store(ids[8], {"MUG-1": 2, "CAP-1": 1}, "1ZSTOREALL")
    w.sb.store.set_status(ids[10], 9)
    user.pay(ids[0])
    user.pack(ids[6])
    user.ship(ids[2], "1ZCRASHPART", "fedex", {"MUG-1": 1})
    user.ship(ids[1], "1ZCRASHALL", "ups")
    user.ship(ids[9], "1ZCRASHALL2", "usps")
    user.close(ids[3])
    user.void(ids[7])


def run_crashes(clean: World, crashed: World, users: Callable[[World], OmsUser]) -> CrashRun:
    out = CrashRun()
    worlds = (clean, crashed)
    made = []
    for w in worlds:
        made.append([w.create(order_body(status)) for status in STATUSES])
        w.ship_in_store(made[-1][5], {"MUG-1": 1}, "1ZSTOREPART")
        w.tick()
    ids = made[0]
    assert made[1] == ids, "two new sandbox stores gave their orders different ids"
    clean.apply(PUSH)
    out.kills["inbound"] = crashing_apply(crashed)
    for w in worlds:
        later_changes(w, users(w), ids)
        w.tick()
    clean.apply(PUSH)
    out.kills["outbound"] = crashing_apply(crashed)
    for w in worlds:
        w.tick()
        out.readback.append(w.apply(PUSH))
        out.plans.append(w.plan(PUSH))
        out.oms.append(oms_orders(w, ids))
        out.store.append({oid: store_view(w, oid) for oid in ids})
        out.posts.append(w.sb.api_calls().get(SHIPMENT_POST, 0))
    out.handed_again = handed_again(crashed, ids)
    return out


def handed_again(w: World, order_ids: list[int]) -> list[tuple[str, str]]:
    """(direction, action) of each action of the orders handed over more than once, read
    through the state's protocol (what `rulesync explain` shows of each decision's actions)."""
    state = open_state(w.state)
    try:
        outcomes = {a["key"]: a for oid in order_ids for d in state.decisions(oid)
                    for a in d["action_outcomes"] if a}
    finally:
        state.close()
    return [(a["direction"], a["action"]) for a in outcomes.values() if int(a["attempts"]) > 1]
