"""Interpreter throughput: rulesync's evaluate against hand-written Python and GoRules zen-engine.

Evaluates one deterministic mix of events (random.Random(seed)) against the shipped inbound rules
(rules/bigcommerce/inbound.yaml) with:

  rulesync        engine.language.interpreter.evaluate(ruleset, event, state, settings)
  hand-written    the same table as plain if/elif, building the same Decision / PlannedAction
                  objects (same classes, fields and keys), so the ratio is interpretation overhead
  zen             zen-engine's ZenEngine (static loader), engine.evaluate(key, context) per event,
                  on the same table written as a JDM decision table (hit policy first)
  zen loop        the same table in loop mode (executionMode "loop"), one call per chunk of events

Every engine gets the same minimal input: the four fields the table reads (event.type,
event.new_status_id, state.imported, settings.auto_close) and the event id, in the same Python
dicts, built before timing. Every engine's output is checked against rulesync's on every event of
every repetition (the Decision itself, keys included, for hand-written; for zen the rule id and
the action names its own table row outputs), and the run stops with an error on the first
mismatch. Each engine is timed with time.perf_counter over the whole mix, best of --reps
repetitions. The garbage collector
stays on: a timed run uses each result and drops it, as a sync run does, and an untimed run after
it keeps every result for the check (--no-gc turns the collector off while timing, as timeit does).

Targets: rulesync >= 5x zen per event, >= 3x zen loop mode, and <= 3x slower than hand-written;
the exit status is 1 when a target is MISSED. zen-engine is an optional bench dependency
(`pip install -e .[bench]`); without it the zen rows are skipped.

    python bench/interpreter.py [--events 200000] [--seed 2026] [--reps 3] [--chunk 1000] [--no-gc]
                                [--clock wall|cpu]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.language.interpreter import evaluate
from engine.language.loader import load_file
from engine.language.model import Decision, PlannedAction, RuleSet

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
    """n (event, state, settings) triples: ~70 % status changes over all 15 ids, ~30 % shipments.

    Each holds only what the table reads (event.type, event.new_status_id, state.imported,
    settings.auto_close) plus the event id that rulesync's idempotency keys are made of, so that
    no engine pays for converting fields it never looks at."""
    rng = random.Random(seed)
    out: Inputs = []
    for i in range(n):
        event: dict[str, Any]
        if rng.random() < 0.7:
            event = {"id": f"e{i}", "type": STATUS_CHANGED, "new_status_id": rng.randrange(15)}
        else:
            event = {"id": f"e{i}", "type": rng.choice(SHIPMENT_TYPES)}
        out.append((event, {"imported": rng.random() < 0.6}, {"auto_close": rng.random() < 0.5}))
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
    new = tuple.__new__

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
            return new(Decision, (eid, (), (), (), ()))
        ids, actions, reasons = hit
        # Built the way rulesync builds them (tuple.__new__, past the NamedTuples' Python-level
        # __new__), so the ratio measures interpretation and nothing else.
        return new(Decision, (eid, ids, tuple([new(PlannedAction, (name, params, rule_id, eid + suffix))
                                               for name, params, rule_id, suffix in actions]),
                              reasons, ()))

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

# (rule id, event.type, event.new_status_id, state.imported, settings.auto_close, actions): the
# conditions as zen unary expressions ("" matches anything) and the actions the row outputs, all
# written out by hand in the rule file's order; nothing here is read from rulesync's rule set.
ZEN_ROWS: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("awaiting-payment", '"order.status_changed"', "7", "", "", ("import_order",)),
    ("awaiting-fulfillment", '"order.status_changed"', "11", "", "", ("import_order", "mark_paid")),
    ("awaiting-shipment", '"order.status_changed"', "9", "", "",
     ("import_order", "mark_paid", "mark_packed")),
    ("shipped-status-only", '"order.status_changed"', "2, 3", "", "", ()),
    ("shipment-recorded", '"shipment.created", "shipment.updated"', "", "true", "",
     ("record_shipment",)),
    ("shipment-for-unknown-order", '"shipment.created", "shipment.updated"', "", "false", "", ()),
    ("shipment-deleted", '"shipment.deleted"', "", "true", "", ("remove_shipment",)),
    ("shipment-deleted-unknown-order", '"shipment.deleted"', "", "false", "", ()),
    ("cancelled", '"order.status_changed"', "5", "true", "", ("void_order",)),
    ("cancelled-never-imported", '"order.status_changed"', "5", "false", "", ()),
    ("completed-previously-imported", '"order.status_changed"', "10", "true", "", ()),
    ("completed-new-auto-close", '"order.status_changed"', "10", "false", "true",
     ("import_order", "mark_paid", "mark_packed", "close_order")),
    ("completed-new", '"order.status_changed"', "10", "false", "false",
     ("import_order", "mark_paid", "mark_packed")),
    ("pickup-or-verification", '"order.status_changed"', "8, 12", "", "", ()),
    ("not-yet-placed", '"order.status_changed"', "0, 1", "", "", ()),
    ("refunds-in-store", '"order.status_changed"', "4, 14", "", "", ()),
    ("declined", '"order.status_changed"', "6", "", "", ()),
    ("disputed", '"order.status_changed"', "13", "", "", ()),
)
ZEN_KEY, ZEN_LOOP_KEY = "inbound.json", "inbound-loop.json"


def jdm(loop: bool = False) -> dict[str, Any]:
    """inputNode -> decisionTableNode (hit policy first) -> outputNode. The table reads the same
    context rulesync gets ({"event", "state", "settings"}) and outputs {"rule": <rule id>,
    "actions": [<action name>, ...]}; in
    loop mode it runs over context["events"] and writes the list to result["results"]."""
    inputs = [("type", "event.type"), ("new_status_id", "event.new_status_id"),
              ("imported", "state.imported"), ("auto_close", "settings.auto_close")]
    content: dict[str, Any] = {
        "hitPolicy": "first",
        "inputs": [{"id": f"in-{name}", "name": name, "field": field} for name, field in inputs],
        "outputs": [{"id": "out-rule", "name": "rule", "field": "rule"},
                    {"id": "out-actions", "name": "actions", "field": "actions"}],
        "rules": [{"_id": rule,
                   **{f"in-{name}": cell for (name, _), cell in zip(inputs, cells, strict=True)},
                   "out-rule": json.dumps(rule), "out-actions": json.dumps(actions)}
                  for rule, *cells, actions in ZEN_ROWS],
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


Outcome = tuple[str | None, tuple[str, ...]]  # (matched rule id or None, action names)


def zen_outcomes(responses: list[Any]) -> list[Outcome]:
    return [_zen_outcome(r["result"]) for r in responses]


def zen_loop_outcomes(responses: list[Any]) -> list[Outcome]:
    return [_zen_outcome(item) for r in responses for item in r["result"]["results"]]


def _zen_outcome(result: Mapping[str, Any]) -> Outcome:
    return result.get("rule"), tuple(result.get("actions") or ())


# ---------------------------------------------------------------------------------------------
# Equivalence


def _describe(i: int, inputs: Inputs) -> str:
    event, state, settings = inputs[i]
    return f"event #{i} {event} state={state} settings={settings}"


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


def check_outcomes(name: str, got: Sequence[Outcome], want: Sequence[Decision],
                   inputs: Inputs) -> None:
    """`got` is what the other engine itself produced for each event, the matched rule (None:
    no row matched) and the actions its row lists: both must be rulesync's."""
    if len(got) != len(want):
        raise Mismatch(f"{name}: {len(got)} results for {len(want)} events")
    for i, ((rule, actions), w) in enumerate(zip(got, want, strict=True)):
        ours = tuple(a.name for a in w.actions)
        if (() if rule is None else (rule,)) != w.matched or actions != ours:
            raise Mismatch(f"{name} disagrees with rulesync on {_describe(i, inputs)}:\n"
                           f"  rulesync: {w.matched} {list(ours)}\n"
                           f"  {name}: {rule!r} {list(actions)}")


def check_all(rs: RuleSet, inputs: Inputs, chunk: int = 1000, with_zen: bool = True) -> list[str]:
    """Run every engine once over `inputs` and check each against rulesync; the engines checked."""
    want = run_rulesync(rs, inputs)
    check_decisions("hand-written", run_hand(hand_written(rs), inputs), want, inputs)
    checked = ["rulesync", "hand-written"]
    if with_zen and zen is not None:
        engine = zen_engine()
        contexts = zen_contexts(inputs)
        check_outcomes("zen", zen_outcomes(run_zen(engine, contexts)), want, inputs)
        check_outcomes("zen loop", zen_loop_outcomes(run_zen_loop(engine,
                                                                  zen_chunks(contexts, chunk))),
                       want, inputs)
        checked += ["zen", "zen loop"]
    return checked


# ---------------------------------------------------------------------------------------------
# Timing


def best_of(reps: int, run: Callable[[bool], Any], check: Callable[[Any], None],
            collect: bool = True, clock: Callable[[], float] = time.perf_counter) -> float:
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
            started = clock()
            run(False)
            elapsed = clock() - started
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
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: time.process_time, this process's CPU time, steadier than "
                             "wall time on a busy machine")
    args = parser.parse_args(argv)

    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {machine()}")
    rs = load_rules()
    inputs = make_inputs(args.events, args.seed)
    want = run_rulesync(rs, inputs)
    matched = {d.matched[0] for d in want if d.matched}
    print(f"{args.events:,} events (seed {args.seed}) against {RULES.name}: "
          f"{len(matched)} of {len(rs.rules)} rules hit; best of {args.reps}, garbage collector "
          f"{'on' if args.gc else 'off'} while timing, {args.clock} clock")

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    timings: dict[str, float] = {}
    timings["rulesync"] = best_of(args.reps, lambda keep: run_rulesync(rs, inputs, keep),
                                  lambda out: check_decisions("rulesync (rerun)", out, want,
                                                              inputs), args.gc, clock)
    decide = hand_written(rs)
    timings["hand-written"] = best_of(args.reps, lambda keep: run_hand(decide, inputs, keep),
                                      lambda out: check_decisions("hand-written", out, want,
                                                                  inputs), args.gc, clock)
    if zen is None:
        print("zen-engine is not importable (pip install -e .[bench]); skipping the zen rows")
    else:
        engine = zen_engine()
        contexts = zen_contexts(inputs)
        chunks = zen_chunks(contexts, args.chunk)
        timings["zen"] = best_of(
            args.reps, lambda keep: run_zen(engine, contexts, keep),
            lambda out: check_outcomes("zen", zen_outcomes(out), want, inputs), args.gc, clock)
        timings[f"zen loop ({args.chunk:,}/call)"] = best_of(
            args.reps, lambda keep: run_zen_loop(engine, chunks, keep),
            lambda out: check_outcomes("zen loop", zen_loop_outcomes(out), want, inputs),
            args.gc, clock)
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
    missed = 0
    for label, value, ok, word in targets:
        missed += not ok(value)
        print(f"{label:<44} {value:6.2f}x {word:<7} {'met' if ok(value) else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
