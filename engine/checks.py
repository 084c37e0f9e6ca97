"""Static checks over a whole rule set: rules that can never fire, overlaps, incompleteness.

Every structured matcher tests one path against literals, so each path has a small set of values
that tells all cases apart: the catalog's (event types, status ids 0-14, state flags), the
literals rules name, and one value that no rule names. Enumerating their combinations decides
the questions exactly for structured conditions; an `expr` counts as "cannot tell", so it never
produces a false alarm.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from engine.catalog import (
    EVENT_TYPES,
    INBOUND,
    NOT_IMPORTED_STATE,
    SHIPPED_VALUES,
    STATE_FLAGS,
    STATUS_EVENT,
    STATUSES,
    status_label,
)
from engine.conditions import MISSING, analyze, matches
from engine.model import RuleSet
from engine.problems import Problem
from engine.yamldoc import Document

MAX_CASES = 200_000
_FRESH = "\0unnamed"  # a value no rule names


def problems(ruleset: RuleSet, doc: Document) -> list[Problem]:
    paths = sorted({m.path for r in ruleset.rules for m in matches(r.when)}
                   | {"event.type"} | ({"event.new_status_id"} if ruleset.direction == INBOUND else set()))
    literals = _literals(ruleset)
    cases = list(itertools.islice(_cases(ruleset, paths, literals), MAX_CASES + 1))
    if len(cases) > MAX_CASES:
        return []  # too many combinations to decide; the other checks still ran
    verdicts = [[analyze(r.when, case) for r in ruleset.rules] for case in cases]
    found = _never(ruleset, doc, cases, verdicts) + _incomplete(ruleset, doc, cases, verdicts)
    if ruleset.hit_policy == "unique":
        found += _overlaps(ruleset, doc, cases, verdicts)
    return found


def _literals(ruleset: RuleSet) -> dict[str, set[Any]]:
    out: dict[str, set[Any]] = {}
    for rule in ruleset.rules:
        for m in matches(rule.when):
            values = m.value if isinstance(m.value, list) else [m.value]
            if m.op in ("gt", "gte", "lt", "lte"):
                values = [m.value - 1, m.value - 0.5, m.value, m.value + 0.5, m.value + 1]
            out.setdefault(m.path, set()).update(values)
    return out


def _domain(ruleset: RuleSet, path: str, event_type: str, imported: Any,
            literals: dict[str, set[Any]]) -> list[Any]:
    if path in ("event.new_status_id", "event.previous_status_id"):
        if event_type != STATUS_EVENT:
            return [MISSING]
        return list(STATUSES) + ([None] if path == "event.previous_status_id" else [])
    root, _, name = path.partition(".")
    if root == "state" and name in NOT_IMPORTED_STATE:
        if imported is False and name != "imported":
            return [NOT_IMPORTED_STATE[name]]
        return [True, False] if name in STATE_FLAGS else list(SHIPPED_VALUES)
    if root == "settings" and isinstance(ruleset.settings.get(name), bool):
        return [True, False]
    extra = [ruleset.settings[name]] if root == "settings" and name in ruleset.settings else []
    return sorted({*literals.get(path, ()), *extra}, key=repr) + [_FRESH, MISSING]


def _cases(ruleset: RuleSet, paths: list[str], literals: dict[str, set[Any]]
           ) -> Iterator[dict[str, Any]]:
    rest = [p for p in paths if p not in ("event.type", "state.imported")]
    for event_type in EVENT_TYPES[ruleset.direction]:
        for imported in [True, False] if "state.imported" in paths else [MISSING]:
            domains = [_domain(ruleset, p, event_type, imported, literals) for p in rest]
            for values in itertools.product(*domains):
                case = dict(zip(rest, values), **{"event.type": event_type})
                if imported is not MISSING:
                    case["state.imported"] = imported
                yield case


def _show(case: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    parts = [f"{p}={status_label(v) if p.endswith('status_id') else repr(v)}"
             for p, v in case.items() if p not in skip and v is not MISSING and v != _FRESH]
    return ", ".join(parts) or "any event"


def _never(ruleset: RuleSet, doc: Document, cases: list[dict[str, Any]],
           verdicts: list[list[bool | None]]) -> list[Problem]:
    found = []
    for i, rule in enumerate(ruleset.rules):
        reachable = [k for k, v in enumerate(verdicts) if v[i] is not False]
        if not reachable:
            found.append(doc.problem(rule.where, f"rule '{rule.id}' can never match: "
                                     "its condition contradicts itself"))
            continue
        if ruleset.hit_policy != "first":
            continue
        earlier = [next((j for j in range(i) if verdicts[k][j] is True), -1) for k in reachable]
        if -1 not in earlier:
            names = ", ".join(f"'{ruleset.rules[j].id}'" for j in sorted(set(earlier)))
            found.append(doc.problem(rule.where, f"rule '{rule.id}' can never fire: {names} "
                                     "before it match every event it matches (hit policy first)"))
    return found


def _overlaps(ruleset: RuleSet, doc: Document, cases: list[dict[str, Any]],
              verdicts: list[list[bool | None]]) -> list[Problem]:
    found, reported = [], set()
    for case, v in zip(cases, verdicts):
        hits = [i for i, x in enumerate(v) if x is True]
        for i, j in itertools.combinations(hits, 2):
            if (i, j) not in reported:
                reported.add((i, j))
                a, b = ruleset.rules[i], ruleset.rules[j]
                found.append(doc.problem(b.where, f"rules '{a.id}' and '{b.id}' both match "
                                         f"({_show(case)}) but the hit policy is unique"))
    return found


def _incomplete(ruleset: RuleSet, doc: Document, cases: list[dict[str, Any]],
                verdicts: list[list[bool | None]]) -> list[Problem]:
    gaps: dict[str, dict[str, Any]] = {}
    for case, v in zip(cases, verdicts):
        if all(x is False for x in v):
            status = case.get("event.new_status_id", MISSING)
            what = (f"status {status_label(status)}" if status is not MISSING
                    else f"event type '{case['event.type']}'")
            gaps.setdefault(what, case)
    return [doc.problem(("rules",), f"incomplete: no rule handles {what} "
                        f"(e.g. {_show(case, ('event.new_status_id', 'event.type'))})")
            for what, case in gaps.items()]
