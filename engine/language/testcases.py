"""`rulesync test`: run the test cases kept beside rule files (`*.tests.yaml`)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.language import schema
from engine.language.catalog import NOT_IMPORTED_STATE, event_problems
from engine.language.interpreter import evaluate
from engine.language.loader import TESTS_SUFFIXES, InvalidRules, load_file
from engine.language.model import Decision, RuleSet
from engine.language.problems import Problem, sort
from engine.language.yamldoc import decode, read


@dataclass(frozen=True)
class CaseResult:
    file: str
    line: int
    name: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


class NotRunnable(InvalidRules):
    """A test file whose cases cannot run although it is itself valid (it is a rule file, or
    the rule file it tests is invalid): one message saying so, and the problems, for reporters."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.args = (message,)


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the test files run, in order
    unexercised: dict[str, list[str]] = field(default_factory=dict)  # rule file -> rule ids
    unloadable: list[InvalidRules] = field(default_factory=list)  # test files that did not run

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def problems(self) -> list[Problem]:
        """Why test files did not run, each problem once (two test files may share a rule
        file), sorted by position."""
        return sort(dict.fromkeys(p for e in self.unloadable for p in e.problems))


def discover(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        found += sorted(f for f in p.rglob("*") if f.name.endswith(TESTS_SUFFIXES)) \
            if p.is_dir() else [p]
    return found


def beside(rule_paths: Iterable[str | Path]) -> list[Path]:
    """The test files that go with configured rule paths: a folder as is, a rule file's
    `NAME.tests.yaml` when there is one."""
    found: list[Path] = []
    for p in map(Path, rule_paths):
        if p.is_dir():
            found.append(p)
            continue
        found += [t for t in (p.with_name(p.stem + s) for s in TESTS_SUFFIXES) if t.is_file()]
    return found


def run(paths: Iterable[str | Path]) -> Report:
    """Run every case; a test file that cannot run (it, or the rule file it tests, is invalid)
    is recorded in `unloadable` and the others run."""
    report = Report()
    exercised: dict[str, set[str]] = {}
    rulesets: dict[str, RuleSet] = {}
    for file in discover(paths):
        report.files.append(str(file))
        try:
            ruleset, cases = _load(file)
        except InvalidRules as e:
            report.unloadable.append(e)
            continue
        rulesets[ruleset.file] = ruleset
        seen = exercised.setdefault(ruleset.file, set())
        for line, case in cases:
            result, decision = _run_case(str(file), line, ruleset, case)
            report.results.append(result)
            seen.update(decision.matched)
    for name, ruleset in rulesets.items():
        missing = [r.id for r in ruleset.rules if r.id not in exercised[name]]
        if missing:
            report.unexercised[name] = missing
    return report


def _load(file: Path) -> tuple[RuleSet, list[tuple[int, dict[str, Any]]]]:
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise InvalidRules([Problem(str(file), 1, 1, "$", f"cannot read: {e.strerror}")]) from None
    text, problems = decode(str(file), raw)
    doc = read(str(file), text)
    if not problems and _looks_like_rules(doc.data):  # the schema's complaints would be noise
        why = ("a rule file, not a test file: `rulesync test` runs the cases of *.tests.yaml "
               f"files (give one, or their folder); `rulesync validate {file}` checks a rule file")
        raise NotRunnable(f"{file} is {why}", [Problem(str(file), 1, 1, "$", why)])
    problems = problems or doc.problems \
        or [p for p in [schema.check_version(doc, "a test file")] if p] \
        or schema.problems(doc, "tests")
    data: dict[str, Any] = doc.data  # type: ignore[assignment]
    # An event unlike any the sync makes (a status id 99) would test nothing real.
    problems = problems or [
        doc.problem(("cases", i, "event", *([key] if key in case["event"] else [])), why)
        for i, case in enumerate(data["cases"]) for key, why in event_problems(case["event"])]
    if problems:
        raise InvalidRules(problems)
    loaded = load_file(file.parent / data["rules"])
    if loaded.problems or not loaded.ruleset:
        raise NotRunnable(f"{file} tests {loaded.file}, which is invalid: "
                          + str(InvalidRules(loaded.problems)), loaded.problems)
    return loaded.ruleset, [(doc.where(("cases", i))[0], c) for i, c in enumerate(data["cases"])]


def _looks_like_rules(data: Any) -> bool:
    return isinstance(data, dict) and ("direction" in data or isinstance(data.get("rules"), list))


def _run_case(file: str, line: int, ruleset: RuleSet, case: dict[str, Any]
              ) -> tuple[CaseResult, Decision]:
    state = {**NOT_IMPORTED_STATE, **case.get("state", {})}
    decision = evaluate(ruleset, case["event"], state, case.get("settings", {}), trace=True)
    return CaseResult(file, line, case["name"], tuple(_compare(case["expect"], decision))), decision


def _compare(expect: dict[str, Any], decision: Decision) -> Iterable[str]:
    got = [a.name for a in decision.actions]
    if "rule" in expect and expect["rule"] not in decision.matched:
        yield f"expected rule '{expect['rule']}', matched {list(decision.matched) or 'none'}"
    if "no_update" in expect and bool(decision.no_update) != expect["no_update"]:
        yield (f"expected no_update {expect['no_update']}, got "
               f"{'no_update' if decision.no_update else 'actions ' + str(got)}")
    if "actions" in expect:
        wanted = [a if isinstance(a, str) else next(iter(a)) for a in expect["actions"]]
        if wanted != got:
            yield f"expected actions {wanted}, got {got}"
        else:
            for want, action in zip(expect["actions"], decision.actions):
                params = {} if isinstance(want, str) else next(iter(want.values())) or {}
                for key, value in params.items():
                    if action.params.get(key) != value:
                        yield (f"action '{action.name}': expected {key}={value!r}, "
                               f"got {action.params.get(key)!r}")
