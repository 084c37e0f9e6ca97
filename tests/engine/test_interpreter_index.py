"""The rule index changes nothing but speed: for every combination of the values the rules test
(and odd ones beside them: missing, None, a bool where a number is tested, 1.0 for 1, a list),
evaluate matches exactly the rules that testing every rule in file order would match."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.language import conditions
from engine.language.interpreter import evaluate
from engine.language.loader import load_file, load_text
from engine.language.model import RuleSet

RULES = Path(__file__).resolve().parents[2] / "rules" / "bigcommerce"
ABSENT = object()  # the path is left out of its mapping
ODD = (ABSENT, None, True, False, 1, 1.0, "x", [1])

# Indexed on a state path and a nested event path (not the plain event keys), under collect.
SYNTHETIC = """version: 1
direction: inbound
hit_policy: {policy}
settings: {{level: 3}}
rules:
  - id: partial-one
    when: {{state.shipped: partial, event.order.id: 1}}
    no_update: a
  - id: partial-one-or-two
    when: {{state.shipped: partial, event.order.id: {{in: [1, 2]}}, settings.level: {{gte: 2}}}}
    no_update: b
  - id: complete
    when: {{state.shipped: complete}}
    no_update: c
  - id: none-two
    when: {{state.shipped: none, event.order.id: 2, event.type: {{not_equals: shipment.deleted}}}}
    no_update: d
  - id: rest
    no_update: e
"""


def _shipped(name: str) -> RuleSet:
    loaded = load_file(str(RULES / name))
    assert loaded.ruleset is not None, loaded.problems
    return loaded.ruleset


def _synthetic(policy: str) -> RuleSet:
    loaded = load_text("synthetic.yaml", SYNTHETIC.format(policy=policy))
    assert loaded.problems == [] and loaded.ruleset is not None, loaded.problems
    return loaded.ruleset


def _values(rs: RuleSet) -> dict[str, list[Any]]:
    """Each tested path with the values its matchers name, plus the odd ones."""
    out: dict[str, list[Any]] = {}
    for rule in rs.rules:
        for m in conditions.matches(rule.when):
            known = out.setdefault(m.path, list(ODD))
            for v in m.value if isinstance(m.value, list) else [m.value]:
                if not any(v == k and type(v) is type(k) for k in known):
                    known.append(v)
    return out


def _put(root: dict[str, Any], keys: list[str], value: Any) -> None:
    for k in keys[:-1]:
        root = root.setdefault(k, {})
    if value is not ABSENT:
        root[keys[-1]] = value


def _inputs(rs: RuleSet) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    values = _values(rs)
    paths = sorted(values)
    for combo in itertools.product(*(values[p] for p in paths)):
        # The shipment is there for the outbound rule whose template reads its id.
        ctx: dict[str, dict[str, Any]] = {"event": {"id": "e-1", "shipment": {"id": 9}},
                                          "state": {}, "settings": {}}
        for path, value in zip(paths, combo):
            root, *keys = path.split(".")
            _put(ctx[root], keys, value)
        yield ctx["event"], ctx["state"], ctx["settings"]


def _every_rule_in_order(rs: RuleSet) -> Callable[[Any, Any, Any], tuple[str, ...]]:
    tests = [(r.id, conditions.compile_test(r.when, rs.settings)) for r in rs.rules]

    def matched(ev: Any, st: Any, se: Any) -> tuple[str, ...]:
        held = tuple(rule_id for rule_id, test in tests if test(ev, st, se))
        return held[:1] if rs.hit_policy == "first" else held
    return matched


SETS = {"inbound": lambda: _shipped("inbound.yaml"), "outbound": lambda: _shipped("outbound.yaml"),
        "state-and-nested-first": lambda: _synthetic("first"),
        "state-and-nested-collect": lambda: _synthetic("collect")}


@pytest.mark.parametrize("name", SETS)
def test_the_index_matches_what_every_rule_in_order_matches(name: str) -> None:
    rs = SETS[name]()
    checked, reference = 0, _every_rule_in_order(rs)
    for ev, st, se in _inputs(rs):
        assert evaluate(rs, ev, st, se).matched == reference(ev, st, se), (ev, st, se)
        checked += 1
    assert checked >= 50  # the grid is not empty
