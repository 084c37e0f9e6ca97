"""Reporters: turn results into text, JSON or GitHub Actions annotations. Only they format output."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.language.catalog import status_label
from engine.language.model import Decision, RuleSet
from engine.language.problems import Problem
from engine.language.testcases import Report


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


@dataclass(frozen=True)
class Checked:
    """Which files a command read, and why those: the files given, or the configured rules."""

    files: tuple[str, ...]
    source: str | None = None  # e.g. "the rules rulesync.yaml configures"; None: given as arguments

    def line(self) -> str:
        return f"checked {', '.join(self.files)}" + (f" ({self.source})" if self.source else "")

    def as_dict(self) -> dict[str, Any]:
        return {"checked": list(self.files), "source": self.source or "arguments"}


def _errors(problems: Sequence[Problem]) -> int:
    return sum(p.severity == "error" for p in problems)


def _problems_summary(problems: Sequence[Problem], checked: Checked) -> str:
    errors, warnings = _errors(problems), len(problems) - _errors(problems)
    also = f" ({warnings} warning(s))" if warnings else ""
    if not errors:
        return f"ok: {len(checked.files)} rule file(s) valid{also}"
    return f"{errors} problem(s) in {len(checked.files)} file(s){also}"


def problems_text(problems: Sequence[Problem], checked: Checked) -> str:
    return "\n".join([checked.line(), *map(str, problems), _problems_summary(problems, checked)])


def problems_json(problems: Sequence[Problem], checked: Checked) -> str:
    return json.dumps({"valid": not _errors(problems), "files": len(checked.files),
                       **checked.as_dict(), "problems": [p.as_dict() for p in problems]},
                      indent=2)


def _annotation(p: Problem, title: str) -> str:
    return (f"::{p.severity} file={_gh_escape(p.file, prop=True)},line={p.line},col={p.col},"
            f"title={title}::{_gh_escape(p.path + ': ' + p.message)}")


def problems_github(problems: Sequence[Problem], checked: Checked) -> str:
    lines = [_annotation(p, "rulesync validate") for p in problems]
    return "\n".join([checked.line(), *lines, _problems_summary(problems, checked)])


PROBLEM_REPORTERS: dict[str, Callable[[Sequence[Problem], Checked], str]] = {
    "text": problems_text, "json": problems_json, "github": problems_github}


def _test_summary(report: Report) -> list[str]:
    failed = len(report.failed)
    lines = [f"{len(report.results) - failed} passed, {failed} failed"]
    if report.unloadable:  # their rules were not exercised: no claim that every rule was
        lines.append(f"{len(report.unloadable)} test file(s) not run: "
                     f"{len(report.problems)} problem(s)")
    for file, ids in report.unexercised.items():
        lines.append(f"rules no case exercised in {file}: {', '.join(ids)}")
    if not report.unexercised and not report.unloadable:
        lines.append("every rule was exercised by at least one case")
    return lines


def tests_text(report: Report, source: str | None) -> str:
    lines = [Checked(tuple(report.files), source).line()]
    for r in report.results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'} {r.file}:{r.line}: {r.name}")
        lines += [f"     {f}" for f in r.failures]
    return "\n".join(lines + _test_summary(report))


def tests_json(report: Report, source: str | None) -> str:
    return json.dumps({"passed": len(report.results) - len(report.failed),
                       "failed": len(report.failed),
                       **Checked(tuple(report.files), source).as_dict(),
                       "cases": [{"file": r.file, "line": r.line, "name": r.name,
                                  "passed": r.passed, "failures": list(r.failures)}
                                 for r in report.results],
                       "unexercised": report.unexercised,
                       "problems": [p.as_dict() for p in report.problems]}, indent=2)


def tests_github(report: Report, source: str | None) -> str:
    lines = [Checked(tuple(report.files), source).line()]
    lines += [_annotation(p, "rulesync test") for p in report.problems]
    lines += [f"::error file={_gh_escape(r.file, prop=True)},line={r.line},title=rulesync test::"
              + _gh_escape(f"{r.name}: " + "; ".join(r.failures)) for r in report.failed]
    lines += [f"::warning file={_gh_escape(file, prop=True)},title=rulesync test::"
              + _gh_escape(f"rules no case exercised: {', '.join(ids)}")
              for file, ids in report.unexercised.items()]
    return "\n".join(lines + _test_summary(report))


TEST_REPORTERS: dict[str, Callable[[Report, str | None], str]] = {
    "text": tests_text, "json": tests_json, "github": tests_github}


def describe_event(event: Mapping[str, Any]) -> str:
    text = f"{event.get('type')} order {event.get('order_id')}"
    if "new_status_id" in event:
        text += (f": {status_label(event.get('previous_status_id'))} -> "
                 f"{status_label(event['new_status_id'])}")
    return text


def decision_text(ruleset: RuleSet, event: Mapping[str, Any], decision: Decision) -> str:
    lines = [f"event:   {describe_event(event)}",
             f"rules:   {ruleset.name} ({ruleset.file}, version {ruleset.version}, "
             f"sha256 {ruleset.content_hash[:12]}, hit policy {ruleset.hit_policy})",
             f"matched: {', '.join(decision.matched) or 'no rule'}"]
    for reason in decision.no_update:
        lines.append(f"no update: {reason}")
    for a in decision.actions:
        params = " ".join(f"{k}={v!r}" for k, v in a.params.items())
        lines.append(f"action:  {a.name} {params}".rstrip() + f"  [key {a.key}]")
    lines.append("trace:")
    lines += [f"  {'✓' if t.matched else '-'} {t.rule_id}: {t.reason}" for t in decision.trace]
    return "\n".join(lines)


def decision_json(ruleset: RuleSet, event: Mapping[str, Any], decision: Decision) -> str:
    return json.dumps({"rules": {"name": ruleset.name, "file": ruleset.file,
                                 "version": ruleset.version, "sha256": ruleset.content_hash},
                       **decision.as_dict()}, indent=2, default=str)
