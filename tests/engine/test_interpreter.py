"""The interpreter: matchers, hit policies, settings, templates, keys, trace, compile once.

Each rule set here is written out as a small outbound file that ends in a catch-all rule, so the
completeness check is satisfied and only the rules under test decide.
"""
from __future__ import annotations

import copy
from typing import Any

import jinja2
import pytest

from engine.errors import EvaluationError, RulesyncError
from engine.language.interpreter import evaluate
from engine.language.loader import load_text
from engine.language.model import Decision, RuleSet

MISSING = object()  # the path is absent from the event


def ruleset(rules_yaml: str, *, policy: str = "first",
            settings: str = "{push_order_info: false, level: 3, mode: fast}",
            file: str = "t.yaml") -> RuleSet:
    text = (f"version: 1\ndirection: outbound\nhit_policy: {policy}\nsettings: {settings}\n"
            f"rules:\n{rules_yaml}")
    loaded = load_text(file, text)
    assert loaded.problems == [], "\n".join(map(str, loaded.problems))
    assert loaded.ruleset is not None
    return loaded.ruleset


REST = """
  - id: rest
    no_update: anything else
"""


def one_rule(when: str) -> RuleSet:
    return ruleset(f"""
  - id: hit
    when: {when}
    no_update: the condition holds
{REST}""")


def paid(order: Any = MISSING, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"id": "e-1", "type": "order.paid", "order_id": 101, **extra}
    if order is not MISSING:
        event["order"] = order
    return event


def hits(rs: RuleSet, event: dict[str, Any], state: dict[str, Any] | None = None,
         settings: dict[str, Any] | None = None) -> bool:
    decision = evaluate(rs, event, state, settings)
    return decision.matched == ("hit",)


# ---------------------------------------------------------------------------------------------
# matchers, one value at a time (the value sits at event.order.x)

MATCHERS = [
    # (matcher, value, holds)
    ("{event.order.x: 1}", 1, True),
    ("{event.order.x: 1}", 2, False),
    ("{event.order.x: 1}", "1", False),
    ("{event.order.x: {equals: ups}}", "ups", True),
    ("{event.order.x: {equals: ups}}", "UPS", False),
    ("{event.order.x: null}", None, True),
    ("{event.order.x: null}", 0, False),
    ("{event.order.x: {not_equals: 1}}", 2, True),
    ("{event.order.x: {not_equals: 1}}", 1, False),
    ("{event.order.x: {in: [1, 5]}}", 5, True),
    ("{event.order.x: {in: [1, 5]}}", 3, False),
    ("{event.order.x: {in: [a, b]}}", "b", True),
    ("{event.order.x: {not_in: [1, 5]}}", 3, True),
    ("{event.order.x: {not_in: [1, 5]}}", 5, False),
    ("{event.order.x: {exists: true}}", 0, True),
    ("{event.order.x: {exists: true}}", "", True),
    ("{event.order.x: {exists: true}}", None, False),
    ("{event.order.x: {exists: false}}", None, True),
    ("{event.order.x: {exists: false}}", 7, False),
    ("{event.order.x: {gt: 3}}", 4, True),
    ("{event.order.x: {gt: 3}}", 3, False),
    ("{event.order.x: {gte: 3}}", 3, True),
    ("{event.order.x: {gte: 3}}", 2.5, False),
    ("{event.order.x: {lt: 3}}", 2.5, True),
    ("{event.order.x: {lt: 3}}", 3, False),
    ("{event.order.x: {lte: 3}}", 3, True),
    ("{event.order.x: {lte: 3}}", 4, False),
    ("{event.order.x: {gt: 3}}", "4", False),  # no numeric comparison of strings
    ("{event.order.x: {gte: 1, lt: 5}}", 4, True),  # operators of one matcher combine
    ("{event.order.x: {gte: 1, lt: 5}}", 5, False),
    ("{event.order.x: {in: [1, 2, 3], not_equals: 2}}", 2, False),
]


@pytest.mark.parametrize(("matcher", "value", "holds"), MATCHERS,
                         ids=[f"{m}={v!r}" for m, v, _ in MATCHERS])
def test_matcher(matcher: str, value: Any, holds: bool) -> None:
    assert hits(one_rule(matcher), paid({"x": value})) is holds


# bools are not the numbers 0 and 1, in either direction
BOOLS = [
    ("{event.order.x: 1}", True, False),
    ("{event.order.x: 0}", False, False),
    ("{event.order.x: {in: [0, 1]}}", True, False),
    ("{event.order.x: {in: [0, 1]}}", False, False),
    ("{event.order.x: {not_in: [1]}}", True, True),
    ("{event.order.x: {gt: 0}}", True, False),
    ("{event.order.x: {lte: 0}}", False, False),
    ("{state.paid: true}", 1, False),
    ("{state.paid: true}", True, True),
    ("{state.paid: false}", 0, False),
    ("{state.paid: false}", False, True),
]


@pytest.mark.parametrize(("matcher", "value", "holds"), BOOLS,
                         ids=[f"{m}={v!r}" for m, v, _ in BOOLS])
def test_bools_are_not_zero_and_one(matcher: str, value: Any, holds: bool) -> None:
    if matcher.startswith("{state."):
        assert hits(one_rule(matcher), paid(), state={"paid": value}) is holds
    else:
        assert hits(one_rule(matcher), paid({"x": value})) is holds


@pytest.mark.parametrize("value", [1.0, True, "1", 2, 1])
def test_equals_and_not_equals_are_complements(value: Any) -> None:
    eq, ne = one_rule("{event.order.x: 1}"), one_rule("{event.order.x: {not_equals: 1}}")
    assert hits(eq, paid({"x": value})) != hits(ne, paid({"x": value}))


@pytest.mark.parametrize("value", [1, 0, True, "1", None, 3.5])
def test_in_and_not_in_are_complements_for_common_values(value: Any) -> None:
    inn, notin = one_rule("{event.order.x: {in: [1, 2]}}"), one_rule(
        "{event.order.x: {not_in: [1, 2]}}")
    assert hits(inn, paid({"x": value})) != hits(notin, paid({"x": value}))


# ---------------------------------------------------------------------------------------------
# missing paths


@pytest.mark.parametrize(("matcher", "holds"), [
    ("{event.order.x: 1}", False),
    ("{event.order.x: null}", False),
    ("{event.order.x: {in: [1]}}", False),
    ("{event.order.x: {gt: 0}}", False),
    ("{event.order.x: {lt: 0}}", False),
    ("{event.order.x: {exists: true}}", False),
    ("{event.order.x: {exists: false}}", True),
])
@pytest.mark.parametrize("order", [MISSING, {}, "not a mapping", None, [1, 2]],
                         ids=["no-order", "empty-order", "string", "null", "list"])
def test_missing_path(matcher: str, holds: bool, order: Any) -> None:
    assert hits(one_rule(matcher), paid(order)) is holds


def test_missing_state_field_and_no_state_at_all() -> None:
    rs = one_rule("{state.imported: false}")
    assert hits(rs, paid(), state=None)  # no state: an order the ledger never imported
    assert not hits(rs, paid(), state={})  # a state without the field: missing is not false


# ---------------------------------------------------------------------------------------------
# all / any / not / expr


def test_all_any_not() -> None:
    rs = one_rule("""
      all:
        - any: [{event.order.x: 1}, {event.order.y: 2}]
        - not: {event.order.z: {exists: true}}""")
    assert hits(rs, paid({"x": 1}))
    assert hits(rs, paid({"y": 2}))
    assert hits(rs, paid({"x": 1, "y": 2}))
    assert not hits(rs, paid({"x": 3, "y": 3}))
    assert not hits(rs, paid({"x": 1, "z": 0}))


def test_several_keys_in_one_mapping_all_must_hold() -> None:
    rs = one_rule("{event.order.x: 1, event.order_id: 101, state.paid: true}")
    assert hits(rs, paid({"x": 1}), {"paid": True})
    assert not hits(rs, paid({"x": 1}), {"paid": False})
    assert not hits(rs, paid({"x": 1}, order_id=102), {"paid": True})


def test_expr_reads_event_state_and_settings() -> None:
    rs = one_rule("{expr: 'event.order_id > 100 and state.paid and settings.level >= 3'}")
    assert hits(rs, paid(), {"paid": True})
    assert not hits(rs, paid(), {"paid": False})
    assert not hits(rs, paid(order_id=7), {"paid": True})
    assert not hits(rs, paid(), {"paid": True}, {"level": 2})


def test_expr_combines_with_matchers() -> None:
    rs = one_rule("{event.type: order.paid, expr: 'event.order_id % 2 == 1'}")
    assert hits(rs, paid())
    assert not hits(rs, paid(order_id=102))


# ---------------------------------------------------------------------------------------------
# settings


def test_settings_default_from_the_rule_file_and_overrides() -> None:
    rs = one_rule("{settings.level: {gte: 3}, settings.mode: fast}")
    assert hits(rs, paid())  # defaults: level 3, mode fast
    assert hits(rs, paid(), settings={})
    assert not hits(rs, paid(), settings={"level": 2})
    assert not hits(rs, paid(), settings={"mode": "slow"})
    assert hits(rs, paid(), settings={"level": 9, "mode": "fast"})


def test_a_bool_setting_overridden_with_one_is_not_true() -> None:
    rs = one_rule("{settings.push_order_info: true}")
    assert not hits(rs, paid())
    assert hits(rs, paid(), settings={"push_order_info": True})
    assert not hits(rs, paid(), settings={"push_order_info": 1})


def test_settings_reach_templates_with_defaults_and_overrides() -> None:
    rs = ruleset("""
  - id: ship
    when: {event.type: order.shipped}
    actions:
      - create_store_shipment: {comments: "level {{ settings.level }} mode {{ settings.mode }}"}
""" + REST)
    ev = {"id": "s-1", "type": "order.shipped", "order_id": 1}
    assert evaluate(rs, ev).actions[0].params["comments"] == "level 3 mode fast"
    got = evaluate(rs, ev, settings={"mode": "slow"}).actions[0].params["comments"]
    assert got == "level 3 mode slow"


# ---------------------------------------------------------------------------------------------
# hit policies

COLLECT = """
  - id: status
    when: {event.type: order.closed}
    actions: [{set_store_status: {status_id: 10}}]
  - id: note
    when: {event.order_id: {gt: 100}}
    actions: [{create_store_shipment: {comments: "big order {{ event.order_id }}"}}]
  - id: quiet
    when: {event.order_id: {lt: 0}}
    no_update: never for real orders
  - id: explain
    when: {event.type: order.closed}
    no_update: logged as well
  - id: always
    no_update: every event is logged
"""


def test_collect_every_matching_rule_contributes_in_file_order() -> None:
    rs = ruleset(COLLECT, policy="collect")
    d = evaluate(rs, {"id": "e-9", "type": "order.closed", "order_id": 101})
    assert d.matched == ("status", "note", "explain", "always")
    assert [(a.rule_id, a.name) for a in d.actions] == [
        ("status", "set_store_status"), ("note", "create_store_shipment")]
    assert d.actions[0].params == {"status_id": 10}
    assert d.actions[1].params == {"comments": "big order 101"}
    assert d.no_update == ("logged as well", "every event is logged")
    assert len({a.key for a in d.actions}) == 2


def test_collect_with_only_the_catch_all_matching() -> None:
    rs = ruleset(COLLECT, policy="collect")
    d = evaluate(rs, {"id": "e-9", "type": "order.paid", "order_id": 5})
    assert (d.matched, d.actions, d.no_update) == (("always",), (), ("every event is logged",))


def test_first_takes_the_first_matching_rule_only() -> None:
    rs = ruleset("""
  - id: big
    when: {event.order_id: {gt: 100}}
    no_update: big
  - id: closed
    when: {event.type: order.closed}
    actions: [{set_store_status: {status_id: 10}}]
""" + REST)
    assert evaluate(rs, {"id": "e", "type": "order.closed", "order_id": 101}).matched == ("big",)
    d = evaluate(rs, {"id": "e", "type": "order.closed", "order_id": 5})
    assert d.matched == ("closed",) and [a.name for a in d.actions] == ["set_store_status"]
    assert evaluate(rs, {"id": "e", "type": "order.paid", "order_id": 5}).matched == ("rest",)


UNIQUE_BY_EXPR = """
  - id: big
    when: {expr: "event.order_id > 100"}
    no_update: big
  - id: bigger
    when: {expr: "event.order_id > 200"}
    no_update: bigger
  - id: small
    when: {expr: "event.order_id <= 100"}
    no_update: small
"""


def test_unique_with_one_match() -> None:
    rs = ruleset(UNIQUE_BY_EXPR, policy="unique")
    assert evaluate(rs, paid(order_id=150)).matched == ("big",)
    assert evaluate(rs, paid(order_id=5)).matched == ("small",)


def test_unique_overlap_at_run_time_is_an_error() -> None:
    rs = ruleset(UNIQUE_BY_EXPR, policy="unique")
    with pytest.raises(RulesyncError, match="unique"):
        evaluate(rs, paid(order_id=250))


# ---------------------------------------------------------------------------------------------
# templates: strict undefined and sandbox

SHIP = """
  - id: ship
    when: {event.type: order.shipped}
    actions:
      - create_store_shipment:
          comments: "shipment {{ event.shipment.id }} of {{ event.order_id }}"
"""


def shipped(**extra: Any) -> dict[str, Any]:
    return {"id": "s-1", "type": "order.shipped", "order_id": 101, **extra}


def test_template_params_are_rendered() -> None:
    d = evaluate(ruleset(SHIP + REST), shipped(shipment={"id": 3}))
    assert d.actions[0].params == {"comments": "shipment 3 of 101"}


@pytest.mark.parametrize("event", [shipped(), shipped(shipment={}), shipped(shipment=None)],
                         ids=["no-shipment", "no-shipment-id", "null-shipment"])
def test_an_undefined_value_at_render_time_is_an_error_not_empty(event: dict[str, Any]) -> None:
    rs = ruleset(SHIP + REST)
    with pytest.raises(Exception) as caught:  # noqa: B017 - the class is checked below
        evaluate(rs, event)
    assert isinstance(caught.value, (jinja2.UndefinedError, RulesyncError)), caught.value


def test_a_render_error_is_a_rulesync_error_naming_the_rule() -> None:
    with pytest.raises(RulesyncError, match="ship"):
        evaluate(ruleset(SHIP + REST), shipped())


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ event.order_id.__class__.__mro__ }}",
    "{{ (1).__class__.__subclasses__() }}",
    "{{ settings.mode.__class__.__base__ }}",
])
def test_sandbox_refuses_unsafe_attribute_access(template: str) -> None:
    text = ("version: 1\ndirection: outbound\nsettings: {mode: fast}\nrules:\n"
            "  - id: evil\n    when: {event.type: order.shipped}\n"
            f"    actions: [{{create_store_shipment: {{comments: \"{template}\"}}}}]\n"
            "  - id: rest\n    no_update: rest\n")
    loaded = load_text("evil.yaml", text)
    # The file is well formed; the sandbox refuses the access when the template is rendered.
    assert loaded.problems == [] and loaded.ruleset is not None
    with pytest.raises(EvaluationError, match="unsafe"):  # jinja2's SecurityError, named
        evaluate(loaded.ruleset, shipped())


def test_expr_in_sandbox_refuses_unsafe_access() -> None:
    text = ("version: 1\ndirection: outbound\nrules:\n"
            "  - id: evil\n    when: {expr: \"''.__class__.__mro__ | length > 0\"}\n"
            "    no_update: evil\n"
            "  - id: rest\n    no_update: rest\n")
    loaded = load_text("evil.yaml", text)
    assert loaded.problems == [] and loaded.ruleset is not None
    with pytest.raises(EvaluationError, match="unsafe"):
        evaluate(loaded.ruleset, paid())


# ---------------------------------------------------------------------------------------------
# idempotency keys


def test_keys_are_stable_across_two_loads_and_name_event_rule_and_action() -> None:
    a = evaluate(ruleset(COLLECT, policy="collect", file="a.yaml"),
                 {"id": "e-9", "type": "order.closed", "order_id": 101})
    b = evaluate(ruleset(COLLECT, policy="collect", file="b.yaml"),
                 {"id": "e-9", "type": "order.closed", "order_id": 101})
    assert [x.key for x in a.actions] == [x.key for x in b.actions]
    assert [x.key for x in a.actions] == ["e-9:status:set_store_status",
                                          "e-9:note:create_store_shipment"]
    assert a.event_id == "e-9"


def test_an_event_without_id_gets_a_stable_content_hash() -> None:
    rs1 = ruleset(COLLECT, policy="collect")
    rs2 = ruleset(COLLECT, policy="collect")
    ev = {"type": "order.closed", "order_id": 101, "order": {"b": 1, "a": [1, 2]}}
    reordered = {"order": {"a": [1, 2], "b": 1}, "order_id": 101, "type": "order.closed"}
    d1, d2 = evaluate(rs1, ev), evaluate(rs2, reordered)
    assert d1.event_id == d2.event_id and d1.event_id.startswith("ev-")
    assert [x.key for x in d1.actions] == [x.key for x in d2.actions]
    other = evaluate(rs1, {**ev, "order_id": 102})
    assert other.event_id != d1.event_id


def test_keys_differ_between_events() -> None:
    rs = ruleset(COLLECT, policy="collect")
    ev = {"type": "order.closed", "order_id": 101}
    k1 = {a.key for a in evaluate(rs, {**ev, "id": "e-1"}).actions}
    k2 = {a.key for a in evaluate(rs, {**ev, "id": "e-2"}).actions}
    assert k1.isdisjoint(k2)


# ---------------------------------------------------------------------------------------------
# trace

TRACED = """
  - id: paid-big
    when: {event.type: order.paid, event.order_id: {gt: 1000}}
    no_update: big
  - id: packed
    when: {event.type: order.packed}
    no_update: packed
  - id: paid
    when: {event.type: order.paid}
    no_update: paid
  - id: voided
    when: {event.type: order.voided}
    no_update: voided
""" + REST


def test_trace_says_why_each_other_rule_did_not_match() -> None:
    d = evaluate(ruleset(TRACED), paid(), {"paid": True}, trace=True)
    assert d.matched == ("paid",)
    reasons = {t.rule_id: (t.matched, t.reason) for t in d.trace}
    assert list(reasons) == ["paid-big", "packed", "paid", "voided", "rest"]
    assert reasons["paid-big"] == (False, "event.order_id is 101, wants gt 1000")
    assert reasons["packed"] == (False, "event.type is 'order.paid', wants equals 'order.packed'")
    assert reasons["paid"] == (True, "matched")
    assert reasons["voided"] == (False, "not evaluated: 'paid' matched first")
    assert reasons["rest"] == (False, "not evaluated: 'paid' matched first")


def test_trace_under_collect_gives_a_reason_for_every_rule() -> None:
    d = evaluate(ruleset(COLLECT, policy="collect"),
                 {"id": "e", "type": "order.paid", "order_id": 5}, trace=True)
    assert [(t.rule_id, t.matched) for t in d.trace] == [
        ("status", False), ("note", False), ("quiet", False), ("explain", False),
        ("always", True)]
    assert d.trace[1].reason == "event.order_id is 5, wants gt 100"
    assert d.trace[0].reason == "event.type is 'order.paid', wants equals 'order.closed'"
    assert all(t.reason for t in d.trace)


def test_trace_names_missing_values_and_settings() -> None:
    rs = ruleset("""
  - id: needs-x
    when: {event.order.x: {exists: true}}
    no_update: x
  - id: needs-push
    when: {settings.push_order_info: true}
    no_update: push
""" + REST)
    d = evaluate(rs, paid(), trace=True)
    reasons = {t.rule_id: t.reason for t in d.trace}
    assert reasons["needs-x"] == "event.order.x is missing, wants exists True"
    assert reasons["needs-push"] == "settings.push_order_info is False, wants equals True"


def test_no_trace_unless_asked_and_the_decision_is_the_same() -> None:
    rs = ruleset(TRACED)
    plain, traced = evaluate(rs, paid()), evaluate(rs, paid(), trace=True)
    assert plain.trace == ()
    assert plain._replace(trace=()) == traced._replace(trace=())


# ---------------------------------------------------------------------------------------------
# purity and compile-once


def test_evaluate_does_not_mutate_its_inputs() -> None:
    rs = ruleset(COLLECT, policy="collect")
    ev = {"type": "order.closed", "order_id": 101, "order": {"x": [1]}}
    st = {"imported": True, "paid": True}
    se = {"level": 4}
    before = copy.deepcopy((ev, st, se))
    evaluate(rs, ev, st, se, trace=True)
    assert (ev, st, se) == before


def test_evaluate_compiles_nothing_after_load(monkeypatch: pytest.MonkeyPatch) -> None:
    rs = ruleset("""
  - id: ship
    when: {event.type: order.shipped, expr: "event.shipment.id > 0 and settings.level > 1"}
    actions:
      - create_store_shipment:
          comments: "shipment {{ event.shipment.id }} level {{ settings.level }}"
  - id: any-paid
    when: {any: [{event.type: order.paid}, {expr: "event.order_id == 7"}]}
    no_update: paid
""" + REST)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled at evaluation time")

    for name in ("parse", "from_string", "compile_expression", "compile", "_parse", "_generate",
                 "_compile"):
        monkeypatch.setattr(jinja2.Environment, name, refuse)
    monkeypatch.setattr(jinja2.Template, "from_code", refuse)
    d: Decision = evaluate(rs, shipped(shipment={"id": 4}), settings={"level": 2}, trace=True)
    assert d.matched == ("ship",)
    assert d.actions[0].params == {"comments": "shipment 4 level 2"}
    d = evaluate(rs, paid(order_id=7), trace=True)
    assert d.matched == ("any-paid",)
    d = evaluate(rs, {"id": "x", "type": "order.voided", "order_id": 7}, trace=True)
    assert d.matched == ("any-paid",)
