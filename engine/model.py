"""The frozen model of a loaded rule set and the decisions the interpreter returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from engine.conditions import Node, Test
from engine.problems import Path

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class ActionTemplate:
    """One action of a rule: constant parameters plus templates rendered per event."""

    name: str
    params: Mapping[str, Any]
    templates: tuple[tuple[str, Callable[..., str]], ...]
    key_suffix: str
    where: Path


@dataclass(frozen=True, eq=False)
class Rule:
    id: str
    position: int
    when: Node | None
    actions: tuple[ActionTemplate, ...]
    no_update: str | None
    where: Path
    description: str = ""
    test: Test = field(default=lambda ev, st, se: True, compare=False, repr=False)


@dataclass(frozen=True)
class RuleSet:
    file: str
    name: str
    direction: str
    hit_policy: str
    settings: Mapping[str, Any]
    rules: tuple[Rule, ...]
    version: int
    content_hash: str
    # index: for each value of the index paths, the rules that may match, with their residual test
    index_paths: tuple[Callable[..., Any], ...] = field(default=(), compare=False, repr=False)
    index: Mapping[Any, Any] = field(default_factory=lambda: EMPTY, compare=False, repr=False)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


@dataclass(frozen=True, slots=True)
class PlannedAction:
    name: str
    params: Mapping[str, Any]
    rule_id: str
    key: str

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.name, "params": dict(self.params), "rule": self.rule_id,
                "key": self.key}


@dataclass(frozen=True, slots=True)
class RuleTrace:
    rule_id: str
    matched: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    event_id: str
    matched: tuple[str, ...]
    actions: tuple[PlannedAction, ...]
    no_update: tuple[str, ...]
    trace: tuple[RuleTrace, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "matched": list(self.matched),
            "actions": [a.as_dict() for a in self.actions],
            "no_update": list(self.no_update),
            "trace": [{"rule": t.rule_id, "matched": t.matched, "reason": t.reason}
                      for t in self.trace],
        }
