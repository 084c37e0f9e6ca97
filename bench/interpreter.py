"""Interpreter throughput: rulesync's evaluate against hand-written Python and GoRules zen-engine.

Evaluates one deterministic mix of events (random.Random(seed)) against the shipped inbound rules
(rules/bigcommerce/inbound.yaml) with:

  rulesync        engine.interpreter.evaluate(ruleset, event, state, settings)
  hand-written    the same table as plain if/elif, building the same Decision / PlannedAction
                  objects (same classes, fields and keys), so the ratio is interpretation overhead
  zen             zen-engine's ZenEngine (static loader), engine.evaluate(key, context) per event,
                  on the same table written as a JDM decision table (hit policy first)
  zen loop        the same table in loop mode (executionMode "loop"), one call per chunk of events

Every engine's output is checked against rulesync's on every event of every repetition (the
Decision itself for hand-written; the matched rule id and its actions for zen), and the run
stops with an error on the first mismatch. Each engine is timed with time.perf_counter over the
whole mix, best of --reps repetitions. Inputs (events, states, settings, zen contexts and loop
chunks) are built before timing; every engine gets the same Python dicts. The garbage collector
stays on: a timed run uses each result and drops it, as a sync run does, and an untimed run after
it keeps every result for the check (--no-gc turns the collector off while timing, as timeit does).

Targets: rulesync >= 5x zen per event, >= 3x zen loop mode, and <= 3x slower than hand-written.
zen-engine is an optional bench dependency (`pip install -e .[bench]`); without it the zen rows
are skipped.

    python bench/interpreter.py [--events 200000] [--seed 2026] [--reps 3] [--chunk 1000] [--no-gc]
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.catalog import NOT_IMPORTED_STATE
from engine.interpreter import evaluate
from engine.loader import load_file
from engine.model import Decision, PlannedAction, RuleSet

zen: Any
try:
    import zen
except ImportError:  # optional: the bench still runs rulesync against hand-written
    zen = None

RULES = Path(__file__).resolve().parent.parent / "rules" / "bigcommerce" / "inbound.yaml"
STATUS_CHANGED = "order.status_changed"
SHIPMENT_TYPES = ("shipment.created", "shipment.updated", "shipment.deleted")
TARGET_VS_ZEN = 5.0       # rulesync events/s >= 5x zen per event
TARGET_VS_ZEN_LOOP = 3.0  # rulesync events/s >= 3x zen loop mode
TARGET_VS_HAND = 3.0      # hand-written events/s <= 3x rulesync

Inputs = list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]


class Mismatch(AssertionError):
    """Two engines disagree on an event."""


# ---------------------------------------------------------------------------------------------
# The event mix


def load_rules(path: Path = RULES) -> RuleSet:
    loaded = load_file(str(path))
    if loaded.ruleset is None:
        raise SystemExit(f"cannot load {path.name}: {loaded.problems}")
    return loaded.ruleset


def make_inputs(n: int, seed: int = 2026) -> Inputs:
    """n (event, state, settings) triples: ~70 % status changes over all 15 ids, ~30 % shipments."""
    rng = random.Random(seed)
    out: Inputs = []
    for i in range(n):
        order_id = rng.randint(100, 100_000)
        event: dict[str, Any]
        if rng.random() < 0.7:
            event = {"id": f"e{i}", "type": STATUS_CHANGED, "order_id": order_id,
                     "previous_status_id": rng.choice([None, *range(15)]),
                     "new_status_id": rng.randrange(15)}
        else:
            event = {"id": f"e{i}", "type": rng.choice(SHIPMENT_TYPES), "order_id": order_id,
                     "shipment": {"id": rng.randint(1, 10_000), "order_id": order_id,
                                  "order_address_id": 7, "tracking_number": f"1Z{order_id}",
                                  "carrier": "ups", "tracking_link": "",
                                  "date_created": "2026-11-27T11:00:00+00:00",
                                  "items": [{"order_product_id": 5, "product_id": 77,
                                             "sku": "MUG-1", "quantity": rng.randint(1, 3)}]}}
        imported = rng.random() < 0.6
        state = dict(NOT_IMPORTED_STATE)
        if imported:
            state.update(imported=True, billed=True, paid=rng.random() < 0.7)
        settings = {"auto_close": rng.random() < 0.5}
        out.append((event, state, settings))
    return out


# ---------------------------------------------------------------------------------------------
# 1. rulesync


def run_rulesync(rs: RuleSet, inputs: Inputs, keep: bool = True) -> list[Decision] | None:
    ev = evaluate
    if keep:
        return [ev(rs, e, s, se) for e, s, se in inputs]
    for e, s, se in inputs:
        ev(rs, e, s, se)
    return None


# ---------------------------------------------------------------------------------------------
# 2. (a) hand-written: the same table as if/elif, building the same objects


def hand_written(rs: RuleSet) -> Callable[[Mapping[str, Any], Mapping[str, Any],
                                            Mapping[str, Any]], Decision]:
    """The inbound table written out by hand. Only the constants (action params, no_update
    reasons) are taken from the loaded rule set; the conditions are the code below."""
    def entry(rule_id: str) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], tuple[str, ...]]:
        rule = rs.rule(rule_id)
        actions = tuple((a.name, a.params, rule_id, f":{rule_id}:{a.name}") for a in rule.actions)
        return (rule_id,), actions, (() if rule.no_update is None else (rule.no_update,))

    awaiting_payment = entry("awaiting-payment")
    awaiting_fulfillment = entry("awaiting-fulfillment")
    awaiting_shipment = entry("awaiting-shipment")
    shipped_status_only = entry("shipped-status-only")
    shipment_recorded = entry("shipment-recorded")
    shipment_for_unknown_order = entry("shipment-for-unknown-order")
    shipment_deleted = entry("shipment-deleted")
    shipment_deleted_unknown_order = entry("shipment-deleted-unknown-order")
    cancelled = entry("cancelled")
    cancelled_never_imported = entry("cancelled-never-imported")
    completed_previously_imported = entry("completed-previously-imported")
    completed_new_auto_close = entry("completed-new-auto-close")
    completed_new = entry("completed-new")
    pickup_or_verification = entry("pickup-or-verification")
    not_yet_placed = entry("not-yet-placed")
    refunds_in_store = entry("refunds-in-store")
    declined = entry("declined")
    disputed = entry("disputed")
    by_status = {7: awaiting_payment, 11: awaiting_fulfillment, 9: awaiting_shipment,
                 2: shipped_status_only, 3: shipped_status_only,
                 8: pickup_or_verification, 12: pickup_or_verification,
                 0: not_yet_placed, 1: not_yet_placed, 4: refunds_in_store, 14: refunds_in_store,
                 6: declined, 13: disputed}
    default_auto_close = rs.settings.get("auto_close", False)

    def decide(event: Mapping[str, Any], state: Mapping[str, Any],
               settings: Mapping[str, Any]) -> Decision:
        eid = event["id"]
        kind = event["type"]
        imported = state.get("imported")
        if kind == STATUS_CHANGED:
            status = event.get("new_status_id")
            if status == 5:
                hit = cancelled if imported is True else cancelled_never_imported \
                    if imported is False else None
            elif status == 10:
                if imported is True:
                    hit = completed_previously_imported
                elif imported is False:
                    auto_close = settings.get("auto_close", default_auto_close)
                    hit = completed_new_auto_close if auto_close is True else completed_new \
                        if auto_close is False else None
                else:
                    hit = None
            else:
                hit = by_status.get(status) if status.__class__ is int else None
        elif kind == "shipment.created" or kind == "shipment.updated":
            hit = shipment_recorded if imported is True else shipment_for_unknown_order \
                if imported is False else None
        elif kind == "shipment.deleted":
            hit = shipment_deleted if imported is True else shipment_deleted_unknown_order \
                if imported is False else None
        else:
            hit = None
        if hit is None:
            return Decision(eid, (), (), ())
        ids, actions, reasons = hit
        return Decision(eid, ids, tuple([PlannedAction(name, params, rule_id, eid + suffix)
                                         for name, params, rule_id, suffix in actions]), reasons)

    return decide


def run_hand(decide: Callable[..., Decision], inputs: Inputs,
             keep: bool = True) -> list[Decision] | None:
    if keep:
        return [decide(e, s, se) for e, s, se in inputs]
    for e, s, se in inputs:
        decide(e, s, se)
    return None


# ---------------------------------------------------------------------------------------------
# 2. (b) zen-engine: the same table as a JDM decision table

# (rule id, event.type, event.new_status_id, state.imported, settings.auto_close) as zen unary
# expressions; "" matches anything. Written out by hand, in the rule file's order.
ZEN_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("awaiting-payment", '"order.status_changed"', "7", "", ""),
    ("awaiting-fulfillment", '"order.status_changed"', "11", "", ""),
    ("awaiting-shipment", '"order.status_changed"', "9", "", ""),
    ("shipped-status-only", '"order.status_changed"', "2, 3", "", ""),
    ("shipment-recorded", '"shipment.created", "shipment.updated"', "", "true", ""),
    ("shipment-for-unknown-order", '"shipment.created", "shipment.updated"', "", "false", ""),
    ("shipment-deleted", '"shipment.deleted"', "", "true", ""),
    ("shipment-deleted-unknown-order", '"shipment.deleted"', "", "false", ""),
    ("cancelled", '"order.status_changed"', "5", "true", ""),
    ("cancelled-never-imported", '"order.status_changed"', "5", "false", ""),
    ("completed-previously-imported", '"order.status_changed"', "10", "true", ""),
    ("completed-new-auto-close", '"order.status_changed"', "10", "false", "true"),
    ("completed-new", '"order.status_changed"', "10", "false", "false"),
    ("pickup-or-verification", '"order.status_changed"', "8, 12", "", ""),
    ("not-yet-placed", '"order.status_changed"', "0, 1", "", ""),
    ("refunds-in-store", '"order.status_changed"', "4, 14", "", ""),
    ("declined", '"order.status_changed"', "6", "", ""),
    ("disputed", '"order.status_changed"', "13", "", ""),
)
ZEN_KEY, ZEN_LOOP_KEY = "inbound.json", "inbound-loop.json"


def jdm(loop: bool = False) -> dict[str, Any]:
    """inputNode -> decisionTableNode (hit policy first) -> outputNode. The table reads the same
    context rulesync gets ({"event", "state", "settings"}) and outputs {"rule": <rule id>}; in
    loop mode it runs over context["events"] and writes the list to result["results"]."""
    inputs = [("type", "event.type"), ("new_status_id", "event.new_status_id"),
              ("imported", "state.imported"), ("auto_close", "settings.auto_close")]
    content: dict[str, Any] = {
        "hitPolicy": "first",
        "inputs": [{"id": f"in-{name}", "name": name, "field": field} for name, field in inputs],
        "outputs": [{"id": "out-rule", "name": "rule", "field": "rule"}],
        "rules": [{"_id": row[0],
                   **{f"in-{name}": cell for (name, _), cell in zip(inputs, row[1:], strict=True)},
                   "out-rule": f'"{row[0]}"'} for row in ZEN_ROWS],
    }
    if loop:
        content.update(executionMode="loop", inputField="events", outputPath="results")
    return {
        "nodes": [
            {"id": "request", "name": "request", "type": "inputNode", "content": {}},
            {"id": "table", "name": "inbound", "type": "decisionTableNode", "content": content},
            {"id": "response", "name": "response", "type": "outputNode", "content": {}},
        ],
        "edges": [{"id": "e1", "sourceId": "request", "targetId": "table"},
                  {"id": "e2", "sourceId": "table", "targetId": "response"}],
    }


def zen_engine() -> Any:
    """A ZenEngine whose static loader holds both graphs, warmed so each is compiled once."""
    engine = zen.ZenEngine({"loader": {"type": "static",
                                       "content": {ZEN_KEY: jdm(), ZEN_LOOP_KEY: jdm(loop=True)}}})
    engine.evaluate(ZEN_KEY, {"event": {"type": "?"}, "state": {}, "settings": {}})
    engine.evaluate(ZEN_LOOP_KEY, {"events": []})
    return engine


def zen_contexts(inputs: Inputs) -> list[dict[str, Any]]:
    return [{"event": e, "state": s, "settings": se} for e, s, se in inputs]


def zen_chunks(contexts: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    return [{"events": contexts[i:i + size]} for i in range(0, len(contexts), size)]


def run_zen(engine: Any, contexts: list[dict[str, Any]], keep: bool = True) -> list[Any] | None:
    ev, key = engine.evaluate, ZEN_KEY
    if keep:
        return [ev(key, c) for c in contexts]
    for c in contexts:
        ev(key, c)
    return None


def run_zen_loop(engine: Any, chunks: list[dict[str, Any]], keep: bool = True) -> list[Any] | None:
    ev, key = engine.evaluate, ZEN_LOOP_KEY
    if keep:
        return [ev(key, c) for c in chunks]
    for c in chunks:
        ev(key, c)
    return None


def zen_rule_ids(responses: list[Any]) -> list[str | None]:
    return [r["result"].get("rule") for r in responses]


def zen_loop_rule_ids(responses: list[Any]) -> list[str | None]:
    return [item.get("rule") for r in responses for item in r["result"]["results"]]


# ---------------------------------------------------------------------------------------------
# Equivalence


def _describe(i: int, inputs: Inputs) -> str:
    event, state, settings = inputs[i]
    shown = {k: v for k, v in event.items() if k != "shipment"}
    return f"event #{i} {shown} imported={state.get('imported')} settings={settings}"


def check_decisions(name: str, got: Sequence[Any], want: Sequence[Decision],
                    inputs: Inputs) -> None:
    """`got` must be the very same Decisions as `want`: classes, fields, keys, params."""
    if len(got) != len(want):
        raise Mismatch(f"{name}: {len(got)} decisions for {len(want)} events")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if (g.__class__ is not Decision or g != w
                or any(a.__class__ is not PlannedAction for a in g.actions)):
            raise Mismatch(f"{name} disagrees with rulesync on {_describe(i, inputs)}:\n"
                           f"  rulesync: {w}\n  {name}: {g!r}")


def check_rule_ids(name: str, got: Sequence[str | None], want: Sequence[Decision], rs: RuleSet,
                   inputs: Inputs) -> None:
    """`got` names the matched rule (None: no row matched): it must be rulesync's, and the rule's
    actions must be the ones rulesync planned."""
    if len(got) != len(want):
        raise Mismatch(f"{name}: {len(got)} results for {len(want)} events")
    actions: dict[str | None, tuple[str, ...]] = {r.id: tuple(a.name for a in r.actions)
                                                  for r in rs.rules}
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        ids = () if g is None else (g,)
        if ids != w.matched or actions.get(g, ()) != tuple(a.name for a in w.actions):
            raise Mismatch(f"{name} disagrees with rulesync on {_describe(i, inputs)}:\n"
                           f"  rulesync: {w.matched} {[a.name for a in w.actions]}\n"
                           f"  {name}: {g!r} {list(actions.get(g, ()))}")


def check_all(rs: RuleSet, inputs: Inputs, chunk: int = 1000, with_zen: bool = True) -> list[str]:
    """Run every engine once over `inputs` and check each against rulesync; the engines checked."""
    want = run_rulesync(rs, inputs)
    check_decisions("hand-written", run_hand(hand_written(rs), inputs), want, inputs)
    checked = ["rulesync", "hand-written"]
    if with_zen and zen is not None:
        engine = zen_engine()
        contexts = zen_contexts(inputs)
        check_rule_ids("zen", zen_rule_ids(run_zen(engine, contexts)), want, rs, inputs)
        check_rule_ids("zen loop", zen_loop_rule_ids(run_zen_loop(engine,
                                                                  zen_chunks(contexts, chunk))),
                       want, rs, inputs)
        checked += ["zen", "zen loop"]
    return checked


# ---------------------------------------------------------------------------------------------
# Timing


def best_of(reps: int, run: Callable[[bool], Any], check: Callable[[Any], None],
            collect: bool = True) -> float:
    """Best wall time of `reps` runs that use each result and drop it, as a sync run does.

    After each timed run, an untimed run keeps every result and checks it against the others.
    The garbage collector stays on (--no-gc turns it off while timing, as timeit does).
    """
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        if not collect:
            gc.disable()
        try:
            started = time.perf_counter()
            run(False)
            elapsed = time.perf_counter() - started
        finally:
            gc.enable()
        check(run(True))
        best = min(best, elapsed)
    return best


def machine() -> str:
    cpu = platform.processor()
    if not cpu:
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                           "")
        except OSError:
            cpu = ""
    return f"{platform.machine()} {cpu or 'unknown cpu'}, {os.cpu_count()} logical cpus, " \
           f"{platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=1000, help="events per zen loop-mode call")
    parser.add_argument("--no-gc", dest="gc", action="store_false",
                        help="turn the garbage collector off while timing (on by default)")
    args = parser.parse_args(argv)

    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {machine()}")
    rs = load_rules()
    inputs = make_inputs(args.events, args.seed)
    want = run_rulesync(rs, inputs)
    matched = {d.matched[0] for d in want if d.matched}
    print(f"{args.events:,} events (seed {args.seed}) against {RULES.name}: "
          f"{len(matched)} of {len(rs.rules)} rules hit; best of {args.reps}, garbage collector "
          f"{'on' if args.gc else 'off'} while timing")

    timings: dict[str, float] = {}
    timings["rulesync"] = best_of(args.reps, lambda keep: run_rulesync(rs, inputs, keep),
                                  lambda out: check_decisions("rulesync (rerun)", out, want,
                                                              inputs), args.gc)
    decide = hand_written(rs)
    timings["hand-written"] = best_of(args.reps, lambda keep: run_hand(decide, inputs, keep),
                                      lambda out: check_decisions("hand-written", out, want,
                                                                  inputs), args.gc)
    if zen is None:
        print("zen-engine is not importable (pip install -e .[bench]); skipping the zen rows")
    else:
        engine = zen_engine()
        contexts = zen_contexts(inputs)
        chunks = zen_chunks(contexts, args.chunk)
        timings["zen"] = best_of(
            args.reps, lambda keep: run_zen(engine, contexts, keep),
            lambda out: check_rule_ids("zen", zen_rule_ids(out), want, rs, inputs), args.gc)
        timings[f"zen loop ({args.chunk:,}/call)"] = best_of(
            args.reps, lambda keep: run_zen_loop(engine, chunks, keep),
            lambda out: check_rule_ids("zen loop", zen_loop_rule_ids(out), want, rs, inputs),
            args.gc)
    print("all engines agree with rulesync on every event of every repetition")

    rate = {name: args.events / seconds for name, seconds in timings.items()}
    ours = rate["rulesync"]
    print()
    print(f"{'engine':<24}{'events/s':>14}{'x rulesync':>12}")
    for name, r in rate.items():
        print(f"{name:<24}{r:>14,.0f}{r / ours:>11.2f}x")
    print()
    targets = [(f"rulesync <= {TARGET_VS_HAND:g}x slower than hand-written",
                rate["hand-written"] / ours, lambda v: v <= TARGET_VS_HAND, "slower")]
    if zen is not None:
        loop = next(k for k in rate if k.startswith("zen loop"))
        targets += [(f"rulesync >= {TARGET_VS_ZEN:g}x zen per event", ours / rate["zen"],
                     lambda v: v >= TARGET_VS_ZEN, "faster"),
                    (f"rulesync >= {TARGET_VS_ZEN_LOOP:g}x zen loop mode", ours / rate[loop],
                     lambda v: v >= TARGET_VS_ZEN_LOOP, "faster")]
    for label, value, ok, word in targets:
        print(f"{label:<44} {value:6.2f}x {word:<7} {'met' if ok(value) else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
