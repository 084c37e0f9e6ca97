"""The rule-file and configuration bad-input corpus (tests/badinput/rules/, tests/badinput/configs/)
through the real `rulesync` command, against a real sandbox store and a real state file.

Each file starts with comment lines saying what it must produce:

    # expect: a fragment of the one error it must be refused with
    # at: LINE:COL      where that error must point, in this file
    # run: validate | eval | test      (rule files; default validate)
    # event: {...}      the event for `run: eval`, as JSON
    # set: KEY=VALUE    a `--set` for `run: eval`

Rule files run through `rulesync validate` (or `eval`/`test`, for what only shows at evaluation
or in a test file) and, when they are to be refused at load, through `rulesync apply` with a
configuration naming them; configurations run through `rulesync plan` and `rulesync apply`. Every
run must exit 1 or 2 (never 3, "internal error") with `FILE:LINE:COL:` and the fragment in its
output, and leave the state file and the store as they were, though the store holds an order
waiting to be imported.

Every run gets RUN_TIMEOUT seconds: the 2 s the issue allows each entry plus start-up slack for a
shared, busy machine (the interpreter alone needs about a second there). The time each run took is
recorded in the test's user properties (`seconds`, written by --junitxml -o junit_family=xunit1);
no test asserts on it.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.acceptance_world import World, counts, order_body

HERE = Path(__file__).parent
RULES = sorted((HERE / "rules").glob("*.yaml"))
CONFIGS = sorted((HERE / "configs").glob("*.yaml"))
RUN_TIMEOUT = 10.0  # 2 s per entry + interpreter start-up on a loaded machine (see above)


@dataclass(frozen=True)
class Case:
    path: Path
    expect: str
    line: int
    col: int
    run: str = "validate"
    event: str = ""
    sets: tuple[str, ...] = field(default=())

    @property
    def place(self) -> str:
        return f"{self.path}:{self.line}:{self.col}:"


def case(path: Path) -> Case:
    head: dict[str, list[str]] = {}
    for raw in path.read_bytes().split(b"\n"):
        if not raw.startswith(b"# "):
            break
        key, _, value = raw[2:].decode("ascii").partition(": ")
        head.setdefault(key, []).append(value)
    line, col = map(int, head["at"][0].split(":"))
    return Case(path, head["expect"][0], line, col, head.get("run", ["validate"])[0],
                head.get("event", [""])[0], tuple(head.get("set", [])))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A state file with one imported order, and a store with one more waiting to be imported."""
    with World(tmp_path_factory.mktemp("corpus")) as w:
        w.create(order_body(7))
        w.tick()
        w.apply()
        w.create(order_body(11))
        w.tick()
        yield w


def fingerprint(w: World) -> dict[str, str]:
    """The bytes of every file in the world's folder (state file, write-ahead log, ...)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(w.dir.iterdir()) if p.is_file()}


def refused(w: World, c: Case, *args: str, node: pytest.Item) -> str:
    before = fingerprint(w)
    w.sb.reset_counts()
    started = time.monotonic()
    r = w.run(*args, timeout=RUN_TIMEOUT)
    seconds = round(time.monotonic() - started, 2)
    node.user_properties.append(("seconds", seconds))  # recorded, never asserted (see above)
    out = r.stdout + r.stderr
    assert r.returncode in (1, 2), f"exit {r.returncode} after {seconds} s\n{out}"
    assert "internal error" not in out and "Traceback" not in out, out
    assert c.place in out, f"{c.place} not in:\n{out}"
    assert c.expect in out, f"{c.expect!r} not in:\n{out}"
    assert fingerprint(w) == before
    assert w.writes() == {}
    return out


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.mark.parametrize("path", RULES, ids=_ids(RULES))
def test_a_bad_rule_file_is_refused_at_its_place(world: World, path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    c = case(path)
    if c.run == "eval":
        event = world.dir / "event.json"
        event.write_text(c.event, encoding="utf-8")
        sets = [a for s in c.sets for a in ("--set", s)]
        refused(world, c, "eval", str(event), "--rules", str(path), *sets,
                node=request.node)
    elif c.run == "test":
        refused(world, c, "test", str(path), node=request.node)
        assert not (world.dir / "owned").exists()  # no tag ever ran anything
    else:
        refused(world, c, "validate", str(path), node=request.node)


@pytest.mark.parametrize("path", [p for p in RULES if case(p).run == "validate"],
                         ids=_ids([p for p in RULES if case(p).run == "validate"]))
def test_a_bad_rule_file_stops_apply_before_anything_changes(
        world: World, path: Path, request: pytest.FixtureRequest) -> None:
    c = case(path)
    config = world.dir / "rulesync.yaml"
    config.write_text(f"version: 1\nrules: [{json.dumps(str(path))}]\n", encoding="utf-8")
    try:
        refused(world, c, "--config", str(config), "apply", "--state", str(world.state),
                node=request.node)
    finally:
        config.unlink()


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize("path", CONFIGS, ids=_ids(CONFIGS))
def test_a_bad_configuration_is_refused_at_its_place(
        world: World, path: Path, command: str, request: pytest.FixtureRequest) -> None:
    refused(world, case(path), "--config", str(path), command, "--state", str(world.state),
            node=request.node)


def test_the_corpus_covers_what_it_is_for() -> None:
    expected = {case(p).expect for p in RULES + CONFIGS}
    for fragment in ("aliases expand this document", "refers to a value that contains it",
                     "unsupported YAML tag '!!python/name:", "unsupported YAML tag '!foo'",
                     "nests deeper than 64 levels", "not UTF-8", "no rule handles status 5",
                     "characters or items", "an integer of about", "takes more than"):
        assert any(fragment in e for e in expected), fragment
    assert {case(p).run for p in RULES} == {"validate", "eval", "test"}
    assert all(p.stat().st_size < 4096 for p in RULES + CONFIGS if "5000" not in p.name)


def test_with_sound_input_the_same_runs_would_change_the_world(world: World) -> None:
    """An order waits to be imported, so "nothing changed" above means something."""
    assert counts(world.plan())["imported"] == 1
