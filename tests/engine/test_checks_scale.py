"""The whole-file checks scale and never switch off silently.

They search paths one at a time in classes of values the rules cannot tell apart, instead of
enumerating every combination; the answers are compared here with a brute-force enumeration of
every combination on random small rule sets, and a file too hard to finish gets a warning.
"""
from __future__ import annotations

import itertools
import random
import re
from pathlib import Path
from typing import Any

import pytest

import rules
from engine.language import checks, checkspace
from engine.language.catalog import EVENT_TYPES, NOT_IMPORTED_STATE, STATUS_EVENT, STATUSES, status_label
from engine.language.conditions import MISSING, OPS, AnyOf, Expr, Match, Node, NotOf, matches
from engine.language.loader import load_file, load_text
from engine.language.model import RuleSet

INBOUND = (rules.BIGCOMMERCE / "inbound.yaml").read_text(encoding="utf-8")


def without_rule(text: str, rule_id: str) -> str:
    block = re.search(rf"^  - id: {rule_id}\n(?:(?!  - id: ).*\n?)*", text, flags=re.M)
    assert block
    return text.replace(block.group(0), "")


def with_rules(text: str, extra: str) -> str:
    return text.replace("rules:\n", "rules:\n" + extra, 1)


CUSTOMERS = ", ".join(str(i) for i in range(1000, 1060))
ORDERS = ", ".join(str(i) for i in range(5000, 5060))
SIXTY_SIXTY = ("  - id: vip\n    when: {event.type: order.status_changed, event.new_status_id: 1, "
               f"event.order.customer.id: {{in: [{CUSTOMERS}]}}, event.order.id: {{in: [{ORDERS}]}}}}"
               "\n    no_update: vip customers\n")


def test_two_sixty_value_lists_no_longer_hide_a_missing_status() -> None:
    text = with_rules(without_rule(INBOUND, "cancelled"), SIXTY_SIXTY)
    loaded = load_text("big.yaml", text)
    messages = [p.message for p in loaded.problems]
    assert any(m.startswith("incomplete: no rule handles status 5 Cancelled") for m in messages), \
        messages
    assert loaded.warnings == []


def test_a_rule_shadowed_by_one_with_a_long_list_is_found() -> None:
    ids = ", ".join(str(i) for i in range(100, 400))
    extra = (f"  - id: many\n    when: {{event.type: order.status_changed, event.new_status_id: 1,"
             f" event.order.customer.id: {{in: [{ids}]}}}}\n    no_update: many\n"
             "  - id: one\n    when: {event.type: order.status_changed, event.new_status_id: 1,"
             " event.order.customer.id: 250, state.paid: true}\n    no_update: one\n")
    (p,) = load_text("s.yaml", with_rules(INBOUND, extra)).problems
    assert p.message == ("rule 'one' can never fire: 'many' before it match every event it "
                         "matches (hit policy first)")


def test_overlaps_under_unique_are_found_among_long_lists() -> None:
    first, second = ", ".join(map(str, range(0, 200))), ", ".join(map(str, range(199, 400)))
    text = with_rules(INBOUND.replace("hit_policy: first", "hit_policy: unique"), (
        "  - id: a\n    when: {event.type: order.status_changed, event.new_status_id: 1, "
        f"event.order.customer.id: {{in: [{first}]}}}}\n    no_update: a\n"
        "  - id: b\n    when: {event.type: order.status_changed, event.new_status_id: 1, "
        f"event.order.customer.id: {{in: [{second}]}}}}\n    no_update: b\n"))
    found = [p.message for p in load_text("u.yaml", text).problems]
    assert "rules 'a' and 'b' both match (event.type='order.status_changed', " \
           "event.new_status_id=1 Pending, event.order.customer.id=199) but the hit policy is " \
           "unique" in found


def test_checks_that_do_not_finish_are_a_warning_and_the_file_still_loads(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(checkspace, "MAX_STEPS", 40)
    path = tmp_path / "inbound.yaml"
    path.write_text(INBOUND, encoding="utf-8")
    loaded = load_file(path)
    assert loaded.problems == [] and loaded.ruleset is not None
    (w,) = loaded.warnings
    assert w.severity == "warning" and (w.path, w.line) == ("$.rules", INBOUND.count(
        "\n", 0, INBOUND.index("  - id:")) + 1)
    assert w.message.startswith("whole-file checks not finished: ")
    assert str(w).startswith(f"{path}:{w.line}:{w.col}: $.rules: warning: whole-file checks")


# ---------------------------------------------------------------------------------------------
# the searches against brute force: every combination of every path's values

PATHS = ["event.order.a", "event.order.b", "state.paid", "state.imported", "event.previous_status_id"]


def _matcher(rnd: random.Random) -> str:
    path = rnd.choice(PATHS + ["event.new_status_id"])
    if path.startswith("state."):
        return f"{path}: {rnd.choice(['true', 'false'])}"
    if path.endswith("status_id"):
        op = rnd.choice(["equals", "in", "not_in"])
        values = rnd.sample(sorted(STATUSES), 2)
        return f"{path}: {{{op}: {values[0] if op == 'equals' else values}}}"
    op = rnd.choice(["equals", "in", "not_in", "exists", "gt", "lte", "not_equals"])
    if op == "exists":
        return f"{path}: {{exists: {rnd.choice(['true', 'false'])}}}"
    if op in ("in", "not_in"):
        return f"{path}: {{{op}: {rnd.sample(range(4), 2)}}}"
    return f"{path}: {{{op}: {rnd.randint(0, 3)}}}"


def _condition(rnd: random.Random, depth: int = 0) -> str:
    parts = {"event.type": "event.type: " + rnd.choice([
        "order.status_changed", "shipment.created", "{in: [shipment.created, shipment.updated]}",
        "{not_equals: shipment.deleted}"])} if rnd.random() < 0.8 else {}
    for _ in range(rnd.randint(0, 2)):
        r = rnd.random()
        if depth < 2 and r < 0.15:
            part = f"any: [{{{_condition(rnd, depth + 1)}}}, {{{_condition(rnd, depth + 1)}}}]"
        elif depth < 2 and r < 0.25:
            part = f"not: {{{_condition(rnd, depth + 1)}}}"
        elif r < 0.3:
            part = "expr: 'event.order_id > 3'"
        else:
            part = _matcher(rnd)
        parts.setdefault(part.split(":")[0], part)
    return ", ".join(parts.values()) or "event.type: order.status_changed"


def random_ruleset(seed: int) -> str:
    rnd = random.Random(seed)
    policy = rnd.choice(["first", "first", "unique", "collect"])
    body = "".join(f"  - id: r{i}\n    when: {{{_condition(rnd)}}}\n    no_update: x\n"
                   for i in range(rnd.randint(2, 7)))
    return f"version: 1\nname: t\ndirection: inbound\nhit_policy: {policy}\nrules:\n{body}"


def _truth(node: Node | None, case: dict[str, Any]) -> bool | None:
    if node is None:
        return True
    if isinstance(node, Match):
        return OPS[node.op](case.get(node.path, MISSING), node.value)
    if isinstance(node, Expr):
        return None
    if isinstance(node, NotOf):
        inner = _truth(node.part, case)
        return None if inner is None else not inner
    results = [_truth(p, case) for p in node.parts]
    decisive = isinstance(node, AnyOf)
    return decisive if decisive in results else None if None in results else not decisive


def _values(path: str, status_event: bool, imported: bool,
            literals: dict[str, list[Any]]) -> list[Any]:
    if path.endswith("status_id"):
        return [*sorted(STATUSES), None] if status_event else [MISSING]
    if path.startswith("state."):
        return [True, False] if imported else [NOT_IMPORTED_STATE[path[6:]]]
    return [*literals.get(path, []), "\0fresh", MISSING]


def _every_case(rs: RuleSet) -> list[dict[str, Any]]:
    literals: dict[str, list[Any]] = {}
    for m in (m for r in rs.rules for m in matches(r.when)):
        values = m.value if isinstance(m.value, list) else [m.value]
        if m.op in ("gt", "lte"):
            values = [m.value - 1, m.value - 0.5, m.value, m.value + 0.5, m.value + 1]
        literals.setdefault(m.path, []).extend(values)
    tested = {m.path for r in rs.rules for m in matches(r.when)}
    names = ["event.new_status_id",
             *sorted(tested - {"event.new_status_id", "state.imported", "event.type"})]
    cases = []
    for event_type in EVENT_TYPES[rs.direction]:
        for imported in (True, False):
            domains = [_values(n, event_type == STATUS_EVENT, imported, literals) for n in names]
            for combo in itertools.product(*domains):
                if combo[0] is None:
                    continue  # a new status is never null
                cases.append(dict(zip(names, combo), **{"event.type": event_type,
                                                        "state.imported": imported}))
    return cases


def brute_force(rs: RuleSet) -> set[tuple[str, ...]]:
    cases = _every_case(rs)
    verdicts = [[_truth(r.when, c) for r in rs.rules] for c in cases]
    found: set[tuple[str, ...]] = set()
    for i, rule in enumerate(rs.rules):
        reach = [v for v in verdicts if v[i] is not False]
        if not reach:
            found.add(("never", rule.id))
        elif rs.hit_policy == "first" and all(True in v[:i] for v in reach):
            firsts = {rs.rules[v[:i].index(True)].id for v in reach}
            found.add(("shadowed", rule.id, *sorted(firsts, key=lambda r: int(r[1:]))))
    for case, v in zip(cases, verdicts):
        if all(x is False for x in v):
            status = case["event.new_status_id"]
            found.add(("gap", f"status {status_label(status)}" if status is not MISSING
                       else f"event type '{case['event.type']}'"))
        if rs.hit_policy == "unique":
            hits = [rs.rules[i].id for i, x in enumerate(v) if x is True]
            found.update(("overlap", a, b) for a, b in itertools.combinations(hits, 2))
    return found


def by_search(text: str) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for p in load_text("t.yaml", text).problems:
        if m := re.match(r"rule '(\w+)' can never match", p.message):
            found.add(("never", m.group(1)))
        elif m := re.match(r"rule '(\w+)' can never fire: (.*) before it", p.message):
            found.add(("shadowed", m.group(1), *re.findall(r"'(\w+)'", m.group(2))))
        elif m := re.match(r"incomplete: no rule handles (.*) \(e\.g\.", p.message):
            found.add(("gap", m.group(1)))
        elif m := re.match(r"rules '(\w+)' and '(\w+)' both match", p.message):
            found.add(("overlap", m.group(1), m.group(2)))
        else:
            raise AssertionError(str(p))
    return found


def model(text: str, monkeypatch: pytest.MonkeyPatch) -> RuleSet:
    """The rule set of `text` even when the checks find problems in it."""
    captured: list[RuleSet] = []
    with monkeypatch.context() as m:
        m.setattr(checks, "problems", lambda rs, doc: captured.append(rs) or [])
        load_text("t.yaml", text)
    return captured[0]


@pytest.mark.parametrize("seed", range(100))
def test_the_searches_agree_with_brute_force(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = random_ruleset(seed)
    assert by_search(text) == brute_force(model(text, monkeypatch)), text


def test_the_random_rule_sets_exercise_every_kind_of_finding() -> None:
    kinds = {f[0] for seed in range(100) for f in by_search(random_ruleset(seed))}
    assert kinds == {"never", "shadowed", "gap", "overlap"}


def test_state_fields_of_an_order_never_imported_are_not_treated_as_free() -> None:
    # `paid: true` cannot hold for an order never imported: no gap may be claimed there.
    assert NOT_IMPORTED_STATE["paid"] is False
    text = ("version: 1\nname: t\ndirection: outbound\nrules:\n"
            "  - id: a\n    when: {state.imported: false}\n    no_update: a\n"
            "  - id: b\n    when: {state.imported: true, state.paid: true}\n    no_update: b\n"
            "  - id: c\n    when: {state.imported: true, state.paid: false}\n    no_update: c\n")
    assert by_search(text) == set()
