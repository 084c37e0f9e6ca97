"""The frozen model of a loaded rule set and the decisions the interpreter returns."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from engine.language.conditions import Node
from engine.language.problems import Path

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

    # Precomputed once so the interpreter's common case builds nothing but the decision.
    ids: tuple[str, ...] = field(init=False, repr=False, compare=False)
    reasons: tuple[str, ...] = field(init=False, repr=False, compare=False)
    templated: bool = field(init=False, repr=False, compare=False)
    plan: tuple[tuple[str, Mapping[str, Any], str, str], ...] = field(
        init=False, repr=False, compare=False)  # (name, params, rule id, key suffix) per action

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", (self.id,))
        object.__setattr__(self, "reasons", () if self.no_update is None else (self.no_update,))
        object.__setattr__(self, "templated", any(a.templates for a in self.actions))
        object.__setattr__(self, "plan", tuple((a.name, a.params, self.id, a.key_suffix)
                                               for a in self.actions))


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
    # (event, state, settings) -> the rules that may match, in order, with their residual tests
    candidates: Callable[..., Any] = field(default=lambda ev, st, se: (), compare=False,
                                           repr=False)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


# Decisions are NamedTuples: immutable like frozen dataclasses, but cheap to build on the hot path.
class PlannedAction(NamedTuple):
    name: str
    params: Mapping[str, Any]
    rule_id: str
    key: str

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.name, "params": dict(self.params), "rule": self.rule_id,
                "key": self.key}


class RuleTrace(NamedTuple):
    rule_id: str
    matched: bool
    reason: str


class Decision(NamedTuple):
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
