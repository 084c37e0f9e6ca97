"""The shipped rules against PRODUCT.md's tables, row by row, independent of the *.tests.yaml files.

The expectations below are transcribed from the product tables (store -> ledger and ledger ->
store), not from the rule files: a rule file that drifts from the tables fails here.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

import rules
from engine.language import schema
from engine.language.interpreter import evaluate
from engine.language.loader import load_file, load_text
from engine.language.model import Decision, RuleSet
from engine.language.yamldoc import read

INBOUND_FILE = rules.BIGCOMMERCE / "inbound.yaml"
OUTBOUND_FILE = rules.BIGCOMMERCE / "outbound.yaml"
NEW: dict[str, Any] = {"imported": False, "billed": False, "paid": False, "packed": False,
                       "shipped": "none", "closed": False, "void": False, "refunded": False}
IMPORTED: dict[str, Any] = {**NEW, "imported": True, "billed": True}


@pytest.fixture(scope="module")
def inbound() -> RuleSet:
    loaded = load_file(INBOUND_FILE)
    assert loaded.problems == [] and loaded.ruleset is not None
    return loaded.ruleset


@pytest.fixture(scope="module")
def outbound() -> RuleSet:
    loaded = load_file(OUTBOUND_FILE)
    assert loaded.problems == [] and loaded.ruleset is not None
    return loaded.ruleset


def status_event(new: int, previous: int | None = 7) -> dict[str, Any]:
    return {"id": f"e-100-{new}", "type": "order.status_changed", "order_id": 100,
            "previous_status_id": previous, "new_status_id": new}


def names(decision: Decision) -> list[str]:
    return [a.name for a in decision.actions]


def assert_no_update(decision: Decision) -> None:
    assert decision.actions == () and len(decision.matched) == 1, decision
    assert decision.no_update and all(reason.strip() for reason in decision.no_update)


# ---------------------------------------------------------------------------------------------
# inbound, store -> ledger

IMPORT_FIRST = {  # statuses whose update imports a new order first (PRODUCT.md)
    7: ["import_order"],
    11: ["import_order", "mark_paid"],
    9: ["import_order", "mark_paid", "mark_packed"],
}
NO_UPDATE = [2, 3, 8, 12, 0, 1, 4, 6, 13, 14]


@pytest.mark.parametrize("state", [None, NEW, IMPORTED], ids=["no-state", "new", "imported"])
@pytest.mark.parametrize("status", sorted(IMPORT_FIRST))
@pytest.mark.parametrize("auto_close", [None, False, True], ids=["default", "off", "on"])
def test_statuses_that_import_first(inbound: RuleSet, status: int, state: dict[str, Any] | None,
                                    auto_close: bool | None) -> None:
    settings = None if auto_close is None else {"auto_close": auto_close}
    assert names(evaluate(inbound, status_event(status), state, settings)) == IMPORT_FIRST[status]


@pytest.mark.parametrize("state", [NEW, IMPORTED, {**IMPORTED, "paid": True, "packed": True}],
                         ids=["new", "imported", "packed"])
@pytest.mark.parametrize("status", NO_UPDATE)
@pytest.mark.parametrize("previous", [None, 7, 11])
def test_statuses_that_update_nothing(inbound: RuleSet, status: int, state: dict[str, Any],
                                      previous: int | None) -> None:
    assert_no_update(evaluate(inbound, status_event(status, previous), state))


@pytest.mark.parametrize("state", [IMPORTED, {**IMPORTED, "paid": True, "shipped": "partial"}],
                         ids=["billed", "partially-shipped"])
def test_cancelled_voids_an_imported_order(inbound: RuleSet, state: dict[str, Any]) -> None:
    assert names(evaluate(inbound, status_event(5, 11), state)) == ["void_order"]


@pytest.mark.parametrize(("auto_close", "expected"), [
    (None, ["import_order", "mark_paid", "mark_packed"]),  # auto_close is off by default
    (False, ["import_order", "mark_paid", "mark_packed"]),
    (True, ["import_order", "mark_paid", "mark_packed", "close_order"]),
], ids=["default", "off", "on"])
@pytest.mark.parametrize("state", [None, NEW], ids=["no-state", "new"])
def test_completed_on_a_new_order(inbound: RuleSet, auto_close: bool | None,
                                  expected: list[str], state: dict[str, Any] | None) -> None:
    settings = None if auto_close is None else {"auto_close": auto_close}
    assert names(evaluate(inbound, status_event(10, None), state, settings)) == expected


@pytest.mark.parametrize("auto_close", [None, False, True], ids=["default", "off", "on"])
@pytest.mark.parametrize("state", [IMPORTED, {**IMPORTED, "paid": True, "packed": True}],
                         ids=["billed", "packed"])
def test_completed_on_a_previously_imported_order_updates_nothing(
        inbound: RuleSet, auto_close: bool | None, state: dict[str, Any]) -> None:
    settings = None if auto_close is None else {"auto_close": auto_close}
    assert_no_update(evaluate(inbound, status_event(10, 2), state, settings))


SHIPMENT = {"id": 1, "order_id": 100, "order_address_id": 7, "tracking_number": "1Z999",
            "carrier": "ups", "items": [{"order_product_id": 5, "sku": "MUG-1", "quantity": 1}]}


@pytest.mark.parametrize("kind", ["shipment.created", "shipment.updated"])
@pytest.mark.parametrize("shipped", ["none", "partial"])
def test_a_store_shipment_is_recorded(inbound: RuleSet, kind: str, shipped: str) -> None:
    event = {"id": f"s-{kind}-1", "type": kind, "order_id": 100, "shipment": SHIPMENT}
    d = evaluate(inbound, event, {**IMPORTED, "paid": True, "shipped": shipped})
    assert names(d) == ["record_shipment"]


def test_a_shipped_status_alone_does_not_record_a_shipment(inbound: RuleSet) -> None:
    for status in (2, 3):
        d = evaluate(inbound, status_event(status, 9), {**IMPORTED, "paid": True})
        assert "record_shipment" not in names(d)


def test_default_auto_close_is_off(inbound: RuleSet) -> None:
    assert inbound.settings.get("auto_close") is False


def test_inbound_keys_are_event_scoped(inbound: RuleSet) -> None:
    d = evaluate(inbound, status_event(9), NEW)
    assert [a.key for a in d.actions] == [f"e-100-9:{d.matched[0]}:{n}" for n in names(d)]


# ---------------------------------------------------------------------------------------------
# every status 0-14 is named explicitly


def _named_statuses(when: Any) -> Iterator[int]:
    """Status ids a condition names for event.new_status_id (any depth, equals or in)."""
    if isinstance(when, list):
        for item in when:
            yield from _named_statuses(item)
    elif isinstance(when, dict):
        for key, value in when.items():
            if key == "event.new_status_id":
                if isinstance(value, int):
                    yield value
                elif isinstance(value, dict):
                    if isinstance(value.get("equals"), int):
                        yield value["equals"]
                    yield from (v for v in value.get("in", []) if isinstance(v, int))
            elif key in ("all", "any"):
                yield from _named_statuses(value)


def _rules_naming() -> dict[int, list[str]]:
    data = yaml.safe_load(INBOUND_FILE.read_text(encoding="utf-8"))
    out: dict[int, list[str]] = {}
    for rule in data["rules"]:
        for status in _named_statuses(rule.get("when", {})):
            out.setdefault(status, []).append(rule["id"])
    return out


@pytest.mark.parametrize("status", range(15))
def test_every_status_is_named_by_a_rule(status: int) -> None:
    assert _rules_naming().get(status), f"no inbound rule names status {status}"


@pytest.mark.parametrize("status", range(15))
@pytest.mark.parametrize("state", [NEW, IMPORTED], ids=["new", "imported"])
@pytest.mark.parametrize("auto_close", [False, True], ids=["off", "on"])
def test_every_status_is_decided_by_a_rule_that_names_it(
        inbound: RuleSet, status: int, state: dict[str, Any], auto_close: bool) -> None:
    d = evaluate(inbound, status_event(status), state, {"auto_close": auto_close})
    assert len(d.matched) == 1
    assert d.matched[0] in _rules_naming().get(status, []), (status, d.matched)
    assert d.actions or d.no_update  # an action, or an explicit reason for doing nothing


def test_no_inbound_rule_is_a_catch_all() -> None:
    data = yaml.safe_load(INBOUND_FILE.read_text(encoding="utf-8"))
    assert all("event.type" in rule.get("when", {}) for rule in data["rules"])


def test_an_unknown_status_id_is_not_guessed(inbound: RuleSet) -> None:
    d = evaluate(inbound, status_event(15), IMPORTED)
    assert d.actions == ()


# ---------------------------------------------------------------------------------------------
# outbound, ledger -> store

STATUS_PUSHES = {"order.paid": 11, "order.packed": 9, "order.closed": 10, "order.voided": 5}
OUT_TYPES = ["order.paid", "order.packed", "order.shipped", "order.closed", "order.voided",
             "order.refunded"]


def out_event(kind: str) -> dict[str, Any]:
    event: dict[str, Any] = {"id": f"l-{kind}-100", "type": kind, "order_id": 100}
    if kind == "order.shipped":
        event["shipment"] = {**SHIPMENT, "id": 42}
    return event


@pytest.mark.parametrize(("kind", "status_id"), sorted(STATUS_PUSHES.items()))
def test_push_on_sets_the_store_status(outbound: RuleSet, kind: str, status_id: int) -> None:
    d = evaluate(outbound, out_event(kind), IMPORTED, {"push_order_info": True})
    assert names(d) == ["set_store_status"]
    assert d.actions[0].params["status_id"] == status_id


def test_push_on_a_ledger_shipment_creates_a_store_shipment(outbound: RuleSet) -> None:
    d = evaluate(outbound, out_event("order.shipped"), IMPORTED, {"push_order_info": True})
    assert names(d) == ["create_store_shipment"]
    assert d.actions[0].key == f"l-order.shipped-100:{d.matched[0]}:create_store_shipment"


def test_push_on_a_refund_updates_nothing(outbound: RuleSet) -> None:
    assert_no_update(evaluate(outbound, out_event("order.refunded"), IMPORTED,
                              {"push_order_info": True}))


@pytest.mark.parametrize("kind", OUT_TYPES)
@pytest.mark.parametrize("settings", [None, {}, {"push_order_info": False}],
                         ids=["no-settings", "empty", "off"])
def test_push_off_sends_nothing(outbound: RuleSet, kind: str,
                                settings: dict[str, Any] | None) -> None:
    assert_no_update(evaluate(outbound, out_event(kind), IMPORTED, settings))


def test_default_push_order_info_is_off(outbound: RuleSet) -> None:
    assert outbound.settings.get("push_order_info") is False


@pytest.mark.parametrize("kind", OUT_TYPES)
def test_every_outbound_event_type_is_handled_with_push_on(outbound: RuleSet, kind: str) -> None:
    d = evaluate(outbound, out_event(kind), IMPORTED, {"push_order_info": True})
    assert len(d.matched) == 1 and (d.actions or d.no_update)


# -- the shipped files' content, known to pass the JSON Schema (rules.SCHEMA_CHECKED) --------------

RULESET_FILES = [INBOUND_FILE, OUTBOUND_FILE]


@pytest.mark.parametrize("path", RULESET_FILES, ids=lambda p: p.name)
def test_each_shipped_rule_file_passes_the_schema_and_its_hash_is_listed(path: Any) -> None:
    doc = read(str(path), path.read_text(encoding="utf-8"))
    assert doc.problems == [] and schema.problems(doc) == []
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest in rules.SCHEMA_CHECKED, (
        f"{path.name} changed: it passes the schema, so put its new SHA-256 {digest} in "
        "rules/__init__.py SCHEMA_CHECKED in place of the old one")


def test_only_the_shipped_files_hashes_are_listed() -> None:
    assert rules.SCHEMA_CHECKED == {hashlib.sha256(p.read_bytes()).hexdigest()
                                    for p in RULESET_FILES}


def test_only_other_content_gets_the_schema_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """One key more than the shipped file: the schema's error, not a rule set without it."""
    shipped = INBOUND_FILE.read_text(encoding="utf-8")
    edited = shipped.replace("\nrules:", "\nmystery: 1\nrules:", 1)
    assert [p.message for p in load_text("edited.yaml", edited).problems] == [
        "unknown key 'mystery' (known: version, name, description, direction, hit_policy, "
        "settings, rules)"]

    def no_schema(*args: Any) -> None:
        raise AssertionError("the shipped content went through the schema")

    monkeypatch.setattr(schema, "problems", no_schema)
    loaded = load_text(str(INBOUND_FILE), shipped)
    assert loaded.problems == [] and loaded.ruleset is not None
