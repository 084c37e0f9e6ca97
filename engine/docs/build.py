"""`rulesync docs`: the loaded rule sets as the help article's tables, one row per rule.

Everything here is derived from the rule model (and the rule file's positions, for the links);
words come from `docs_words`, the state diagram from `docs_diagram`, the text from the Jinja2
templates in `docs_render`. Nothing here prints or writes.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import rules as shipped
from engine.docs import words as words
from engine.docs.diagram import Diagram, diagram
from engine.language.catalog import INBOUND, OUTBOUND
from engine.language.conditions import Match
from engine.language.model import RuleSet
from engine.language.yamldoc import read


@dataclass(frozen=True)
class Row:
    trigger: str
    condition: str
    outcome: str
    no_update: bool
    rule_id: str
    description: str
    location: str  # "inbound.yaml:15"
    href: str  # a relative link with a line anchor, or "" when the file is outside the project


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    configured: str  # "" when the configuration leaves the default


@dataclass(frozen=True)
class Section:
    title: str
    name: str
    file: str
    href: str
    direction: str
    trigger_header: str
    outcome_header: str
    policy: str
    rows: tuple[Row, ...]
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class Document:
    sections: tuple[Section, ...]
    diagram: Diagram


@dataclass(frozen=True)
class Places:
    """Where files are shown from: paths relative to the project, links relative to the output."""

    project: Path  # the working directory: rule files inside it get links
    output: Path  # the directory the document is written to (the working directory for stdout)
    roots: tuple[Path, ...] = ()  # further roots to show paths from (the configuration's folder)

    def show(self, file: str) -> str:
        path = Path(file).resolve()
        inside = self._in_project(path)
        if inside:
            return inside.as_posix()
        for root in (*self.roots, shipped.ROOT.parent):
            if path.is_relative_to(root.resolve()):
                return path.relative_to(root.resolve()).as_posix()
        return Path(file).as_posix()

    def link(self, file: str, line: int | None = None) -> str:
        path = Path(file).resolve()
        if not self._in_project(path):
            return ""
        # Percent-encoded: a Markdown link destination ends at a space.
        href = quote(Path(os.path.relpath(path, self.output.resolve())).as_posix())
        return f"{href}#L{line}" if line else href

    def _in_project(self, path: Path) -> Path | None:
        """The path within the project; None outside it or inside an installed environment (a
        `.venv` in the project holds the shipped rules, which are not the project's files)."""
        if not path.is_relative_to(self.project.resolve()):
            return None
        inner = path.relative_to(self.project.resolve())
        hidden = any(p.startswith(".") or p in ("site-packages", "dist-packages")
                     for p in inner.parts[:-1])
        return None if hidden else inner


_ORDER = {INBOUND: 0, OUTBOUND: 1}


def build(rulesets: Iterable[RuleSet], settings: Mapping[str, Any], places: Places) -> Document:
    ordered = sorted(rulesets, key=lambda r: (_ORDER.get(r.direction, 2), r.file))
    sections, cases = [], []
    for ruleset in ordered:
        section, section_cases = _section(ruleset, settings, places)
        sections.append(section)
        cases.append((ruleset.direction, section_cases))
    return Document(tuple(sections), diagram(cases))


def _section(ruleset: RuleSet, settings: Mapping[str, Any], places: Places
             ) -> tuple[Section, list[words.Case]]:
    text = Path(ruleset.file).read_text(encoding="utf-8")
    doc = read(ruleset.file, text)  # the model keeps JSON paths; the document maps them to lines
    shown = places.show(ruleset.file)
    implied: tuple[Match, ...] = ()
    cases, rows = [], []
    for rule in ruleset.rules:
        case = words.case(rule, ruleset.direction, implied)
        implied += words.implied_by(rule, ruleset.hit_policy)
        line = doc.where(rule.where)[0]
        cases.append(case)
        rows.append(Row(case.trigger, ", ".join(case.conditions), case.outcome,
                        rule.no_update is not None, rule.id, " ".join(rule.description.split()),
                        f"{Path(shown).name}:{line}", places.link(ruleset.file, line)))
    labels = words.DIRECTIONS.get(ruleset.direction, words.DIRECTIONS[INBOUND])
    section = Section(
        title=labels["title"], name=ruleset.name, file=shown, href=places.link(ruleset.file),
        direction=ruleset.direction, trigger_header=labels["trigger"],
        outcome_header=labels["outcome"], policy=words.HIT_POLICIES.get(ruleset.hit_policy, ""),
        rows=tuple(rows), settings=_settings(ruleset, settings))
    return section, cases


def _settings(ruleset: RuleSet, configured: Mapping[str, Any]) -> tuple[Setting, ...]:
    return tuple(Setting(name, _yaml(default),
                         _yaml(configured[name]) if name in configured else "")
                 for name, default in ruleset.settings.items())


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

