"""Broken copies of the shipped rule files: every error is `file:line:col: $.path: message`.

Each case starts from the real shipped file and makes one small text edit; the expected line and
column are computed from where the edit landed in the new text, not written down by hand.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import rules
from engine.language.loader import InvalidRules, load_file, load_rulesets
from engine.language.problems import Problem

INBOUND = (rules.BIGCOMMERCE / "inbound.yaml").read_text(encoding="utf-8")
OUTBOUND = (rules.BIGCOMMERCE / "outbound.yaml").read_text(encoding="utf-8")
SOURCES = {"inbound": INBOUND, "outbound": OUTBOUND}


# ---------------------------------------------------------------------------------------------
# helpers


def position(text: str, needle: str, *, after: str = "", nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the `nth` occurrence of `needle` (after `after`) in `text`."""
    start = text.index(after) if after else 0
    i = text.index(needle, start)
    for _ in range(nth):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return line, col


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"edit anchor {old!r} is not unique in the shipped file"
    return text.replace(old, new)


def rule_index(text: str, rule_id: str) -> int:
    ids = re.findall(r"^  - id: (\S+)$", text, flags=re.M)
    return ids.index(rule_id)


def rule_block(text: str, rule_id: str) -> str:
    """The text of one rule, from its `- id:` line up to the next rule or the end."""
    m = re.search(rf"^  - id: {re.escape(rule_id)}\n(?:(?!  - id: ).*\n?)*", text, flags=re.M)
    assert m, rule_id
    return m.group(0)


def edit_rule(text: str, rule_id: str, old: str, new: str) -> str:
    """Replace `old` (once) inside one rule only, so edits elsewhere in the file do not matter."""
    block = rule_block(text, rule_id)
    assert block.count(old) == 1, f"edit anchor {old!r} is not unique in rule {rule_id!r}"
    return replace_once(text, block, block.replace(old, new))


@dataclass(frozen=True)
class Expected:
    line: int
    col: int
    path: str
    message: str  # the key part of the message; the problem's message must start with it


@dataclass(frozen=True)
class Broken:
    name: str
    base: str
    edit: Callable[[str], tuple[str, Expected]]


# ---------------------------------------------------------------------------------------------
# the edits


def duplicate_key(src: str) -> tuple[str, Expected]:
    text = replace_once(src, "hit_policy: first\n", "hit_policy: first\nhit_policy: first\n")
    first_line, _ = position(text, "hit_policy:")
    line, col = position(text, "hit_policy:", nth=1)
    return text, Expected(line, col, "$.hit_policy",
                          f"duplicate key 'hit_policy' (first defined at line {first_line})")


def unknown_key(src: str) -> tuple[str, Expected]:
    text = replace_once(src, "  - id: cancelled\n", "  - id: cancelled\n    priority: 2\n")
    i = rule_index(text, "cancelled")
    return text, Expected(*position(text, "priority: 2"), f"$.rules[{i}].priority",
                          "unknown key 'priority' (known: id, description, when, actions, "
                          "no_update)")


def version_99(src: str) -> tuple[str, Expected]:
    text = replace_once(src, "\nversion: 1\n", "\nversion: 99\n")
    return text, Expected(*position(text, "99", after="version:"), "$.version",
                          "unknown version 99 (supported: 1)")


def missing_version(src: str) -> tuple[str, Expected]:
    text = replace_once(src, "\nversion: 1\n", "\n")
    # The whole document is what lacks the key: the root mapping starts at its first key.
    return text, Expected(*position(text, "name:"), "$", "missing 'version' (supported: 1)")


def truncated(src: str) -> tuple[str, Expected]:
    # Cut inside the flow mapping of the second rule's `when`, so the YAML never closes it.
    anchor = "when: {event.type: order.status_changed, event.new_status_id: 11}"
    text = src[: src.index(anchor) + len("when: {event.type: order.status_changed, event.")]
    lines = text.split("\n")
    return text, Expected(len(lines), len(lines[-1]) + 1, "$",
                          "YAML syntax error: expected ',' or '}'")


def unknown_status(src: str) -> tuple[str, Expected]:
    text = edit_rule(src, "cancelled", "event.new_status_id: 5", "event.new_status_id: 15")
    i = rule_index(text, "cancelled")
    return text, Expected(*position(text, "15", after="  - id: cancelled\n"),
                          f"$.rules[{i}].when.event.new_status_id",
                          "rule 'cancelled': unknown status id 15 "
                          "(BigCommerce status ids are 0-14)")


def unknown_action(src: str) -> tuple[str, Expected]:
    text = edit_rule(src, "cancelled", "actions: [void_order]", "actions: [void_ordr]")
    i = rule_index(text, "cancelled")
    return text, Expected(*position(text, "void_ordr"), f"$.rules[{i}].actions[0]",
                          "rule 'cancelled': unknown inbound action 'void_ordr' (known: "
                          "import_order, mark_paid, mark_packed, record_shipment, "
                          "remove_shipment, close_order, "
                          "void_order, mark_refunded)")


def unknown_parameter(src: str) -> tuple[str, Expected]:
    old = "set_store_status: {status_id: 10}"
    text = edit_rule(src, "closed", old, "set_store_status: {status_id: 10, reason: late}")
    i = rule_index(text, "closed")
    # Like an unknown key, an unknown parameter is a typo in the key: point at the key.
    return text, Expected(*position(text, "reason: late"),
                          f"$.rules[{i}].actions[0].set_store_status.reason",
                          "rule 'closed': unknown parameter 'reason' of action 'set_store_status' "
                          "(known: note, status_id")


def wrong_type(src: str) -> tuple[str, Expected]:
    text = edit_rule(src, "cancelled", "actions: [void_order]", "actions: void_order")
    i = rule_index(text, "cancelled")
    return text, Expected(*position(text, "void_order", after="actions: void_order"),
                          f"$.rules[{i}].actions", "'void_order' is not of type 'array'")


def wrong_parameter_type(src: str) -> tuple[str, Expected]:
    text = edit_rule(src, "closed", "set_store_status: {status_id: 10}",
                     "set_store_status: {status_id: '10'}")
    i = rule_index(text, "closed")
    return text, Expected(*position(text, "'10'"),
                          f"$.rules[{i}].actions[0].set_store_status.status_id",
                          "rule 'closed': parameter 'status_id' of action 'set_store_status' "
                          "must be int, not '10'")


def duplicate_rule_id(src: str) -> tuple[str, Expected]:
    text = replace_once(src, "  - id: declined\n", "  - id: disputed\n")
    first = rule_index(text, "disputed")
    line, col = position(text, "  - id: disputed\n", nth=1)
    return text, Expected(line, col + len("  - id: "), f"$.rules[{first + 1}].id",
                          f"duplicate rule id 'disputed' (first used by rules[{first}])")


TEMPLATE = "({{ event.shipment.id }})"


def template_syntax(src: str) -> tuple[str, Expected]:
    text = edit_rule(src, "shipped", TEMPLATE, "({{ event.shipment.id })")
    i = rule_index(text, "shipped")
    return text, Expected(*position(text, '"Shipped from the ledger'),
                          f"$.rules[{i}].actions[0].create_store_shipment.comments",
                          "rule 'shipped': template syntax error")


def template_unknown_variable(src: str) -> tuple[str, Expected]:
    text = edit_rule(src, "shipped", TEMPLATE, "({{ shipment.id }})")
    i = rule_index(text, "shipped")
    return text, Expected(*position(text, '"Shipped from the ledger'),
                          f"$.rules[{i}].actions[0].create_store_shipment.comments",
                          "rule 'shipped': unknown variable 'shipment' "
                          "(known: event, state, settings)")


def expr_unknown_variable(src: str) -> tuple[str, Expected]:
    text = edit_rule(src, "declined", "event.new_status_id: 6}",
                     "event.new_status_id: 6, expr: 'order_total > 100'}")
    i = rule_index(text, "declined")
    return text, Expected(*position(text, "'order_total"), f"$.rules[{i}].when.expr",
                          "rule 'declined': unknown variable 'order_total' "
                          "(known: event, state, settings)")


SHADOWED = """\
  - id: awaiting-payment-again
    when: {event.type: order.status_changed, event.new_status_id: 7, state.paid: true}
    actions: [import_order]

"""


def shadowed(src: str) -> tuple[str, Expected]:
    # Inserted right after the rule that already takes every status-7 event.
    after = rule_block(src, "awaiting-payment")
    text = replace_once(src, after, after + SHADOWED)
    i = rule_index(text, "awaiting-payment-again")
    return text, Expected(*position(text, "id: awaiting-payment-again"), f"$.rules[{i}]",
                          "rule 'awaiting-payment-again' can never fire: 'awaiting-payment' "
                          "before it match every event it matches (hit policy first)")


def overlap_unique(src: str) -> tuple[str, Expected]:
    text = replace_once(src, "hit_policy: first", "hit_policy: unique")
    text = edit_rule(text, "declined", "event.new_status_id: 6}",
                     "event.new_status_id: {in: [6, 13]}}")
    i = rule_index(text, "disputed")
    return text, Expected(*position(text, "id: disputed"), f"$.rules[{i}]",
                          "rules 'declined' and 'disputed' both match (")


def incomplete_status(src: str) -> tuple[str, Expected]:
    text = replace_once(src, rule_block(src, "disputed"), "")
    return text, Expected(*position(text, "- id:", after="rules:"), "$.rules",
                          "incomplete: no rule handles status 13 Disputed")


def incomplete_event_type(src: str) -> tuple[str, Expected]:
    text = replace_once(src, rule_block(src, "shipment-deleted"), "")
    return text, Expected(*position(text, "- id:", after="rules:"), "$.rules",
                          "incomplete: no rule handles event type 'shipment.deleted'")


CASES = [
    Broken("duplicate-key", "inbound", duplicate_key),
    Broken("unknown-key", "inbound", unknown_key),
    Broken("version-99", "inbound", version_99),
    Broken("missing-version", "inbound", missing_version),
    Broken("truncated", "inbound", truncated),
    Broken("unknown-status", "inbound", unknown_status),
    Broken("unknown-action", "inbound", unknown_action),
    Broken("unknown-parameter", "outbound", unknown_parameter),
    Broken("wrong-type", "inbound", wrong_type),
    Broken("wrong-parameter-type", "outbound", wrong_parameter_type),
    Broken("duplicate-rule-id", "inbound", duplicate_rule_id),
    Broken("template-syntax", "outbound", template_syntax),
    Broken("template-unknown-variable", "outbound", template_unknown_variable),
    Broken("expr-unknown-variable", "inbound", expr_unknown_variable),
    Broken("shadowed-under-first", "inbound", shadowed),
    Broken("overlap-under-unique", "inbound", overlap_unique),
    Broken("incomplete-status", "inbound", incomplete_status),
    Broken("incomplete-event-type", "inbound", incomplete_event_type),
]


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Expected]]:
    """One folder of broken rule files, one per case, each beside what it must report."""
    folder = tmp_path_factory.mktemp("broken")
    out = {}
    for case in CASES:
        text, expected = case.edit(SOURCES[case.base])
        path = folder / f"{case.name}.yaml"
        path.write_text(text, encoding="utf-8")
        out[case.name] = (path, expected)
    return out


def _params() -> list[object]:
    return [pytest.param(c.name, id=c.name) for c in CASES]


@pytest.mark.parametrize("name", _params())
def test_broken_file_reports_one_located_problem(
        broken_dir: dict[str, tuple[Path, Expected]], name: str) -> None:
    path, want = broken_dir[name]
    problems = load_file(path).problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    (p,) = problems
    assert (p.file, p.line, p.col, p.path) == (str(path), want.line, want.col, want.path), str(p)
    assert p.message.startswith(want.message), p.message
    assert str(p).startswith(f"{path}:{want.line}:{want.col}: {want.path}: {want.message}")
    assert load_file(path).ruleset is None


def test_unknown_parameter_names_line_path_and_known_parameters(
        broken_dir: dict[str, tuple[Path, Expected]]) -> None:
    path, want = broken_dir["unknown-parameter"]
    (p,) = load_file(path).problems
    assert (p.line, p.path) == (want.line, want.path)
    assert p.message.startswith(want.message) and p.message.endswith(")")


def test_syntax_error_carries_a_snippet_pointing_at_the_cut(
        broken_dir: dict[str, tuple[Path, Expected]]) -> None:
    path, _ = broken_dir["truncated"]
    (p,) = load_file(path).problems
    first, *snippet = p.message.split("\n")
    assert first == "YAML syntax error: expected ',' or '}', but got '<stream end>'"
    assert any("event." in line for line in snippet)
    assert snippet[-1].strip() == "^"


def test_unique_overlap_names_an_example_case(
        broken_dir: dict[str, tuple[Path, Expected]]) -> None:
    path, _ = broken_dir["overlap-under-unique"]
    (p,) = load_file(path).problems
    assert "event.new_status_id=13 Disputed" in p.message
    assert p.message.endswith("but the hit policy is unique")


def test_the_shipped_files_themselves_are_valid() -> None:
    for name in ("inbound.yaml", "outbound.yaml"):
        loaded = load_file(rules.BIGCOMMERCE / name)
        assert loaded.problems == [] and loaded.ruleset is not None


def test_loading_the_folder_reports_every_file_sorted(
        broken_dir: dict[str, tuple[Path, Expected]]) -> None:
    folder = next(iter(broken_dir.values()))[0].parent
    with pytest.raises(InvalidRules) as caught:
        load_rulesets([folder])
    found = caught.value.problems
    assert {p.file for p in found} == {str(path) for path, _ in broken_dir.values()}
    assert found == sorted(found, key=lambda p: (p.file, p.line, p.col))
    text = str(caught.value)
    assert text.startswith(f"{len(found)} problem(s):\n")


# ---------------------------------------------------------------------------------------------
# several errors in one file


def _located(problems: list[Problem]) -> list[tuple[int, int, str]]:
    return [(p.line, p.col, p.path) for p in problems]


def test_several_meaning_errors_are_all_reported_sorted_by_position(tmp_path: Path) -> None:
    # Edits made from the bottom of the file up, so discovery order is the reverse of position.
    text = replace_once(INBOUND, "  - id: declined\n", "  - id: disputed\n")
    text = edit_rule(text, "cancelled", "actions: [void_order]", "actions: [void_ordr]")
    text = edit_rule(text, "awaiting-payment", "event.new_status_id: 7}",
                     "event.new_status_id: 70}")
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    problems = load_file(path).problems
    first = rule_index(text, "disputed")
    assert _located(problems) == [
        (*position(text, "70}"), "$.rules[0].when.event.new_status_id"),
        (*position(text, "void_ordr"), f"$.rules[{rule_index(text, 'cancelled')}].actions[0]"),
        (position(text, "  - id: disputed", nth=1)[0], 9, f"$.rules[{first + 1}].id"),
    ]
    assert [p.message.split(":")[0] for p in problems] == [
        "rule 'awaiting-payment'", "rule 'cancelled'",
        f"duplicate rule id 'disputed' (first used by rules[{first}])"]


def test_several_schema_errors_are_all_reported_sorted_by_position(tmp_path: Path) -> None:
    text = replace_once(INBOUND, "  - id: cancelled\n", "  - id: cancelled\n    prio: 2\n")
    text = replace_once(text, "hit_policy: first\n", "hit_policy: 3\n")
    text = replace_once(text, "name: bigcommerce-inbound", "name: 5")
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    problems = load_file(path).problems
    assert _located(problems) == [
        (*position(text, "5", after="name: "), "$.name"),
        (*position(text, "3", after="hit_policy: "), "$.hit_policy"),
        (*position(text, "prio: 2"), f"$.rules[{rule_index(text, 'cancelled')}].prio"),
    ]
    assert problems[0].message == "5 is not of type 'string'"
    assert problems[2].message.startswith("unknown key 'prio'")


def test_a_schema_error_does_not_hide_a_meaning_error_elsewhere(tmp_path: Path) -> None:
    text = replace_once(INBOUND, "hit_policy: first\n", "hit_policy: first\nhit_polcy: first\n")
    text = edit_rule(text, "cancelled", "actions: [void_order]", "actions: [void_ordr]")
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    problems = load_file(path).problems
    assert _located(problems) == [
        (*position(text, "hit_polcy"), "$.hit_polcy"),
        (*position(text, "void_ordr"), f"$.rules[{rule_index(text, 'cancelled')}].actions[0]"),
    ]


def test_a_duplicate_key_does_not_hide_an_unknown_key(tmp_path: Path) -> None:
    text = replace_once(INBOUND, "hit_policy: first\n", "hit_policy: first\nhit_policy: first\n")
    text = replace_once(text, "  - id: cancelled\n", "  - id: cancelled\n    prio: 2\n")
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    problems = load_file(path).problems
    assert [p.path for p in problems] == [
        "$.hit_policy", f"$.rules[{rule_index(text, 'cancelled')}].prio"]


# ---------------------------------------------------------------------------------------------
# single findings outside the table


def test_a_boolean_status_id_is_an_unknown_status(tmp_path: Path) -> None:
    text = edit_rule(INBOUND, "awaiting-payment", "event.new_status_id: 7}",
                     "event.new_status_id: true}")
    path = tmp_path / "bool.yaml"
    path.write_text(text, encoding="utf-8")
    problems = load_file(path).problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    assert (problems[0].line, problems[0].col) == position(text, "true}")
    assert "unknown status id True" in problems[0].message


def test_a_boolean_on_an_event_payload_path_can_match(tmp_path: Path) -> None:
    extra = ("  - id: refund-of-test-order\n"
             "    when: {event.type: order.refunded, event.order.is_test: true}\n"
             "    no_update: Test orders are never pushed.\n\n")
    text = replace_once(OUTBOUND, "  - id: refunded\n", extra + "  - id: refunded\n")
    path = tmp_path / "flag.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_file(path).problems == []


def test_version_is_checked_first_and_alone(tmp_path: Path) -> None:
    text = replace_once(INBOUND, "\nversion: 1\n", "\nversion: 2\n")
    text = edit_rule(text, "cancelled", "actions: [void_order]", "actions: [void_ordr]")
    text = replace_once(text, "hit_policy: first\n", "hit_policy: 3\n")
    path = tmp_path / "v2.yaml"
    path.write_text(text, encoding="utf-8")
    problems = load_file(path).problems
    assert [str(p) for p in problems] == [
        f"{path}:{position(text, '2', after='version:')[0]}:10: $.version: "
        "unknown version 2 (supported: 1)"]


def test_an_empty_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n", encoding="utf-8")
    assert [str(p) for p in load_file(path).problems] == [f"{path}:1:1: $: the file is empty"]
