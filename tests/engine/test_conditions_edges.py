"""Conditions: `lte` below its bound, and the trace's words for every kind of condition,
status ids named, found by mutation testing (docs/testing.md)."""
from __future__ import annotations

from typing import Any

import pytest

from engine.language import conditions
from engine.language.interpreter import evaluate
from engine.language.loader import load_text


def _node(data: dict[str, Any]) -> conditions.Node:
    return conditions.parse(data, (), lambda source, where: None)


def _why(data: dict[str, Any], event: dict[str, Any]) -> str:
    return conditions.why_not(_node(data), event, {}, {}, {})


@pytest.mark.parametrize(("value", "holds"), [(2, True), (2.5, True), (3, True), (3.5, False),
                                              (-1, True)])
def test_lte_holds_below_and_at_its_bound(value: float, holds: bool) -> None:
    test = conditions.compile_test(_node({"event.x": {"lte": 3}}), {})
    assert test({"x": value}, {}, {}) is holds


def test_a_status_list_is_shown_with_the_status_names() -> None:
    assert _why({"event.new_status_id": {"in": [2, 3]}}, {"new_status_id": 7}) == (
        "event.new_status_id is 7 Awaiting Payment, wants in [2 Shipped, 3 Partially Shipped]")


def test_a_bool_where_a_status_is_tested_is_shown_as_a_bool_not_a_status() -> None:
    assert _why({"event.new_status_id": 1}, {"new_status_id": True}) == (
        "event.new_status_id is True, wants equals 1 Pending")


def test_a_plain_path_shows_the_value_and_missing() -> None:
    assert _why({"event.order_id": {"gt": 100}}, {"order_id": 5}) == (
        "event.order_id is 5, wants gt 100")
    assert _why({"event.order_id": {"gt": 100}}, {}) == "event.order_id is missing, wants gt 100"


def test_not_and_any_say_what_failed() -> None:
    assert _why({"not": {"event.type": "order.paid"}}, {"type": "order.paid"}) == (
        "the `not` condition holds")
    assert _why({"any": [{"event.type": "order.paid"}, {"event.order_id": 1}]},
                {"type": "order.packed", "order_id": 2}) == "none of the `any` conditions holds"
    assert _why({"not": {"event.type": "order.paid"}}, {"type": "order.packed"}) == ""


def test_an_expr_that_is_false_is_quoted() -> None:
    text = ("version: 1\ndirection: outbound\nrules:\n"
            "  - id: big\n    when: {expr: \"event.order_id > 100\"}\n    no_update: big\n"
            "  - id: rest\n    no_update: rest\n")
    loaded = load_text("expr.yaml", text)
    assert loaded.problems == [] and loaded.ruleset is not None, loaded.problems
    d = evaluate(loaded.ruleset, {"id": "e", "type": "order.paid", "order_id": 5}, trace=True)
    assert d.trace[0].reason == "expr 'event.order_id > 100' is false"
