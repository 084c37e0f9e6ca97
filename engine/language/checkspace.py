"""The search space of the whole-file checks: what each tested path can be, partially assigned.

Every structured matcher tests one path against literals, so the values of a path fall into a few
classes that no rule can tell apart, and one value per class decides every question about the
rules asking. Event types and status ids are kept one by one (messages name them); other paths get
one value per class of the catalog's values (state flags), the literals the asking rules name, one
value no rule names and "missing". Rules are evaluated three-valued on partial assignments, and
every evaluation is a step of a budget shared by the searches of one file.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from engine.language.catalog import (
    EVENT_TYPES,
    INBOUND,
    NOT_IMPORTED_STATE,
    SHIPPED_VALUES,
    STATE_FLAGS,
    STATUS_EVENT,
    STATUSES,
)
from engine.language.conditions import MISSING, OPS, AllOf, Match, Node, compile_partial, matches
from engine.language.model import RuleSet

MAX_STEPS = 300_000  # search steps per file (about a condition evaluation each): a few seconds
FRESH = "\0unnamed"  # a value no rule names
TYPE, STATUS, IMPORTED = "event.type", "event.new_status_id", "state.imported"
Assignment = dict[str, Any]


class OutOfSteps(Exception):
    pass


class Space:
    """The values each tested path can take, the rules' partial verdicts, and the budget.

    A cell is one event type (and, inbound, one new status id): every search starts in a cell,
    with only the rules that may match there."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.rules = ruleset.rules
        self.by_path: dict[str, list[Match]] = {}
        for rule in self.rules:
            for m in matches(rule.when):
                self.by_path.setdefault(m.path, []).append(m)
        self.rule_paths = [frozenset(m.path for m in matches(r.when)) for r in self.rules]
        self.rule_matchers: list[dict[str, list[Match]]] = []
        for rule in self.rules:
            mine: dict[str, list[Match]] = {}
            for m in matches(rule.when):
                mine.setdefault(m.path, []).append(m)
            self.rule_matchers.append(mine)
        self.tests = [compile_partial(r.when, _fast_test) for r in self.rules]
        self.equalities = [_equalities(r.when) for r in self.rules]
        first = [TYPE] + ([STATUS] if ruleset.direction == INBOUND else []) \
            + ([IMPORTED] if IMPORTED in self.by_path else [])
        self.order = first + sorted(set(self.by_path) - set(first))
        self.steps = MAX_STEPS
        self._domains: dict[tuple[str, Any, Any, frozenset[int]], list[Any]] = {}
        self.cells: list[tuple[Assignment, dict[int, bool | None]]] = []
        for asg in self._cell_assignments():
            verdicts = {i: self.verdict(i, asg) for i in range(len(self.rules))}
            self.cells.append((asg, {i: v for i, v in verdicts.items() if v is not False}))

    def _cell_assignments(self) -> Iterable[Assignment]:
        for a in self.split({}, TYPE, ()):
            yield from (self.split(a, STATUS, ()) if STATUS in self.order else [a])

    def step(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise OutOfSteps

    def verdict(self, i: int, asg: Assignment) -> bool | None:
        self.step()
        return self.tests[i](asg)

    def after(self, i: int, v: bool | None, asg: Assignment, path: str) -> bool | None:
        """Rule i's verdict once `path` is assigned: only an undecided rule testing it changes."""
        return self.verdict(i, asg) if v is None and path in self.rule_paths[i] else v

    def domain(self, path: str, asg: Assignment, rules: Iterable[int]) -> list[Any]:
        """The values of `path` worth trying when only `rules` are undecided: one per class of
        values that their matchers on it cannot tell apart (all of them for event types and
        status ids, which messages name)."""
        asking = frozenset() if path in (TYPE, STATUS) else \
            frozenset(i for i in rules if path in self.rule_paths[i])
        event_type, imported = asg.get(TYPE, ""), asg.get(IMPORTED, MISSING)
        key = (path, event_type, imported, asking)
        if key not in self._domains:
            found = [m for i in asking for m in self.rule_matchers[i][path]]
            values = _domain(self.ruleset, path, event_type, imported, _literals(found))
            if path not in (TYPE, STATUS):
                values = _classes(found, values, self.step)
            self._domains[key] = values
        return self._domains[key]

    def compatible(self, i: int, j: int) -> bool:
        """False when both rules require `equals`/`in` on one path with no value in common."""
        a, b = self.equalities[i], self.equalities[j]
        return all(not a[p].isdisjoint(b[p]) for p in a.keys() & b.keys())

    def next_path(self, asg: Assignment, rules: Iterable[int]) -> str | None:
        """The next path to split: the first one in order that one of `rules` tests."""
        self.step()
        wanted = frozenset().union(*(self.rule_paths[i] for i in rules))
        for p in self.order:
            if p not in asg and p in wanted:
                # The other state fields' values depend on whether the order was imported.
                if p.startswith("state.") and IMPORTED in self.order and IMPORTED not in asg:
                    return IMPORTED
                return p
        return None

    def split(self, asg: Assignment, path: str, rules: Iterable[int]) -> Iterable[Assignment]:
        for value in self.domain(path, asg, rules):
            yield {**asg, path: value}


def _classes(found: list[Match], values: list[Any], step: Callable[[int], None]) -> list[Any]:
    """One value per class of values that every matcher in `found` treats alike."""
    distinct = {(m.op, repr(m.value)): m for m in found}
    if len(values) <= 4 * len(distinct) + 4:
        return values  # few values per matcher: trying them all costs less than sorting them out
    tests = [_fast_test(m) for m in distinct.values()]
    step(len(values) * len(tests) // 2)  # about what as many verdicts would cost
    seen: dict[tuple[bool, ...], Any] = {}
    for v in values:
        seen.setdefault(tuple(test(v) for test in tests), v)
    return list(seen.values())


def _equalities(node: Node | None) -> dict[str, frozenset[Any]]:
    """The values a rule requires on each path by a top-level `equals`/`in` of plain values."""
    parts = () if node is None else node.parts if isinstance(node, AllOf) else (node,)
    out: dict[str, frozenset[Any]] = {}
    for m in parts:
        if isinstance(m, Match) and m.op in ("equals", "in"):
            values = m.value if m.op == "in" else [m.value]
            if isinstance(values, list) and all(isinstance(v, (str, int, float)) for v in values):
                allowed = frozenset(map(_key, values))
                out[m.path] = out[m.path] & allowed if m.path in out else allowed
    return out


def _key(v: Any) -> tuple[bool, Any]:
    """Equal keys exactly when conditions' equality holds: booleans never equal 0 or 1."""
    return (v is True or v is False, v)


def _fast_test(m: Match) -> Any:
    """OPS[m.op](v, m.value), with `in`/`not_in` lists of plain values as set lookups."""
    if m.op in ("equals", "not_equals") and isinstance(m.value, (str, int, float)):
        x, x_bool, wanted = m.value, m.value is True or m.value is False, m.op == "equals"
        return lambda v: (v == x and (v is True or v is False) == x_bool) == wanted
    if m.op in ("in", "not_in") and isinstance(m.value, list):
        try:
            keys = frozenset(map(_key, m.value))
        except TypeError:  # a list or mapping among the values: compare one by one
            pass
        else:
            def member(v: Any) -> bool:
                try:
                    return (_key(v) in keys) == (m.op == "in")
                except TypeError:
                    return OPS[m.op](v, m.value)
            return member
    return lambda v: OPS[m.op](v, m.value)


def _literals(found: Iterable[Match]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in found:
        values = m.value if isinstance(m.value, list) else [m.value]
        if m.op in ("gt", "gte", "lt", "lte"):
            values = [m.value - 1, m.value - 0.5, m.value, m.value + 0.5, m.value + 1]
        out.setdefault(m.path, []).extend(values)
    return out


def _distinct(values: Iterable[Any]) -> list[Any]:
    """Values without repeats, where `true` and 1 stay apart (a set would merge them)."""
    out: dict[Any, Any] = {}
    for v in values:
        try:
            out.setdefault(_key(v), v)
        except TypeError:  # unhashable: keyed by its text
            out.setdefault(repr(v), v)
    return list(out.values())


def _domain(ruleset: RuleSet, path: str, event_type: str, imported: Any,
            literals: dict[str, list[Any]]) -> list[Any]:
    if path == TYPE:
        return list(EVENT_TYPES[ruleset.direction])
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
    # A value no rule names comes first: it turns most matchers false at once, which is what
    # the searches for gaps and for events that reach a rule look for.
    return [FRESH, MISSING] + sorted(_distinct([*literals.get(path, ()), *extra]), key=repr)
