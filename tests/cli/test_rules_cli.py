"""`rulesync validate | test | eval` as users type them: the installed command in a subprocess."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rules

RULESYNC = shutil.which("rulesync", path=str(Path(sys.executable).parent)) or "rulesync"
INBOUND = (rules.BIGCOMMERCE / "inbound.yaml").read_text(encoding="utf-8")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RULESYNC, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr


@pytest.fixture
def broken(tmp_path: Path) -> tuple[Path, int, int]:
    """A copy of the inbound rules with one unknown action; its file, line and column."""
    block_start = INBOUND.index("  - id: cancelled\n")
    i = INBOUND.index("actions: [void_order]", block_start) + len("actions: [")
    text = INBOUND[:i] + "void_ordr" + INBOUND[i + len("void_order"):]
    path = tmp_path / "inbound.yaml"
    path.write_text(text, encoding="utf-8")
    line = text.count("\n", 0, i) + 1
    return path, line, i - text.rfind("\n", 0, i)


# ---------------------------------------------------------------------------------------------
# validate


SHIPPED = [str(rules.BIGCOMMERCE / "inbound.yaml"), str(rules.BIGCOMMERCE / "outbound.yaml")]


def test_validate_the_shipped_rules(tmp_path: Path) -> None:
    r = run("validate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"checked {', '.join(SHIPPED)} (the shipped rules: no rulesync.yaml here)",
        "ok: 2 rule file(s) valid"]


def test_a_misspelt_field_of_the_order_or_shipment_is_a_warning_at_its_place(
        tmp_path: Path) -> None:
    """`event.order.customer_mesage` would fail every event it meets: `validate` says so where
    it is written, with the field meant; a warning (a store connector of one's own may add
    fields), an error under --strict. Fields of the normalized formats pass silently, and the
    whole-file checks still run."""
    anchor = INBOUND.index("actions: [import_order]", INBOUND.index("  - id: awaiting-payment\n"))
    note = ('actions: [import_order: {note: "{{ event.order.customer_message }} '
            '{{ event.order.customer_mesage }}"}]')
    text = INBOUND[:anchor] + note + INBOUND[anchor + len("actions: [import_order]"):]
    (tmp_path / "inbound.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "when.yaml").write_text(
        "version: 1\nname: when\ndirection: inbound\nrules:\n  - id: boxed\n"
        "    when: {event.type: shipment.created, event.shipment.trackng_number: X}\n"
        "    no_update: boxed\n  - id: rest\n    no_update: the rest\n"
        "  - id: never\n    when: {event.type: shipment.created}\n    no_update: never\n",
        encoding="utf-8")
    i = text.index('"{{ event.order')
    where = f"{text.count(chr(10), 0, i) + 1}:{i - text.rfind(chr(10), 0, i)}"
    r = run("validate", "inbound.yaml", cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 0, r.stdout + r.stderr
    (warned,) = [x for x in r.stdout.splitlines() if "warning:" in x]
    assert warned.startswith(f"inbound.yaml:{where}: "), (warned, where)
    assert "'event.order.customer_mesage' is no field of the normalized order" in warned
    assert warned.endswith("did you mean 'customer_message'?"), warned
    assert run("validate", "--strict", "inbound.yaml", cwd=tmp_path).returncode == 1
    # A dict's own method is no typo; a field named like one is read as the method in a
    # template, which is said; one place read twice is said once.
    methods = ('actions: [import_order: {note: "{{ event.order.get(\'coupon\', \'\') }} '
               '{{ event.order.keys()|list|length }} {{ event.order.customer_mesage }} '
               '{{ event.order.customer_mesage }}"}]')
    (tmp_path / "inbound.yaml").write_text(
        INBOUND[:anchor] + methods + INBOUND[anchor + len("actions: [import_order]"):],
        encoding="utf-8")
    r = run("validate", "inbound.yaml", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.count("warning:") == 1, r.stdout
    assert "'event.order.customer_mesage' is no field" in r.stdout
    (tmp_path / "inbound.yaml").write_text(INBOUND.replace(
        "actions: [import_order]", 'actions: [import_order: {note: "{{ event.shipment.items }}"}]',
        1), encoding="utf-8")
    r = run("validate", "inbound.yaml", cwd=tmp_path)
    assert "'event.shipment.items' is the dict's method items() in a template: write " \
           "event.shipment['items'] for the field" in r.stdout, r.stdout
    r = run("validate", "when.yaml", cwd=tmp_path)
    assert r.returncode == 1, r.stdout  # the rule after a catch-all still can never fire
    assert "rule 'never' can never fire" in r.stdout, r.stdout
    (warned,) = [x for x in r.stdout.splitlines() if "warning:" in x]
    assert warned.startswith("when.yaml:6:"), warned
    assert "'event.shipment.trackng_number' is no field of the normalized shipment" in warned
    assert warned.endswith("did you mean 'tracking_number'?"), warned


def test_validate_from_another_directory_finds_the_packaged_rules(tmp_path: Path) -> None:
    r = run("validate", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout) == {"valid": True, "files": 2, "checked": SHIPPED,
                                    "source": "the shipped rules: no rulesync.yaml here",
                                    "problems": []}


def test_validate_an_invalid_file_text(broken: tuple[Path, int, int]) -> None:
    path, line, col = broken
    r = run("validate", str(path))
    assert r.returncode == 1
    checked, first, summary = r.stdout.strip().split("\n")
    assert checked == f"checked {path}"
    assert first.startswith(f"{path}:{line}:{col}: $.rules[")
    assert "unknown inbound action 'void_ordr'" in first
    assert summary == "1 problem(s) in 1 file(s)"
    no_traceback(r)


def test_validate_json(broken: tuple[Path, int, int]) -> None:
    path, line, col = broken
    r = run("validate", "--format", "json", str(path))
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert (report["valid"], report["files"], len(report["problems"])) == (False, 1, 1)
    (p,) = report["problems"]
    assert (p["file"], p["line"], p["col"]) == (str(path), line, col)
    assert p["path"].endswith(".actions[0]") and "void_ordr" in p["message"]


def test_validate_github_annotations(broken: tuple[Path, int, int]) -> None:
    path, line, col = broken
    r = run("validate", "--format", "github", str(path))
    assert r.returncode == 1
    checked, annotation = r.stdout.splitlines()[:2]
    assert checked == f"checked {path}"
    assert annotation.startswith(f"::error file={path},line={line},col={col}")
    head, sep, message = annotation.partition("::$.rules[")
    assert sep and "unknown inbound action 'void_ordr'" in message


def test_validate_github_escapes_multiline_messages(tmp_path: Path) -> None:
    path = tmp_path / "cut.yaml"
    path.write_text(INBOUND[: INBOUND.index("event.new_status_id: 11}")], encoding="utf-8")
    r = run("validate", "--format", "github", str(path))
    assert r.returncode == 1
    annotations = [x for x in r.stdout.splitlines() if x.startswith("::error ")]
    assert len(annotations) == 1 and "YAML syntax error" in annotations[0]
    assert "%0A" in annotations[0]  # the snippet stays inside the one annotation


def test_validate_a_folder_reports_all_files(tmp_path: Path,
                                             broken: tuple[Path, int, int]) -> None:
    (tmp_path / "outbound.yaml").write_text(
        (rules.BIGCOMMERCE / "outbound.yaml").read_text(encoding="utf-8").replace(
            "version: 1", "version: 7"), encoding="utf-8")
    r = run("validate", str(tmp_path))
    assert r.returncode == 1
    lines = r.stdout.strip().split("\n")[1:]
    assert lines[-1] == "2 problem(s) in 2 file(s)"
    assert lines[0].startswith(str(broken[0])) and lines[1].startswith(str(tmp_path / "outbound"))
    assert "unknown version 7 (supported: 1)" in lines[1]


WIDE = ("version: 1\nname: wide\ndirection: inbound\nrules:\n  - id: wide\n    when: {"
        + ", ".join(f"event.order.customer.f{i}: {i}" for i in range(1500))
        + "}\n    no_update: wide\n  - id: rest\n    no_update: everything else\n")


def test_unfinished_whole_file_checks_are_a_warning_and_an_error_under_strict(
        tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text(WIDE, encoding="utf-8")
    lenient = run("validate", str(path))
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    _, warning, summary = lenient.stdout.strip().split("\n")
    assert warning.startswith(f"{path}:5:3: $.rules: warning: whole-file checks not finished: "
                              "rules that can never fire, completeness (")
    assert summary == "ok: 1 rule file(s) valid (1 warning(s))"
    github = run("validate", "--format", "github", str(path))
    assert github.returncode == 0 and github.stdout.splitlines()[1].startswith(
        f"::warning file={path},line=5,col=3,")
    strict = run("validate", "--strict", "--json", str(path))
    assert strict.returncode == 1, strict.stdout + strict.stderr
    report = json.loads(strict.stdout)
    assert report["valid"] is False
    assert [(p["severity"], p["line"]) for p in report["problems"]] == [("error", 5)]
    no_traceback(strict)


@pytest.mark.parametrize("args", [["--format", "xml"], ["no/such/file.yaml"]],
                         ids=["bad-format", "missing-path"])
def test_validate_usage_errors_exit_2(args: list[str]) -> None:
    r = run("validate", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Usage:" in r.stderr
    no_traceback(r)


# ---------------------------------------------------------------------------------------------
# test

TESTS = """\
version: 1
rules: inbound.yaml
cases:
  - name: seven imports
    event: {id: e-1, type: order.status_changed, order_id: 1,
            previous_status_id: 0, new_status_id: 7}
    expect: {rule: awaiting-payment, actions: [import_order]}
  - name: eleven is wrongly expected to do nothing
    event: {id: e-2, type: order.status_changed, order_id: 1,
            previous_status_id: 7, new_status_id: 11}
    expect: {no_update: true}
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "inbound.yaml").write_text(INBOUND, encoding="utf-8")
    (tmp_path / "inbound.tests.yaml").write_text(TESTS, encoding="utf-8")
    return tmp_path


def test_test_command_passes_the_shipped_cases() -> None:
    r = run("test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAIL" not in r.stdout and r.stdout.count("PASS ") > 0
    assert " 0 failed" in r.stdout


def test_test_command_reports_pass_fail_and_unexercised_rules(suite: Path) -> None:
    r = run("test", str(suite))
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout.splitlines()
    tests_file = suite / "inbound.tests.yaml"
    assert f"PASS {tests_file}:4: seven imports" in out
    assert f"FAIL {tests_file}:8: eleven is wrongly expected to do nothing" in out
    failure = out[out.index(f"FAIL {tests_file}:8: eleven is wrongly expected to do nothing") + 1]
    assert "expected no_update True" in failure and "import_order" in failure
    assert "1 passed, 1 failed" in out
    unexercised = next(x for x in out if x.startswith("rules no case exercised in "))
    assert "completed-new" in unexercised and "disputed" in unexercised
    assert "awaiting-payment" not in unexercised.split(": ", 1)[1].split(", ")
    assert "awaiting-fulfillment" not in unexercised.split(": ", 1)[1].split(", ")
    no_traceback(r)


def test_test_command_strict_fails_on_unexercised_rules_only(suite: Path) -> None:
    passing = TESTS.replace("expect: {no_update: true}",
                            "expect: {actions: [import_order, mark_paid]}")
    (suite / "inbound.tests.yaml").write_text(passing, encoding="utf-8")
    r = run("test", str(suite))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed, 0 failed" in r.stdout and "rules no case exercised in" in r.stdout
    strict = run("test", "--strict", str(suite))
    assert strict.returncode == 1


def test_test_command_with_an_invalid_rule_file_is_a_clear_error(suite: Path) -> None:
    (suite / "inbound.yaml").write_text(INBOUND.replace("version: 1", "version: 4"),
                                        encoding="utf-8")
    r = run("test", str(suite))
    assert r.returncode == 1
    assert "unknown version 4" in r.stderr
    no_traceback(r)


def test_a_case_whose_event_the_sync_could_never_make_is_an_error_at_its_place(
        suite: Path) -> None:
    text = TESTS.replace("new_status_id: 11}", "new_status_id: 99}")
    (suite / "inbound.tests.yaml").write_text(text, encoding="utf-8")
    at = text.index("99}")  # the value is where it is said
    where = f"{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"
    r = run("test", str(suite))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{suite / 'inbound.tests.yaml'}:{where}: $.cases[1].event.new_status_id: " \
           "new_status_id must be a BigCommerce status id 0-14, not 99" in r.stdout + r.stderr, \
        r.stdout + r.stderr
    no_traceback(r)
    (suite / "inbound.tests.yaml").write_text(  # YAML reads a date: said, not a crash
        TESTS.replace("order_id: 1,\n            previous_status_id: 7",
                      "order_id: 2026-11-27,\n            previous_status_id: 7"),
        encoding="utf-8")
    r = run("test", str(suite))
    assert r.returncode == 1 and 'order_id must be an integer, not "2026-11-27"' in \
        r.stdout + r.stderr, r.stdout + r.stderr
    no_traceback(r)


# ---------------------------------------------------------------------------------------------
# eval


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


ELEVEN = {"id": "e-5-11", "type": "order.status_changed", "order_id": 5,
          "previous_status_id": 7, "new_status_id": 11}


def test_eval_text(tmp_path: Path) -> None:
    r = run("eval", str(write(tmp_path, "ev.json", ELEVEN)))
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == ("event:   order.status_changed order 5: "
                      "7 Awaiting Payment -> 11 Awaiting Fulfillment")
    assert "matched: awaiting-fulfillment" in out
    assert "action:  import_order  [key e-5-11:awaiting-fulfillment:import_order]" in out
    assert "action:  mark_paid  [key e-5-11:awaiting-fulfillment:mark_paid]" in out
    assert "  ✓ awaiting-fulfillment: matched" in out
    assert ("  - awaiting-payment: event.new_status_id is 11 Awaiting Fulfillment, "
            "wants equals 7 Awaiting Payment") in out


def test_eval_json(tmp_path: Path) -> None:
    r = run("eval", str(write(tmp_path, "ev.json", ELEVEN)), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["matched"] == ["awaiting-fulfillment"]
    assert [(a["action"], a["key"]) for a in d["actions"]] == [
        ("import_order", "e-5-11:awaiting-fulfillment:import_order"),
        ("mark_paid", "e-5-11:awaiting-fulfillment:mark_paid")]
    assert d["rules"]["version"] == 1 and len(d["rules"]["sha256"]) == 64
    assert len(d["trace"]) == INBOUND.count("\n  - id: ")
    assert [t["rule"] for t in d["trace"] if t["matched"]] == ["awaiting-fulfillment"]


def test_eval_state_and_set(tmp_path: Path) -> None:
    ten = {**ELEVEN, "id": "e-5-10", "new_status_id": 10}
    ev = str(write(tmp_path, "ten.json", ten))
    state = str(write(tmp_path, "state.json", {"imported": True, "billed": True}))
    r = run("eval", ev, "--order-state", state, "--json")
    assert json.loads(r.stdout)["actions"] == [] and json.loads(r.stdout)["no_update"]
    new = str(write(tmp_path, "new.json", {"imported": False}))
    r = run("eval", ev, "--order-state", new, "--set", "auto_close=true", "--json")
    assert [a["action"] for a in json.loads(r.stdout)["actions"]] == [
        "import_order", "mark_paid", "mark_packed", "close_order"]


def test_eval_outbound_with_push_on(tmp_path: Path) -> None:
    ev = str(write(tmp_path, "paid.json", {"id": "l-1", "type": "order.paid", "order_id": 5}))
    off = json.loads(run("eval", ev, "--json").stdout)
    assert off["actions"] == []
    on = json.loads(run("eval", ev, "--set", "push_order_info=true", "--json").stdout)
    assert [(a["action"], a["params"]["status_id"]) for a in on["actions"]] == [
        ("set_store_status", 11)]


def test_eval_unknown_setting_is_a_clear_error(tmp_path: Path) -> None:
    r = run("eval", str(write(tmp_path, "ev.json", ELEVEN)), "--set", "auto_clse=true")
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: --set: unknown setting 'auto_clse' (known: ")
    assert "auto_close" in r.stderr
    no_traceback(r)


@pytest.mark.parametrize(("value", "shown"), [("maybe", '"maybe"'), ("3", "3"),
                                              ("2026-01-01", '"2026-01-01"')])
def test_eval_a_setting_of_the_wrong_type_is_said_in_the_files_words(
        tmp_path: Path, value: str, shown: str) -> None:
    r = run("eval", str(write(tmp_path, "ev.json", ELEVEN)), "--set", f"auto_close={value}")
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == ("error: --set: setting 'auto_close' must be true or false like "
                                f"its default false, not {shown}"), r.stderr
    no_traceback(r)


@pytest.mark.parametrize("content", [
    '{"type": ', "", '{"type": "order.paid", "x": ' + "[" * 100000 + "]" * 100000 + "}",
    '{"type": "order.paid", "order_id": ' + "9" * 5000 + "}",
], ids=["cut", "empty", "nested-100000-deep", "5000-digit-number"])
def test_eval_malformed_event_json_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "ev.json"
    path.write_text(content, encoding="utf-8")
    r = run("eval", str(path))
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: cannot read event {path}")
    assert len(r.stderr.strip().splitlines()) == 1
    no_traceback(r)


@pytest.mark.parametrize("event", [
    [1, 2], {"type": "order.exploded", "order_id": 5}, {**ELEVEN, "order_id": "x"},
    {**ELEVEN, "new_status_id": 99}, {**ELEVEN, "previous_status_id": "7"},
    {"type": "order.status_changed", "order_id": 5}, {"type": "order.paid"}],
    ids=["list", "unknown-type", "order-id-text", "status-99", "previous-text", "no-new-status",
         "no-order-id"])
def test_eval_an_event_of_the_wrong_shape_is_a_clear_error(tmp_path: Path, event: object) -> None:
    r = run("eval", str(write(tmp_path, "ev.json", event)))
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stdout == ""
    no_traceback(r)


def test_eval_says_every_way_the_event_is_unlike_the_syncs(tmp_path: Path) -> None:
    r = run("eval", str(write(tmp_path, "ev.json", {**ELEVEN, "order_id": "x",
                                                     "new_status_id": 99})))
    assert r.returncode == 1
    assert r.stderr.strip() == (f"error: {tmp_path / 'ev.json'}: order_id must be an integer, "
                                'not "x"; new_status_id must be a BigCommerce status id 0-14, '
                                "not 99 (docs/formats.md, Events)"), r.stderr
    first = run("eval", str(write(tmp_path, "first.json", {**ELEVEN, "previous_status_id": None})))
    assert first.returncode == 0, first.stderr  # null: the first time rulesync sees the order


def test_eval_malformed_state_json_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "st.json").write_text("{imported: true}", encoding="utf-8")
    r = run("eval", str(write(tmp_path, "ev.json", ELEVEN)), "--order-state", str(tmp_path / "st.json"))
    assert r.returncode == 1 and r.stderr.startswith("error: cannot read state ")
    no_traceback(r)


def test_eval_set_with_a_value_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    value = "maybe"
    ten = {**ELEVEN, "id": "e-5-10", "new_status_id": 10}
    r = run("eval", str(write(tmp_path, "ev.json", ten)), "--set", f"auto_close={value}")
    assert r.returncode == 1
    assert "auto_close" in r.stderr
    no_traceback(r)


def test_eval_an_event_missing_what_a_template_needs_is_a_user_error(tmp_path: Path) -> None:
    ev = write(tmp_path, "shipped.json", {"id": "l-2", "type": "order.shipped", "order_id": 5})
    r = run("eval", str(ev), "--set", "push_order_info=true")
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: ") and "shipment" in r.stderr
    no_traceback(r)
