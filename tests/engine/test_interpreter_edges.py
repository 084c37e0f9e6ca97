"""Edges of the interpreter that decide an idempotency key or a decision: event ids that are not
plain strings, the content hash's exact form, unique with nothing matching, and the rule index
narrowing the shipped inbound table to a few candidates per event."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from engine.language.interpreter import evaluate
from engine.language.loader import load_file, load_text
from engine.language.model import RuleSet

RULES = Path(__file__).resolve().parents[2] / "rules" / "bigcommerce"
# One plain rule (the interpreter's fast path under `first`) and one templated rule.
PLAIN_AND_TEMPLATED = """version: 1
direction: outbound
hit_policy: {policy}
rules:
  - id: close
    when: {{event.type: order.closed}}
    actions: [{{set_store_status: {{status_id: 10}}}}]
  - id: ship
    when: {{event.type: order.shipped}}
    actions: [{{create_store_shipment: {{comments: "order {{{{ event.order_id }}}}"}}}}]
  - id: rest
    no_update: anything else
"""


def _rules(policy: str) -> RuleSet:
    loaded = load_text("edges.yaml", PLAIN_AND_TEMPLATED.format(policy=policy))
    assert loaded.problems == [] and loaded.ruleset is not None, loaded.problems
    return loaded.ruleset


def _content_id(event: dict[str, Any]) -> str:
    canonical = json.dumps(event, sort_keys=True, default=str, separators=(",", ":"))
    return "ev-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


@pytest.mark.parametrize("policy", ["first", "collect"])
@pytest.mark.parametrize("kind", ["order.closed", "order.shipped"])
def test_a_number_id_is_the_event_id_as_text(policy: str, kind: str) -> None:
    d = evaluate(_rules(policy), {"id": 5, "type": kind, "order_id": 101})
    assert d.event_id == "5"
    assert d.actions[0].key == f"5:{d.matched[0]}:{d.actions[0].name}"


@pytest.mark.parametrize("policy", ["first", "collect"])
@pytest.mark.parametrize("kind", ["order.closed", "order.shipped"])
@pytest.mark.parametrize("given", [{}, {"id": ""}, {"id": None}])
def test_no_id_or_an_empty_one_gets_the_content_hash(policy: str, kind: str,
                                                     given: dict[str, Any]) -> None:
    event = {**given, "type": kind, "order_id": 101}
    d = evaluate(_rules(policy), event)
    assert d.event_id == _content_id(event) and len(d.event_id) == 19
    assert d.actions[0].key == f"{d.event_id}:{d.matched[0]}:{d.actions[0].name}"


def test_unique_with_nothing_matching_decides_nothing_and_is_no_error() -> None:
    text = """version: 1
direction: outbound
hit_policy: unique
rules:
  - id: big
    when: {expr: "event.order_id > 100"}
    no_update: big
  - id: small
    when: {expr: "event.order_id < 50"}
    no_update: small
"""
    loaded = load_text("unique.yaml", text)
    assert loaded.problems == [] and loaded.ruleset is not None, loaded.problems
    d = evaluate(loaded.ruleset, {"id": "e-1", "type": "order.paid", "order_id": 75})
    assert (d.matched, d.actions, d.no_update) == ((), (), ())


def test_the_shipped_inbound_table_leaves_each_event_a_few_candidates() -> None:
    """The index is on event.type and event.new_status_id, read inline: a status change tests
    at most its three rules (10 Completed), a shipment event its two."""
    loaded = load_file(str(RULES / "inbound.yaml"))
    assert loaded.ruleset is not None
    rs = loaded.ruleset
    assert rs.candidates.__name__ == "locate"  # the inline two-key lookup, not the generic walk
    state, settings = {"imported": True}, {"auto_close": False}
    for status in range(15):
        event = {"id": "e", "type": "order.status_changed", "new_status_id": status}
        found = rs.candidates(event, state, settings)
        assert 1 <= len(found) <= 3, (status, [r.id for r, _ in found])
    for kind in ("shipment.created", "shipment.updated", "shipment.deleted"):
        found = rs.candidates({"id": "e", "type": kind}, state, settings)
        assert len(found) == 2, (kind, [r.id for r, _ in found])


def test_trace_under_collect_gives_the_reason_of_a_rule_after_a_match() -> None:
    """Under collect every rule is evaluated: none is 'not evaluated' behind an earlier match."""
    d = evaluate(_rules("collect"), {"id": "e", "type": "order.closed", "order_id": 5},
                 trace=True)
    reasons = {t.rule_id: (t.matched, t.reason) for t in d.trace}
    assert reasons == {
        "close": (True, "matched"),
        "ship": (False, "event.type is 'order.closed', wants equals 'order.shipped'"),
        "rest": (True, "matched")}
