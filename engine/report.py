"""Reporters: turn results into text, JSON or GitHub Actions annotations. Only they format output."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.catalog import status_label
from engine.model import Decision, RuleSet
from engine.problems import Problem
from engine.testcases import Report


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def problems_text(problems: Sequence[Problem], files: int) -> str:
    if not problems:
        return f"ok: {files} rule file(s) valid"
    return "\n".join(map(str, problems)) + f"\n{len(problems)} problem(s) in {files} file(s)"


def problems_json(problems: Sequence[Problem], files: int) -> str:
    return json.dumps({"valid": not problems, "files": files,
                       "problems": [p.as_dict() for p in problems]}, indent=2)


def problems_github(problems: Sequence[Problem], files: int) -> str:
    lines = [f"::error file={_gh_escape(p.file, prop=True)},line={p.line},col={p.col},"
             f"title=rulesync validate::{_gh_escape(p.path + ': ' + p.message)}" for p in problems]
    return "\n".join(lines + [problems_text([], files) if not problems
                              else f"{len(problems)} problem(s) in {files} file(s)"])


PROBLEM_REPORTERS: dict[str, Callable[[Sequence[Problem], int], str]] = {
    "text": problems_text, "json": problems_json, "github": problems_github}


def test_report(report: Report) -> str:
    lines = []
    for r in report.results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'} {r.file}:{r.line}: {r.name}")
        lines += [f"     {f}" for f in r.failures]
    failed = len(report.failed)
    lines.append(f"{len(report.results) - failed} passed, {failed} failed")
    for file, ids in report.unexercised.items():
        lines.append(f"rules no case exercised in {file}: {', '.join(ids)}")
    if not report.unexercised:
        lines.append("every rule was exercised by at least one case")
    return "\n".join(lines)


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
