"""The docs model: rules in the article's words, the state diagram and its SVG layout."""
from __future__ import annotations

from pathlib import Path

import pytest

import rules
from engine.docs.build import Document, Places, build
from engine.docs.render import md_cell, render
from engine.docs.svg import layout
from engine.language.loader import load_file
from engine.language.model import RuleSet

HEAD = "version: 1\nname: t\ndirection: {direction}\nhit_policy: {policy}\n" \
       "settings: {{{settings}: false, limit: 3}}\nrules:\n"
REST = "  - id: rest\n    no_update: the rest\n"  # keeps every test file complete


def write(folder: Path, body: str, direction: str = "inbound", policy: str = "collect") -> RuleSet:
    """A rule file on disk (the docs read its positions), loaded without problems."""
    settings = "auto_close" if direction == "inbound" else "push_order_info"
    path = folder / "t.yaml"
    path.write_text(HEAD.format(direction=direction, policy=policy, settings=settings) + body + REST,
                    encoding="utf-8")
    loaded = load_file(path)
    assert loaded.problems == [] and loaded.ruleset, loaded.problems
    return loaded.ruleset


def document(*rulesets: RuleSet) -> Document:
    return build(rulesets, {}, Places(project=Path.cwd(), output=Path.cwd()))


def first_row(folder: Path, body: str, direction: str = "inbound") -> tuple[str, str, str]:
    row = document(write(folder, body, direction)).sections[0].rows[0]
    return row.trigger, row.condition, row.outcome


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("when", "trigger", "condition"), [
    ("{event.type: order.status_changed, event.previous_status_id: {in: [7, 11]}}",
     "a status change",
     "from 7 Awaiting Payment or 11 Awaiting Fulfillment"),
    ("{event.new_status_id: {not_in: [5, 6]}}", "any store event",
     "`event.new_status_id` is none of 5 Cancelled or 6 Declined"),
    ("{state.paid: true, state.shipped: partial}", "any store event",
     "paid in the ledger, `state.shipped` is partial"),
    ("{state.void: {not_equals: true}}", "any store event", "not void in the ledger"),
    ("{settings.limit: {gte: 2}}", "any store event", "`limit` ≥ 2"),
    ("{event.shipment.tracking_number: {exists: false}}", "any store event",
     "`event.shipment.tracking_number` is not set"),
    ("{any: [{state.imported: true}, {settings.auto_close: true}]}", "any store event",
     "(imported before or `auto_close` on)"),
    ("{not: {event.new_status_id: 5}}", "any store event", "not (`event.new_status_id` is 5 Cancelled)"),
    ("{event.type: shipment.deleted, expr: \"event.order_id > 3\"}", "a shipment deleted",
     "`event.order_id > 3`"),
], ids=["previous", "not_in", "flags", "not_equals", "number", "exists", "any", "not", "expr"])
def test_conditions_in_words(folder: Path, when: str, trigger: str, condition: str) -> None:
    row = first_row(folder, f"  - id: r\n    when: {when}\n    actions: [mark_paid]\n")
    assert row[:2] == (trigger, condition)


def test_a_status_event_without_a_status_is_named_as_the_event(folder: Path) -> None:
    row = first_row(folder, "  - id: r\n    when: {event.type: order.status_changed}\n"
                    "    no_update: all of them\n")
    assert row == ("a status change", "", "no update: all of them")


def test_outbound_actions_in_words(folder: Path) -> None:
    row = first_row(folder, "  - id: r\n    when: {event.type: order.closed}\n    actions:\n"
                    "      - set_store_status: {status_id: 10, allow_downgrade: true}\n"
                    "      - create_store_shipment: {comments: \"{{ event.order_id }}\"}\n",
                    "outbound")
    assert row == ("Closed", "", "set the status to 10 Completed (even backwards), "
                   "create a shipment with its tracking for the items shipped")


def test_an_earlier_setting_only_rule_is_a_condition_of_the_later_rows(folder: Path) -> None:
    rs = write(folder, "  - id: push-off\n    when: {settings.push_order_info: false}\n"
               "    no_update: push is off\n"
               "  - id: paid\n    when: {event.type: order.paid}\n"
               "    actions: [{set_store_status: {status_id: 11}}]\n", "outbound", "first")
    rows = document(rs).sections[0].rows
    assert [(r.trigger, r.condition) for r in rows] == [
        ("any ledger change", "`push_order_info` off"),
        ("Paid", "`push_order_info` on"),
        ("any ledger change", "`push_order_info` on")]


def test_shipped_diagram() -> None:
    loaded = [load_file(rules.BIGCOMMERCE / f"{n}.yaml").ruleset for n in ("outbound", "inbound")]
    doc = build([r for r in loaded if r], {}, Places(Path.cwd(), Path.cwd()))
    assert [s.direction for s in doc.sections] == ["inbound", "outbound"]  # inbound first
    edges = {(t.source, t.target): t.label for t in doc.diagram.transitions}
    assert edges == {
        ("not_imported", "billed"): "7 Awaiting Payment, 11 Awaiting Fulfillment, "
                                    "9 Awaiting Shipment, 10 Completed",
        ("billed", "paid"): "11 Awaiting Fulfillment, 9 Awaiting Shipment, 10 Completed",
        ("paid", "packed"): "9 Awaiting Shipment, 10 Completed",
        ("packed", "shipped"): "Ship Items (a shipment created) / a shipment updated",
        ("shipped", "packed"): "a shipment deleted",
        ("billed", "void"): "5 Cancelled", ("paid", "void"): "5 Cancelled",
        ("packed", "void"): "5 Cancelled",
        # only the auto_close rule closes: its setting stays on the label
        ("packed", "closed"): "10 Completed (`auto_close` on)",
    }
    assert [(p.state, p.rules) for p in doc.diagram.pushes] == [
        ("paid", ("paid",)), ("packed", ("packed",)), ("shipped", ("shipped",)),
        ("closed", ("closed",)), ("void", ("voided",))]
    mermaid = doc.diagram.mermaid().splitlines()
    assert mermaid[:3] == ["stateDiagram-v2", '    state "not imported" as not_imported',
                           "    [*] --> not_imported"]
    assert "    packed --> closed : 10 Completed (auto_close on)" in mermaid
    assert "    note right of void : push → set the status to 5 Cancelled (push_order_info on)" \
        in mermaid
    assert "refunded" not in {s for s, _ in doc.diagram.states}  # no rule refunds


def test_svg_layout_gives_every_bracket_end_its_own_height() -> None:
    loaded = [load_file(rules.BIGCOMMERCE / f"{n}.yaml").ruleset for n in ("inbound", "outbound")]
    doc = build([r for r in loaded if r], {}, Places(Path.cwd(), Path.cwd()))
    svg = layout(doc.diagram)
    assert len(svg.boxes) == len(doc.diagram.states) and len(svg.arrows) == 9
    ends = []
    for arrow in svg.arrows:
        m, h1, v, h2 = arrow.path.split()
        ends += [m.split(",")[1], v[1:]]
        assert h1 == f"H{arrow.badge_x}"  # the bracket's lane is where its number sits
    assert len(ends) == len(set(ends))
    assert len({a.badge_x for a in svg.arrows}) == len(svg.arrows)  # one lane each
    assert svg.width > max(n.x for n in svg.notes)


def test_markdown_cells_stay_on_one_line() -> None:
    assert md_cell("a |b\n  c") == "a \\|b c"


def test_html_escapes_rule_text(folder: Path) -> None:
    rs = write(folder, "  - id: r\n    no_update: \"<b>never</b> & `x`\"\n")
    page = render(document(rs), "html")
    assert "no update: &lt;b&gt;never&lt;/b&gt; &amp; <code>x</code>" in page
    assert '<a href="t.yaml#L7">t.yaml:7</a>' in page


def test_links_only_to_the_projects_own_files(tmp_path: Path) -> None:
    places = Places(project=tmp_path, output=tmp_path / "site")
    assert places.link(str(tmp_path / "rules" / "in.yaml"), 3) == "../rules/in.yaml#L3"
    assert places.show(str(tmp_path / "rules" / "in.yaml")) == "rules/in.yaml"
    # rules installed in a virtualenv inside the project are not the project's files
    venv = tmp_path / ".venv" / "lib" / "site-packages" / "rules" / "in.yaml"
    assert places.link(str(venv), 3) == ""
    assert places.link(str(tmp_path.parent / "elsewhere.yaml"), 3) == ""
