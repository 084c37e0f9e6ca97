"""Templates and `expr` conditions cannot hang or exhaust memory: every value they build, every
loop and every call is bounded, and an operator on constants over the limits is a load problem.

The failures are checked by message; how fast they come is the point of the bound, but tests here
do not time anything (a hang would show as the test run's own timeout, a bomb as MemoryError).
"""
from __future__ import annotations

from typing import Any

import pytest

from engine.errors import EvaluationError
from engine.language.budget import LIMIT, MAX_INT_BITS, MAX_STEPS
from engine.language.interpreter import evaluate
from engine.language.loader import load_text

CTX_EVENT = {"id": "s-1", "type": "order.shipped", "order_id": 101,
             "shipment": {"id": 3, "items": [{"sku": "MUG-1", "quantity": 2},
                                             {"sku": "CAP-2", "quantity": 1}]}}


def rules_with(comments: str) -> str:
    quoted = comments.replace("\\", "\\\\").replace('"', '\\"')
    return ("version: 1\ndirection: outbound\nrules:\n"
            "  - id: ship\n    when: {event.type: order.shipped}\n"
            f"    actions: [{{create_store_shipment: {{comments: \"{quoted}\"}}}}]\n"
            "  - id: rest\n    no_update: rest\n")


def rendered(template: str) -> Any:
    loaded = load_text("t.yaml", rules_with(template))
    assert loaded.ruleset is not None, loaded.problems
    return evaluate(loaded.ruleset, CTX_EVENT).actions[0].params["comments"]


def load_problem(template: str) -> str:
    loaded = load_text("t.yaml", rules_with(template))
    assert loaded.ruleset is None
    (p,) = loaded.problems
    assert (p.line, p.path) == (6, "$.rules[0].actions[0].create_store_shipment.comments")
    return p.message


def render_error(template: str) -> str:
    loaded = load_text("t.yaml", rules_with(template))
    assert loaded.ruleset is not None, loaded.problems
    with pytest.raises(EvaluationError) as caught:
        evaluate(loaded.ruleset, CTX_EVENT)
    message = str(caught.value)
    assert message.startswith("t.yaml:6:50: rule 'ship' → create_store_shipment.comments: "
                              "template failed for event s-1: "), message
    return message


@pytest.mark.parametrize("template,message", [
    ("{{ 'a' * 2000000000 }}", f"of 2000000000 characters or items (the limit is {LIMIT})"),
    ("{{ [1] * 10**9 }}", "of 1000000000 characters or items"),
    ("{{ 9 ** 99999999 }}", f"an integer of about 316992497 bits (the limit is {MAX_INT_BITS})"),
    ("{{ '%0999999999d' % 1 }}", "format width or precision 999999999 is over the limit"),
], ids=["string-repetition", "list-repetition", "power", "percent-width"])
def test_operators_on_constants_over_the_limits_are_load_problems(template: str,
                                                                  message: str) -> None:
    assert message in load_problem(template)


@pytest.mark.parametrize("template,message", [
    ("{{ event.order_id ** 99999999 }}", "an integer of about"),
    ("{{ 'a' * event.order_id * 10000000 }}", "characters or items"),
    ("{{ '{:999999999}'.format(1) }}", "format width or precision 999999999"),
    ("{{ 'x'.center(10**9) }}", "of 1000000000 characters"),
    ("{{ ('a' * 100000).replace('a', 'a' * 100000) }}", "of 10000000000 characters"),
    ("{{ ('a' * 100000)|replace('a', 'aaaaaaaaaa') }}", "of 1000000 characters"),
    ("{{ 'a'|indent(10**9, true) }}", "characters or items"),
    ("{{ [1]|batch(10**9, 'x')|list }}", "a list of 1000000000"),
    ("{{ range(10**9)|list }}", "a range of 1000000000"),
    ("{{ ((('a' * 1000)|list)|join('x' * 100000)) }}", "characters or items"),
    ("{{ (10).to_bytes(10**9, 'big') }}", "of 1000000000 characters"),
    ("{{ ('a' * 99999) ~ ('b' * 99999) }}", "of 199998 characters"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     f"takes more than {MAX_STEPS} steps"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
     f"takes more than {MAX_STEPS} steps"),
    ("{% for x in range(100) recursive %}{% if loop.depth < 6 %}{{ loop(range(100)) }}"
     "{% endif %}{% endfor %}", f"takes more than {MAX_STEPS} steps"),
    ("{% for i in range(100000) %}{{ 'a' * 100000 }}{% endfor %}",
     f"output is longer than {LIMIT} characters"),
    ("{% set ns = namespace(x='a') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}"
     "{% endfor %}{{ ns.x }}", "characters or items"),
], ids=["power-of-event", "repetition-of-event", "format-width", "center", "method-replace",
        "filter-replace", "indent", "batch", "range", "join", "to-bytes", "tilde", "nested-loops",
        "macro-recursion", "recursive-loop", "output", "namespace-doubling"])
def test_templates_over_the_budget_fail_with_a_named_evaluation_error(template: str,
                                                                      message: str) -> None:
    assert message in render_error(template)


@pytest.mark.parametrize("template,message", [
    ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
    ("{{ 'a' + 1 }}", "TypeError: can only concatenate str"),
], ids=["division-by-zero", "type-error"])
def test_python_errors_in_a_template_are_evaluation_errors(template: str, message: str) -> None:
    assert message in render_error(template)


def test_expr_over_the_budget_fails_naming_its_place() -> None:
    text = ("version: 1\ndirection: outbound\nrules:\n"
            "  - id: big\n    when: {expr: 'event.order_id ** 99999999 > 1'}\n"
            "    no_update: big\n  - id: rest\n    no_update: rest\n")
    loaded = load_text("x.yaml", text)
    assert loaded.ruleset is not None
    with pytest.raises(EvaluationError) as caught:
        evaluate(loaded.ruleset, CTX_EVENT)
    assert str(caught.value).startswith("x.yaml:5:18: $.rules[0].when.expr: expr ")
    assert "an integer of about" in str(caught.value)


def test_expr_on_constants_over_the_limits_is_a_load_problem() -> None:
    text = ("version: 1\ndirection: outbound\nrules:\n"
            "  - id: big\n    when: {expr: \"'a' * 2000000000 == 'a'\"}\n"
            "    no_update: big\n  - id: rest\n    no_update: rest\n")
    (p,) = load_text("x.yaml", text).problems
    assert (p.line, p.path) == (5, "$.rules[0].when.expr")
    assert "of 2000000000 characters or items" in p.message


@pytest.mark.parametrize("template,expected", [
    ("{{ event.shipment.id }} of {{ event.order_id }}", "3 of 101"),
    ("{% for item in event.shipment['items'] %}{{ item.sku }}x{{ item.quantity }} {% endfor %}",
     "MUG-1x2 CAP-2x1 "),
    ("{{ event.shipment['items']|map(attribute='sku')|join(', ') }}", "MUG-1, CAP-2"),
    ("{{ '%05d' % event.order_id }} {{ '{:>6}'.format(event.order_id) }}", "00101    101"),
    ("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ [1, 2] + [3] }} {{ 'x' ~ event.order_id }}",
     "ababab 1024 [1, 2, 3] x101"),
    ("{{ range(3)|list }} {{ 'a b'|replace(' ', '-')|upper|center(7) }}", "[0, 1, 2]   A-B  "),
], ids=["fields", "loop", "filters", "formats", "operators", "range-and-filters"])
def test_ordinary_templates_render_as_before(template: str, expected: str) -> None:
    assert rendered(template) == expected
