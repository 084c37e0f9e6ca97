"""One CLI, one set of habits, checked through the installed `rulesync` command.

-v/-q on every command, help on every option, --json wherever data is printed, exit codes in
--help, RULESYNC_LOG_LEVEL by name, JSON error lines with --log-format json, and the commands
that read rules using the rules rulesync.yaml configures.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RULESYNC = str(Path(sys.executable).parent / "rulesync")
TYPO = ("[void_order]", "[void_ordr]")


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
    return subprocess.run([RULESYNC, *args], capture_output=True, text=True, cwd=cwd,
                          env={**clean, **env}, timeout=120, check=False)


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], str]:
    """`--help` of every command, walking the group listings of the real command."""
    found: dict[tuple[str, ...], str] = {}
    todo: list[tuple[str, ...]] = [()]
    while todo:
        path = todo.pop()
        r = run(*path, "--help")
        assert r.returncode == 0, (path, r.stderr)
        found[path] = r.stdout
        if "Commands:" in r.stdout:
            listing = r.stdout.split("Commands:", 1)[1].split("\n\n", 1)[0]
            todo += [(*path, m.group(1)) for m in re.finditer(r"^  (\S+)", listing, re.M)]
    return found


def test_every_command_takes_verbose_and_quiet_and_every_option_has_help(
        helps: dict[tuple[str, ...], str]) -> None:
    names = {" ".join(c) for c in helps}
    assert {"validate", "test", "eval", "plan", "apply", "explain", "orders list", "orders ship",
            "webhooks remove", "sandbox", "serve", "demo", "init"} <= names
    for path, text in helps.items():
        assert "-v, --verbose" in text and "-q, --quiet" in text, path
        assert ("--config FILE" in text) == (path[:1] not in {("sandbox",), ("demo",),
                                                              ("init",), ("connectors",)}), path
        options = text.split("Options:", 1)[1].split("Commands:", 1)[0].split("\n\n", 1)[0]
        for block in re.split(r"\n  (?=-)", "\n" + options.strip("\n"))[1:]:
            assert help_text(block), f"{' '.join(path)}: no help for {block!r}"


def help_text(entry: str) -> str:
    """The help of one option entry of click's help ("-x, --name TYPE  help  [default: 1]")."""
    first, *more = entry.strip("\n").splitlines()
    parts = re.split(r"\s{2,}", first.strip(), maxsplit=1)
    text = " ".join([parts[1] if len(parts) > 1 else "", *(line.strip() for line in more)])
    return re.sub(r"\[[^\]]*\]", "", text).strip()


def test_help_text_reads_click_entries() -> None:
    assert help_text("--limit INTEGER RANGE  [default: 50; x>=0]") == ""
    assert help_text("--limit INTEGER  At most this many.  [default: 50]") == "At most this many."
    assert help_text("--a-very-long-option-name TEXT\n    Help on the next line.") == \
        "Help on the next line."


DATA_COMMANDS = [("validate",), ("test",), ("eval",), ("plan",), ("apply",), ("explain",),
                 ("orders", "list"), ("orders", "show"), ("orders", "pay"), ("orders", "ship"),
                 ("webhooks", "register"), ("webhooks", "status"), ("webhooks", "remove"),
                 ("failures", "list"), ("failures", "retry"), ("failures", "forget")]


def test_every_command_that_prints_data_takes_json(helps: dict[tuple[str, ...], str]) -> None:
    for path in DATA_COMMANDS:
        assert re.search(r"--json\s+\S", helps[path]), path


def test_exit_codes_and_log_habits_are_in_the_main_help(helps: dict[tuple[str, ...], str]) -> None:
    out = helps[()]
    assert "Exit codes: 0 ok; 1 a user or data error" in out
    assert "2 usage" in out and "3 a bug in rulesync" in out
    assert "RULESYNC_LOG_LEVEL" in out


def test_verbose_and_quiet_go_before_or_after_the_command(tmp_path: Path) -> None:
    for args in (["-q", "validate"], ["validate", "-q"], ["-v", "validate"], ["validate", "-vv"]):
        r = run(*args, cwd=tmp_path)
        assert r.returncode == 0 and "ok: 2 rule file(s) valid" in r.stdout, (args, r.stderr)


def test_an_unknown_log_level_is_a_clear_error() -> None:
    r = run("validate", RULESYNC_LOG_LEVEL="LOUD")
    assert r.returncode == 1
    assert r.stderr.strip() == ("error: RULESYNC_LOG_LEVEL='LOUD' is not a log level "
                                "(known: DEBUG, INFO, WARNING, ERROR, CRITICAL)")


def test_log_format_json_makes_the_final_error_json(tmp_path: Path) -> None:
    r = run("--log-format", "json", "explain", "5", "--state", str(tmp_path / "none.sqlite"))
    assert r.returncode == 1
    line = json.loads(r.stderr)
    assert (line["level"], line["error"], line["exit_code"]) == ("ERROR", "error", 1)
    assert line["message"].startswith("no state at ")
    usage = run("--log-format", "json", "orders", "list", "--limit", "-1")
    assert usage.returncode == 2
    assert json.loads(usage.stderr)["error"] == "usage"


# -- issue: the configured rules, everywhere -----------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """`rulesync init p`, then a typo in the project's inbound rules."""
    r = run("init", "p", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    inbound = tmp_path / "p/rules/bigcommerce/inbound.yaml"
    inbound.write_text(inbound.read_text(encoding="utf-8").replace(*TYPO), encoding="utf-8")
    return tmp_path / "p"


def test_validate_checks_the_configured_rules(project: Path) -> None:
    for args, cwd, shown in ((["validate"], project, "rules/bigcommerce"),
                             (["--config", "rulesync.yaml", "validate"], project, "rules/bigcommerce"),
                             (["--config", "p/rulesync.yaml", "validate"], project.parent,
                              "p/rules/bigcommerce")):
        r = run(*args, cwd=cwd)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = r.stdout.splitlines()
        config = "p/rulesync.yaml" if "p/rulesync.yaml" in args else "rulesync.yaml"
        assert lines[0] == (f"checked {shown}/inbound.yaml, {shown}/outbound.yaml "
                            f"(the rules {config} configures)")
        assert lines[1].startswith(f"{shown}/inbound.yaml:") and "'void_ordr'" in lines[1]


def test_config_after_the_verb_means_what_it_means_before(project: Path) -> None:
    for verb in (["validate"], ["test"], ["test", "--json"]):
        before = run("--config", "p/rulesync.yaml", *verb, cwd=project.parent)
        after = run(*verb, "--config", "p/rulesync.yaml", cwd=project.parent)
        assert after.returncode == before.returncode == 1, (verb, after.stderr)
        assert (after.stdout, after.stderr) == (before.stdout, before.stderr)
        assert "p/rules/bigcommerce/inbound.yaml" in after.stdout + after.stderr
    (project / "other.yaml").write_text("version: 1\nstate: elsewhere/s.sqlite\n",
                                        encoding="utf-8")
    twice = run("--config", "p/rulesync.yaml", "validate", "--config", "p/other.yaml",
                cwd=project.parent)
    assert twice.returncode == 2
    assert "given twice, p/rulesync.yaml and p/other.yaml: give one" in twice.stderr
    for args in (["validate", "--config", "p/other.yaml", "--config", "p/rulesync.yaml"],
                 ["--config", "p/other.yaml", "--config", "p/rulesync.yaml", "validate"]):
        both = run(*args, cwd=project.parent)
        assert both.returncode == 2, (args, both.stderr)
        assert "given twice, p/other.yaml and p/rulesync.yaml: give one" in both.stderr
    same = run("--config", "p/rulesync.yaml", "validate", "--config", "p/../p/rulesync.yaml",
               cwd=project.parent)
    assert same.returncode == 1 and "'void_ordr'" in same.stdout, same.stderr
    for args in (["orders", "list", "--config", "p/other.yaml"],  # a verb of a group
                 ["orders", "--config", "p/other.yaml", "list"],
                 ["--config", "p/other.yaml", "orders", "list"]):
        nested = run(*args, cwd=project.parent)  # the state other.yaml names, beside it
        assert nested.returncode == 1, (args, nested.stderr)
        assert "no ledger at p/elsewhere/s.sqlite" in nested.stderr, (args, nested.stderr)


def test_test_runs_the_cases_beside_the_configured_rules(project: Path) -> None:
    r = run("test", cwd=project)
    assert r.returncode == 1
    assert r.stderr.startswith("error: rules/bigcommerce/inbound.tests.yaml tests "
                               "rules/bigcommerce/inbound.yaml, which is invalid: "
                               "rules/bigcommerce/inbound.yaml:")  # one problem: one line
    assert len(r.stderr.splitlines()) == 1
    assert "'void_ordr'" in r.stderr
    inbound = project / "rules/bigcommerce/inbound.yaml"
    inbound.write_text(inbound.read_text(encoding="utf-8").replace(*reversed(TYPO)),
                       encoding="utf-8")
    ok = run("test", "--json", cwd=project)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    assert report["checked"] == ["rules/bigcommerce/inbound.tests.yaml",
                                 "rules/bigcommerce/outbound.tests.yaml"]
    assert report["source"] == "the rules rulesync.yaml configures"
    assert report["failed"] == 0 and report["passed"] == len(report["cases"]) > 40


def test_test_reports_an_invalid_rule_file_in_json_and_github_like_validate(
        project: Path) -> None:
    """Not a bare stderr line: the problem at the rule file's position, as `validate` has it,
    and the cases of the test file that could run."""
    found = json.loads(run("validate", "--json", cwd=project).stdout)["problems"]
    r = run("test", "--json", cwd=project)
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert report["problems"] == found and len(found) == 1
    assert report["passed"] == len(report["cases"]) > 0 and report["failed"] == 0
    assert {c["file"] for c in report["cases"]} == {"rules/bigcommerce/outbound.tests.yaml"}
    gh = run("test", "--format", "github", cwd=project)
    assert gh.returncode == 1, gh.stderr
    errors = [x for x in gh.stdout.splitlines() if x.startswith("::error ")]
    where = f"file={found[0]['file']},line={found[0]['line']},col={found[0]['col']}"
    assert errors == [f"::error {where},title=rulesync test::{found[0]['path']}: "
                      f"{found[0]['message']}"]
    assert gh.stdout.splitlines()[-1] == "1 test file(s) not run: 1 problem(s)"
    given = run("test", "--json", "rules/bigcommerce/outbound.yaml", cwd=project)
    assert given.returncode == 1
    assert json.loads(given.stdout)["problems"][0]["message"].startswith(
        "a rule file, not a test file: ")


def test_eval_uses_the_configured_rules_and_settings(project: Path) -> None:
    (project / "ev.json").write_text(json.dumps(
        {"type": "order.status_changed", "order_id": 1, "previous_status_id": 0,
         "new_status_id": 10}), encoding="utf-8")
    broken = run("eval", "ev.json", cwd=project)
    assert broken.returncode == 1 and "'void_ordr'" in broken.stderr
    inbound = project / "rules/bigcommerce/inbound.yaml"
    inbound.write_text(inbound.read_text(encoding="utf-8").replace(*reversed(TYPO)),
                       encoding="utf-8")
    config = project / "rulesync.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("auto_close: false",
                                                                 "auto_close: true"))
    r = run("eval", "ev.json", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    decision = json.loads(r.stdout)
    assert decision["rules"]["file"] == "rules/bigcommerce/inbound.yaml"
    assert decision["matched"] == ["completed-new-auto-close"]  # auto_close from rulesync.yaml


def test_test_given_a_rule_file_says_so_in_one_line(project: Path) -> None:
    r = run("test", "rules/bigcommerce/outbound.yaml", cwd=project)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: rules/bigcommerce/outbound.yaml is a rule file, not a test file: `rulesync test` "
        "runs the cases of *.tests.yaml files (give one, or their folder); "
        "`rulesync validate rules/bigcommerce/outbound.yaml` checks a rule file"]


def test_test_given_two_rule_files_says_so_in_one_error_line_each(project: Path) -> None:
    r = run("test", "rules/bigcommerce/inbound.yaml", "rules/bigcommerce/outbound.yaml",
            cwd=project)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(x.startswith("error: rules/bigcommerce/") and
                                   "is a rule file, not a test file" in x for x in lines), lines


def test_test_formats_github_and_json(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    r = run("init", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0
    tests = rules / "bigcommerce/inbound.tests.yaml"
    text = tests.read_text(encoding="utf-8")
    tests.write_text(text.replace("expect: {rule: awaiting-payment,",
                                  "expect: {rule: awaiting-fulfillment,", 1), encoding="utf-8")
    gh = run("test", "--format", "github", cwd=tmp_path)
    assert gh.returncode == 1
    errors = [x for x in gh.stdout.splitlines() if x.startswith("::error ")]
    assert len(errors) == 1
    assert errors[0].startswith("::error file=rules/bigcommerce/inbound.tests.yaml,line=")
    assert "expected rule 'awaiting-fulfillment'" in errors[0]
    assert gh.stdout.splitlines()[-2].endswith(" passed, 1 failed")
    conflict = run("test", "--json", "--format", "text", cwd=tmp_path)
    assert conflict.returncode == 2 and "disagree" in conflict.stderr


def test_eval_state_is_the_sqlite_state_and_the_json_input_is_order_state(tmp_path: Path) -> None:
    (tmp_path / "ev.json").write_text('{"type": "order.paid", "order_id": 1}')
    (tmp_path / "st.json").write_text('{"imported": true}')
    r = run("eval", "ev.json", "--state", "st.json", cwd=tmp_path)
    assert r.returncode == 2
    assert "--state is the SQLite state file in every command; give the order's JSON state " \
           "with --order-state" in r.stderr
    assert run("eval", "ev.json", "--order-state", "st.json", cwd=tmp_path).returncode == 0


COMMANDS = [
    ("explain", "ID"), ("orders", "show", "ID"), ("orders", "pay", "ID"),
    ("orders", "ship", "ID", "--carrier", "ups", "--no-tracking"), ("failures", "retry", "ID"),
    ("failures", "forget", "ID"), ("orders", "list", "--limit", "ID"),
]


@pytest.mark.parametrize(("args", "value"), [
    (args, value) for args in COMMANDS for value in (str(2**63), "abc", "0")
    if not (value == "0" and "--limit" in args)],  # a limit of 0 is one
    ids=lambda a: " ".join(a[:2]) if isinstance(a, tuple) else a)
def test_a_number_too_large_for_the_ledger_is_a_usage_error(tmp_path: Path,
                                                           args: tuple[str, ...],
                                                           value: str) -> None:
    """SQLite holds 64-bit integers: a larger order id (or limit) is refused as the input it is,
    not met as an internal error when the query is made; so is one that is no order id."""
    from connectors.ledger import Ledger
    from engine.storage.state import SqlState

    state = tmp_path / "state.sqlite"
    SqlState(state).close()
    Ledger(state).close()
    raw = state.read_bytes()
    r = run(*(value if a == "ID" else a for a in args), "--state", str(state))
    assert r.returncode == 2, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    if "--limit" not in args:
        assert f"'{value}' is not an order id (a whole number from 1 to " in r.stderr, r.stderr
    else:
        assert f"{value!r} is not" in r.stderr or f"{value} is not" in r.stderr, r.stderr
    assert state.read_bytes() == raw
