"""The words `rulesync docs` uses for the rule model: the help article's terms, not YAML paths.

Small tables keyed on the catalog's names (action names, event types, state fields); anything a
table does not know is shown as it is written in the rule file, so a new action or a condition
on a deep path still renders, only less prettily.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.language.catalog import INBOUND, OUTBOUND, STATUS_PATHS, status_label
from engine.language.conditions import AllOf, AnyOf, Expr, Match, Node, NotOf
from engine.language.model import Rule

DIRECTIONS: dict[str, dict[str, str]] = {
    INBOUND: {"title": "Store → ledger", "trigger": "BigCommerce status or event",
              "outcome": "Ledger update", "any": "any store event"},
    OUTBOUND: {"title": "Ledger → store", "trigger": "Ledger change",
               "outcome": "BigCommerce update", "any": "any ledger change"},
}

HIT_POLICIES = {
    "first": "The first row that matches decides; later rows apply only when no earlier one does.",
    "unique": "At most one row matches any event.",
    "collect": "Every row that matches applies, in this order.",
}

EVENTS = {
    "order.status_changed": "a status change",
    "shipment.created": "Ship Items (a shipment created)",
    "shipment.updated": "a shipment updated",
    "shipment.deleted": "a shipment deleted",
    "order.paid": "Paid",
    "order.packed": "Packed",
    "order.shipped": "Shipped",
    "order.closed": "Closed",
    "order.voided": "Void",
    "order.refunded": "Refund",
}

ACTIONS = {
    "import_order": "import as billed",
    "mark_paid": "mark paid",
    "mark_packed": "mark packed",
    "record_shipment": "record the shipment with its tracking (partial or complete from the quantities)",
    "remove_shipment": "forget the shipment",
    "close_order": "close",
    "void_order": "void",
    "mark_refunded": "mark refunded",
    "set_store_status": "set the status to",
    "create_store_shipment": "create a shipment with its tracking for the items shipped",
}

_OPS = {"equals": "is", "not_equals": "is not", "in": "is one of", "not_in": "is none of",
        "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def event(event_type: object) -> str:
    return EVENTS.get(str(event_type), str(event_type))


def action(name: str, params: Mapping[str, Any], templated: bool = False) -> str:
    words = ACTIONS.get(name, name)
    if "status_id" in params:
        words += " " + status_label(params["status_id"])
    elif templated and name == "set_store_status":
        words += " the status a template computes"
    if params.get("allow_downgrade") is True:
        words += " (even backwards)"
    return words


def _value(path: str, value: Any) -> str:
    if isinstance(value, list):
        return " or ".join(_value(path, v) for v in value)
    if path in STATUS_PATHS and not isinstance(value, bool):
        return status_label(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def match(m: Match) -> str:
    """One matcher in words: `imported before`, `` `auto_close` on``, `from 7 Awaiting Payment`."""
    root, _, name = m.path.partition(".")
    positive = {"equals": True, "not_equals": False}.get(m.op)
    if positive is not None and isinstance(m.value, bool):
        on = m.value is positive
        if m.path == "state.imported":
            return "imported before" if on else "not imported before"
        if root == "state" and "." not in name:
            return f"{name} in the ledger" if on else f"not {name} in the ledger"
        if root == "settings":
            return f"`{name}` {'on' if on else 'off'}"
    if m.path == "event.previous_status_id" and m.op in ("equals", "in"):
        return "from " + _value(m.path, m.value)
    if m.op == "exists":
        return f"`{m.path}` {'is set' if m.value else 'is not set'}"
    subject = f"`{name}`" if root == "settings" else f"`{m.path}`"
    return f"{subject} {_OPS.get(m.op, m.op)} {_value(m.path, m.value)}"


def condition(node: Node) -> str:
    if isinstance(node, Match):
        return match(node)
    if isinstance(node, Expr):
        return f"`{node.source}`"
    if isinstance(node, NotOf):
        return f"not ({condition(node.part)})"
    joiner = " and " if isinstance(node, AllOf) else " or "
    text = joiner.join(condition(p) for p in node.parts)
    return f"({text})" if isinstance(node, AnyOf) and len(node.parts) > 1 else text


def negated(m: Match) -> str | None:
    """Words for "this matcher does not hold", when they are simple (a boolean setting or flag)."""
    if m.op in ("equals", "not_equals") and isinstance(m.value, bool):
        value = (not m.value) if m.op == "equals" else m.value
        return match(Match(m.path, "equals", value, m.where))
    return None


@dataclass(frozen=True)
class Case:
    """One rule in words: what sets it off, under which conditions, and what it does."""

    rule: Rule
    trigger: str
    event_types: tuple[str, ...]
    conditions: tuple[str, ...]
    settings: tuple[str, ...]  # the conditions on settings alone, for the diagram's labels
    outcome: str


def case(rule: Rule, direction: str, implied: tuple[Match, ...] = ()) -> Case:
    """`implied`: conditions a row inherits from earlier rules (see `implied_by`)."""
    parts = () if rule.when is None else rule.when.parts if isinstance(rule.when, AllOf) \
        else (rule.when,)
    types: list[str] = []
    statuses: list[Any] = []
    rest: list[Node] = []
    for part in parts:
        if isinstance(part, Match) and part.op in ("equals", "in") and \
                part.path in ("event.type", "event.new_status_id"):
            values = part.value if isinstance(part.value, list) else [part.value]
            (types if part.path == "event.type" else statuses).extend(values)
        else:
            rest.append(part)
    if statuses:
        trigger = " / ".join(status_label(s) for s in statuses)
    elif types:
        trigger = " / ".join(event(t) for t in types)
    else:
        trigger = DIRECTIONS[direction]["any"]
    words = [condition(p) for p in rest] + [w for m in implied if (w := negated(m))]
    settings = [condition(p) for p in rest if _on_settings(p)] + \
        [w for m in implied if (w := negated(m))]
    return Case(rule, trigger, tuple(map(str, types)), tuple(words), tuple(settings),
                outcome(rule))


def implied_by(rule: Rule, hit_policy: str) -> tuple[Match, ...]:
    """Under `first`, an earlier rule that tests only one boolean setting (`push_order_info:
    false`) means every later row holds only when that setting is the other way round."""
    if hit_policy != "first" or not isinstance(rule.when, Match):
        return ()
    m = rule.when
    return (m,) if m.path.startswith("settings.") and negated(m) else ()


def outcome(rule: Rule) -> str:
    if rule.no_update is not None:
        return "no update: " + " ".join(rule.no_update.split())
    return ", ".join(action(a.name, a.params, bool(a.templates)) for a in rule.actions)


def _on_settings(node: Node) -> bool:
    return isinstance(node, Match) and node.path.startswith("settings.")
