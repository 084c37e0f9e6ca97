"""Loading a rule file: read YAML with positions -> version -> schema -> model -> meaning checks."""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any

import rules
from engine.errors import RulesyncError
from engine.language import checks, conditions, schema
from engine.language.catalog import ACTIONS, EVENT_FIELDS, EVENT_TYPES, STATE_FIELDS, STATUS_PATHS, STATUSES
from engine.language.interpreter import build_index
from engine.language.model import ActionTemplate, Rule, RuleSet
from engine.language.problems import Path, Problem, sort
from engine.language.templates import (
    TemplateProblem,
    compile_expression,
    compile_template,
    is_template,
    unlisted,
)
from engine.language.yamldoc import Document, decode, read

TESTS_SUFFIXES = (".tests.yaml", ".tests.yml")
log = logging.getLogger("rulesync.rules")


class InvalidRules(RulesyncError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sort(problems)
        if len(self.problems) == 1:  # one problem is one line, `file:line:col: $.path: message`
            super().__init__(str(self.problems[0]))
        else:
            super().__init__(f"{len(problems)} problem(s):\n"
                             + "\n".join(map(str, self.problems)))


@dataclass
class Loaded:
    file: str
    ruleset: RuleSet | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # reported; the rule set still loads


def discover(paths: Iterable[str | FsPath]) -> list[FsPath]:
    """Rule files named directly, or every *.yaml under a directory (test-case files excluded)."""
    found: list[FsPath] = []
    for p in map(FsPath, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*.y*ml")
                            if f.suffix in (".yaml", ".yml") and not f.name.endswith(TESTS_SUFFIXES))
        else:
            found.append(p)
    return found


def load_file(path: str | FsPath) -> Loaded:
    path = FsPath(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        return Loaded(str(path), problems=[Problem(str(path), 1, 1, "$", f"cannot read: {e.strerror}")])
    text, problems = decode(str(path), raw)
    if problems:
        return Loaded(str(path), problems=problems)
    return load_text(str(path), text, hashlib.sha256(raw).hexdigest())


def load_text(file: str, text: str, content_hash: str = "") -> Loaded:
    content_hash = content_hash or hashlib.sha256(text.encode()).hexdigest()
    doc = read(file, text)
    if doc.data is None:  # a syntax error or an empty file: nothing more can be checked
        return Loaded(file, problems=doc.problems or [
            Problem(file, 1, 1, "$", "the file holds no rules (its document is null)")])
    bad_version = schema.check_version(doc)
    if bad_version:  # alone, unless the reader found why (a tag, a value it could not read)
        return Loaded(file, problems=sort(doc.problems + [bad_version]))
    # A shipped file's exact content is known to pass the schema (rules/__init__.py).
    problems = [] if content_hash in rules.SCHEMA_CHECKED else schema.problems(doc)
    if any(_FATAL.match(p.path) for p in problems):
        return Loaded(file, problems=sort(doc.problems + problems))
    # Rules the schema rejected are left out; the others still get their meaning checks, so one
    # run reports every problem of the file.
    skip = {int(m.group(1)) for p in problems if (m := _RULE.match(p.path))}
    ruleset = _Builder(doc, skip).build(content_hash)
    problems += doc.problems
    # Whole-set checks only on rules that are sound one by one, so one typo is one error (a
    # rule's warnings do not count).
    if all(p.severity == "warning" for p in problems):
        problems += checks.problems(ruleset, doc)
    warnings = [p for p in problems if p.severity == "warning"]
    errors = [p for p in problems if p.severity != "warning"]
    return Loaded(file, None if errors else ruleset, sort(errors), sort(warnings))


_FATAL = re.compile(r"^\$(\.(direction|settings|rules|hit_policy|name)(\.|$)|$|\.rules$)")
_RULE = re.compile(r"^\$\.rules\[(\d+)\]")


def load_rulesets(paths: Iterable[str | FsPath]) -> list[RuleSet]:
    """Every rule set under `paths`, or InvalidRules listing every problem of every file."""
    gone = [str(p) for p in paths if not FsPath(p).exists()]
    if gone:
        raise RulesyncError(f"rule path {gone[0]} does not exist")
    files = discover(paths)
    if not files:
        raise RulesyncError("no rule files found in " + ", ".join(map(str, paths)))
    loaded = [load_file(f) for f in files]
    problems = [p for item in loaded for p in item.problems]
    if problems:
        raise InvalidRules(problems)
    for warning in (w for item in loaded for w in item.warnings):
        log.warning("%s", warning)
    return [item.ruleset for item in loaded if item.ruleset]


class _Builder:
    """Builds the frozen model from schema-valid data, noting meaning problems on the document."""

    def __init__(self, doc: Document, skip: set[int] | None = None) -> None:
        self.doc = doc
        self.skip = skip or set()
        data: dict[str, Any] = doc.data  # type: ignore[assignment]
        self.data = data
        self.direction: str = data["direction"]
        self.settings = MappingProxyType(dict(data.get("settings", {})))

    def problem(self, where: Path, message: str, *, key: bool = False,
                severity: str = "error") -> None:
        self.doc.problems.append(self.doc.problem(where, message, key=key, severity=severity))

    def unlisted(self, rid: str, why: str | None, where: Path) -> None:
        if why is not None:
            self.problem(where, f"rule '{rid}': {why}", severity="warning")

    def build(self, content_hash: str) -> RuleSet:
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(self.data["rules"]):
            if i in self.skip:
                continue
            where: Path = ("rules", i)
            if item["id"] in seen:
                self.problem(where + ("id",), f"duplicate rule id '{item['id']}' "
                             f"(first used by rules[{seen[item['id']]}])")
            seen.setdefault(item["id"], i)
            rules.append(self.rule(item, i, where))
        candidates = build_index(rules, self.settings)
        return RuleSet(
            file=self.doc.file, name=self.data.get("name", FsPath(self.doc.file).stem),
            direction=self.direction, hit_policy=self.data.get("hit_policy", "first"),
            settings=self.settings, rules=tuple(rules), version=self.data["version"],
            content_hash=content_hash, candidates=candidates)

    def rule(self, item: dict[str, Any], i: int, where: Path) -> Rule:
        rid = item["id"]
        if ("actions" in item) == ("no_update" in item):
            self.problem(where, f"rule '{rid}': needs exactly one of 'actions' or 'no_update'")
        when = None
        if "when" in item:
            when = conditions.parse(item["when"], where + ("when",),
                                    lambda src, at: self.expression(rid, src, at))
            for m in conditions.matches(when):
                self.check_match(rid, m)
        actions = tuple(self.action(rid, a, where + ("actions", j))
                        for j, a in enumerate(item.get("actions", [])))
        return Rule(rid, i, when, tuple(a for a in actions if a), item.get("no_update"), where,
                    item.get("description", ""))

    def origin(self, where: Path) -> str:
        return "{}:{}:{}".format(self.doc.file, *self.doc.where(where))

    def expression(self, rid: str, source: str, where: Path) -> Any:
        notes: list[str] = []
        try:
            compiled = compile_expression(source, self.settings, self.origin(where), notes)
        except TemplateProblem as e:
            self.problem(where, f"rule '{rid}': {e}")
            return lambda **ctx: False
        for why in notes:
            self.unlisted(rid, why, where)
        return compiled

    def check_match(self, rid: str, m: conditions.Match) -> None:
        root, first = m.path.split(".")[:2]
        known = {"event": EVENT_FIELDS, "state": STATE_FIELDS, "settings": self.settings}[root]
        if first not in known:
            names = ", ".join(sorted(known)) or "none declared"
            self.problem(m.where, f"rule '{rid}': unknown {root} field '{first}' (known: {names})")
        self.unlisted(rid, unlisted(m.path.split(".")), m.where)
        values = m.value if isinstance(m.value, list) else [m.value]
        if m.path in STATUS_PATHS and m.op not in ("exists",):
            for v in values:
                if v is not None and (type(v) is not int or v not in STATUSES):
                    self.problem(m.where, f"rule '{rid}': unknown status id {v!r} "
                                 "(BigCommerce status ids are 0-14)")
        if m.path == "event.type" and m.op in ("equals", "in", "not_equals", "not_in"):
            for v in values:
                if v not in EVENT_TYPES[self.direction]:
                    self.problem(m.where, f"rule '{rid}': unknown {self.direction} event type "
                                 f"{v!r} (known: {', '.join(EVENT_TYPES[self.direction])})")

    def action(self, rid: str, item: Any, where: Path) -> ActionTemplate | None:
        name, params = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        params = params or {}
        spec = ACTIONS[self.direction].get(name)
        if spec is None:
            known = ", ".join(ACTIONS[self.direction])
            self.problem(where, f"rule '{rid}': unknown {self.direction} action '{name}' "
                         f"(known: {known})")
            return None
        for missing in sorted(spec.required - set(params)):
            self.problem(where, f"rule '{rid}': action '{name}' needs parameter '{missing}'")
        constants: dict[str, Any] = {}
        templates = []
        for key, value in params.items():
            at = where + (name, key)
            if key not in spec.params:
                self.problem(at, f"rule '{rid}': unknown parameter '{key}' of action '{name}' "
                             f"(known: {', '.join(spec.params)})", key=True)
            elif is_template(value):
                templates.append((key, self.template(rid, value, at)))
            elif not isinstance(value, spec.params[key]) or (
                    isinstance(value, bool) and spec.params[key] is not bool):
                self.problem(at, f"rule '{rid}': parameter '{key}' of action '{name}' must be "
                             f"{spec.params[key].__name__}, not {value!r}")
            elif key == "status_id" and value not in STATUSES:  # bool excluded above
                self.problem(at, f"rule '{rid}': unknown status id {value!r} "
                             "(BigCommerce status ids are 0-14)")
            else:
                constants[key] = value
        return ActionTemplate(name, MappingProxyType(constants), tuple(templates),
                              f":{rid}:{name}", where)

    def template(self, rid: str, source: str, where: Path) -> Any:
        notes: list[str] = []
        try:
            compiled = compile_template(source, self.settings, self.origin(where), notes)
        except TemplateProblem as e:
            self.problem(where, f"rule '{rid}': {e}")
            return lambda **ctx: ""
        for why in notes:
            self.unlisted(rid, why, where)
        return compiled
