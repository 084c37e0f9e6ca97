"""The YAML reader refuses what would expand, nest or execute, at the exact place, as a problem.

One reader serves rule files, test files, rulesync.yaml and `--set` values, so these cases are
checked on the reader itself and through each of its users.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import config
from engine.language.loader import InvalidRules, load_file
from engine.language.problems import Problem
from engine.language.testcases import run as run_tests
from engine.language.yamldoc import MAX_ALIASED, MAX_DEPTH, decode, read

LAUGHS = "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefghi", "bcdefghij"))


def only(text: str) -> Problem:
    doc = read("f.yaml", text)
    assert len(doc.problems) == 1, doc.problems
    return doc.problems[0]


def test_chained_anchors_are_refused_at_the_alias_that_crosses_the_budget() -> None:
    assert len(LAUGHS) < 600  # ten chained anchors: 10**10 values once expanded
    p = only(LAUGHS)
    assert p.message.startswith(f"aliases expand this document by more than {MAX_ALIASED} values")
    # the levels of 10, 100 and 1000 values fit; an alias of the fourth level crosses the budget
    assert p.line == 5 and LAUGHS.splitlines()[4][p.col - 1:p.col + 1] == "*c"
    assert "\n" not in p.message


def test_aliases_within_the_budget_are_expanded_as_before() -> None:
    doc = read("f.yaml", "when: &w {event.type: order.paid}\nrules: [*w, *w]\n")
    assert doc.problems == []
    assert doc.data == {"when": {"event.type": "order.paid"},
                        "rules": [{"event.type": "order.paid"}, {"event.type": "order.paid"}]}


@pytest.mark.parametrize("text,line,col", [
    ("version: 1\nloop: &a [*a]\n", 2, 11),
    ("version: 1\nloop: &a {x: [1, {y: *a}]}\n", 2, 22),
], ids=["sequence", "nested-mapping"])
def test_an_alias_inside_its_own_anchor_is_refused(text: str, line: int, col: int) -> None:
    p = only(text)
    assert (p.line, p.col, p.path) == (line, col, "$")
    assert p.message == "alias *a refers to a value that contains it (the data would never end)"


@pytest.mark.parametrize("text", [
    "x: " + "[" * 400 + "]" * 400 + "\n",
    "x: " + "{not: " * 400 + "{a: 1}" + "}" * 400 + "\n",
    "d: &d " + "[" * 40 + "1" + "]" * 40 + "\ne: " + "[" * 40 + "*d" + "]" * 40 + "\n",
], ids=["sequences", "mappings", "through-an-alias"])
def test_nesting_deeper_than_the_limit_is_refused(text: str) -> None:
    p = only(text)
    assert p.message == f"the data nests deeper than {MAX_DEPTH} levels"
    assert p.line >= 1 and p.col > 1


@pytest.mark.parametrize("text,tag,col", [
    ("direction: !!python/name:os.system inbound\n", "!!python/name:os.system", 12),
    ("direction: !foo inbound\n", "!foo", 12),
    ("settings: !!python/object/apply:os.system {a: 1}\n", "!!python/object/apply:os.system", 11),
    ("rules: !!set {a, b}\n", "!!set", 8),
], ids=["python-name", "local", "python-object-mapping", "set"])
def test_tags_other_than_plain_data_are_refused_at_the_tag(text: str, tag: str, col: int) -> None:
    doc = read("f.yaml", text)
    (p,) = doc.problems
    assert (p.line, p.col) == (1, col)
    assert p.message == f"unsupported YAML tag '{tag}': only plain data is read here"


def test_a_refused_tag_is_one_problem_not_a_cascade(tmp_path: Path) -> None:
    path = tmp_path / "inbound.yaml"
    path.write_text("version: 1\nname: x\ndirection: !foo inbound\nrules:\n"
                    "  - {id: a, no_update: x}\n", encoding="utf-8")
    problems = load_file(path).problems
    assert [str(p) for p in problems][:1] == [
        f"{path}:3:12: $.direction: unsupported YAML tag '!foo': only plain data is read here"]
    assert all("direction" not in p.message for p in problems[1:])


def test_merge_keys_are_refused() -> None:
    p = only("base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n")
    assert (p.line, p.col, p.path) == (3, 3, "$.x")
    assert "merge keys ('<<') are not supported" in p.message


@pytest.mark.parametrize("text,start", [
    ("x: !!int 12abc\n", "cannot read '12abc' as !!int: invalid literal"),
    ("x: " + "9" * 5000 + "\n", "cannot read '9999999999"),
    ("x: !!float abc\n", "cannot read 'abc' as !!float"),
], ids=["bad-int", "5000-digits", "bad-float"])
def test_scalars_that_cannot_be_read_are_problems(text: str, start: str) -> None:
    p = only(text)
    assert (p.line, p.col) == (1, 4) and p.message.startswith(start)
    assert len(p.message) < 300


def test_a_control_character_is_located() -> None:
    p = only("version: 1\nname: a\x07b\n")
    assert (p.line, p.col) == (2, 8)
    assert p.message == "YAML error: unacceptable character #x0007: special characters are not allowed"


def test_bytes_that_are_not_utf8_are_located() -> None:
    text, problems = decode("f.yaml", "version: 1\n# café\n".encode("latin-1"))
    (p,) = problems
    assert text == "" and (p.line, p.col) == (2, 6)
    assert p.message == "not UTF-8: invalid continuation byte (byte 0xe9); save the file as UTF-8"


def test_a_rule_file_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "inbound.yaml"
    path.write_bytes(b"version: 1\nname: caf\xe9\n")
    (p,) = load_file(path).problems
    assert (p.line, p.col) == (2, 10) and p.message.startswith("not UTF-8")


@pytest.mark.parametrize("raw,where", [
    (b"version: 1\n# caf\xe9\n", ":2:6: $: not UTF-8"),
    (b"version: 1\nsettings: !!python/name:os.system {}\n", ":2:11: $.settings: unsupported YAML tag"),
    (b"version: 1\nsettings: &a {x: *a}\n", ":2:18: $: alias *a refers to a value that contains it"),
], ids=["latin-1", "tag", "self-reference"])
def test_the_configuration_is_read_by_the_same_reader(tmp_path: Path, raw: bytes, where: str) -> None:
    path = tmp_path / "rulesync.yaml"
    path.write_bytes(raw)
    with pytest.raises(InvalidRules) as caught:
        config.load(path, environ={})
    assert str(caught.value) == str(caught.value).splitlines()[0]  # one problem, one line
    assert str(caught.value).startswith(f"{path}{where}")


def test_test_files_are_read_by_the_same_reader(tmp_path: Path) -> None:
    path = tmp_path / "x.tests.yaml"
    path.write_text(LAUGHS, encoding="utf-8")
    report = run_tests([path])
    assert not report.results
    (p,) = report.problems
    assert p.file == str(path) and "aliases expand this document" in p.message
