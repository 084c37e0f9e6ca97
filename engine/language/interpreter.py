"""The pure interpreter: (rule set, event, state, settings) -> Decision.

Rule sets are compiled at load: each rule's condition is a closure, and the rules are indexed on
the one or two paths most rules test for equality (typically event.type and event.new_status_id),
so an event looks up its few candidate rules in a dict and tests only what is left of theirs.
Evaluating touches no disk, network, clock or environment and compiles nothing.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from engine.errors import EvaluationError
from engine.language import conditions
from engine.language.catalog import NOT_IMPORTED_STATE
from engine.language.conditions import MISSING, AllOf, Match, Node, Test
from engine.language.model import EMPTY, ActionTemplate, Decision, PlannedAction, Rule, RuleSet, RuleTrace
from engine.language.templates import TemplateFailed

OTHER: Any = type("Other", (), {"__repr__": lambda self: "<other>"})()
_NOT_IMPORTED = MappingProxyType(dict(NOT_IMPORTED_STATE))
_INDEXABLE = (str, int)
_LOOKUP = (str, int, float)  # 1.0 finds the bucket of 1, as `equals: 1` says; True never does
_new = tuple.__new__


def _parts(node: Node | None) -> tuple[Node, ...]:
    return () if node is None else node.parts if isinstance(node, AllOf) else (node,)


def _equality(part: Node) -> tuple[str, frozenset[Any]] | None:
    """(path, allowed values) for an equals/in matcher on plain strings or integers."""
    if not isinstance(part, Match) or part.op not in ("equals", "in"):
        return None
    values = part.value if part.op == "in" else [part.value]
    if all(type(v) in _INDEXABLE for v in values):
        return part.path, frozenset(values)
    return None


Candidates = tuple[tuple[Rule, "Test | None"], ...]
Locate = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Candidates]


def build_index(rules: Sequence[Rule], settings: Mapping[str, Any]) -> Locate:
    """The function from an event to its candidate rules, in order, with what is left to test."""
    constraints = [dict(e for e in map(_equality, _parts(r.when)) if e) for r in rules]
    counts = Counter(p for c in constraints for p in c)
    paths = sorted(counts, key=lambda p: (-counts[p], p))[:2]
    entries = []
    for rule, allowed in zip(rules, constraints):
        rest = [p for p in _parts(rule.when) if not (_equality(p) and _equality(p)[0] in paths)]  # type: ignore[index]
        residual = rest[0] if len(rest) == 1 else AllOf(tuple(rest)) if rest else None
        test = None if residual is None else conditions.compile_test(residual, settings)
        entries.append((rule, test, allowed))
    return _locator(paths, _level(entries, paths), settings)


def _locator(paths: list[str], table: Any, settings: Mapping[str, Any]) -> Locate:
    """One call walks the index. The usual two paths, plain keys of the event (event.type and
    event.new_status_id), are read inline: a call less per path on every event."""
    keys = [p.split(".")[1] if p.startswith("event.") and p.count(".") == 1 else None
            for p in paths]
    if len(keys) == 2 and None not in keys:
        k1, k2 = keys
        other = table[OTHER]

        def locate(ev: Any, st: Any, se: Any) -> Candidates:
            v = ev.get(k1, MISSING)
            level = table.get(v, other) if v.__class__ in _LOOKUP else other
            v = ev.get(k2, MISSING)
            return level.get(v, level[OTHER]) if v.__class__ in _LOOKUP else level[OTHER]
        return locate
    getters = tuple(conditions.getter(p, settings) for p in paths)

    def walk(ev: Any, st: Any, se: Any) -> Candidates:
        level = table
        for get in getters:
            v = get(ev, st, se)
            level = level.get(v, level[OTHER]) if v.__class__ in _LOOKUP else level[OTHER]
        return level
    return walk


def _level(entries: list[tuple[Rule, Test | None, dict[str, frozenset[Any]]]],
           paths: list[str]) -> Any:
    if not paths:
        return tuple((rule, test) for rule, test, _ in entries)
    path, rest = paths[0], paths[1:]
    values = set().union(*(allowed.get(path, ()) for _, _, allowed in entries))
    table: dict[Any, Any] = {}
    for value in [*values, OTHER]:
        kept = [e for e in entries if path not in e[2] or value in e[2][path]]
        table[value] = _level(kept, rest)
    return table


def evaluate(ruleset: RuleSet, event: Mapping[str, Any], state: Mapping[str, Any] | None = None,
             settings: Mapping[str, Any] | None = None, *, trace: bool = False) -> Decision:
    """Decide what `event` causes. `settings` overrides the rule file's defaults."""
    st = _NOT_IMPORTED if state is None else state
    se = EMPTY if settings is None else settings
    candidates = ruleset.candidates(event, st, se)
    if ruleset.hit_policy == "first":
        for rule, test in candidates:
            if test is None or test(event, st, se):
                if trace or rule.templated:
                    return decide(ruleset, (rule,), event, st, se, trace)
                eid = event.get("id")
                if eid.__class__ is not str or not eid:
                    eid = event_id(event)
                # The NamedTuples built without their Python-level __new__: the same objects,
                # a third less time per event.
                plan = rule.plan
                return _new(Decision, (eid, rule.ids, tuple([
                    _new(PlannedAction, (name, params, rid, eid + suffix))
                    for name, params, rid, suffix in plan]) if plan else (), rule.reasons, ()))
        return decide(ruleset, (), event, st, se, trace)
    matched = tuple(rule for rule, test in candidates if test is None or test(event, st, se))
    if len(matched) > 1 and ruleset.hit_policy == "unique":
        # The static check cannot see through `expr`; at run time the policy still holds.
        raise EvaluationError(f"{ruleset.file}: rules {', '.join(r.id for r in matched)} "
                              "all match this event but the hit policy is unique")
    return decide(ruleset, matched, event, st, se, trace)


def event_id(event: Mapping[str, Any]) -> str:
    """The event's own id, or a stable hash of its content for hand-written inputs."""
    given = event.get("id")
    if given:
        return str(given)
    canonical = json.dumps(event, sort_keys=True, default=str, separators=(",", ":"))
    return "ev-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def decide(ruleset: RuleSet, matched: tuple[Rule, ...], event: Mapping[str, Any],
           state: Mapping[str, Any], settings: Mapping[str, Any], trace: bool) -> Decision:
    eid = event.get("id")
    if eid.__class__ is not str or not eid:
        eid = event_id(event)
    actions = []
    for rule in matched:
        for a in rule.actions:
            params = a.params if not a.templates else _render(ruleset, rule, a, event, state,
                                                              settings)
            actions.append(PlannedAction(a.name, params, rule.id, eid + a.key_suffix))
    return Decision(
        eid, tuple(r.id for r in matched), tuple(actions),
        tuple(r.no_update for r in matched if r.no_update is not None),
        _trace(ruleset, matched, event, state, settings) if trace else ())


def _render(ruleset: RuleSet, rule: Rule, action: ActionTemplate, event: Any, state: Any,
            settings: Any) -> Mapping[str, Any]:
    ctx = {"event": event, "state": state, "settings": {**ruleset.settings, **settings}}
    params = dict(action.params)
    for name, render in action.templates:
        try:
            params[name] = render(**ctx)
        except TemplateFailed as e:
            raise EvaluationError(f"{e.origin or ruleset.file}: rule '{rule.id}' → "
                                  f"{action.name}.{name}: template failed for event "
                                  f"{event_id(event)}: {e.detail}") from None
    return MappingProxyType(params)


def _trace(ruleset: RuleSet, matched: tuple[Rule, ...], event: Any, state: Any,
           settings: Any) -> tuple[RuleTrace, ...]:
    winner = matched[0].id if matched and ruleset.hit_policy == "first" else None
    out = []
    for rule in ruleset.rules:
        if rule in matched:
            out.append(RuleTrace(rule.id, True, "matched"))
        elif winner and rule.position > matched[0].position:
            out.append(RuleTrace(rule.id, False, f"not evaluated: '{winner}' matched first"))
        else:
            reason = conditions.why_not(rule.when, event, state, settings, ruleset.settings)
            out.append(RuleTrace(rule.id, False, reason))
    return tuple(out)
