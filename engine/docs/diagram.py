"""The ledger's states and the transitions the rules cause: as Mermaid source and as an SVG layout.

A ledger order is a set of flags (docs/ledger.md), so "state" here is the step of its usual life:
not imported → billed → paid → packed → shipped → closed, or void / refunded. Each inbound action
moves an order one step; within one rule the actions chain (import, then mark paid, ...), and the
first action of a rule starts from the step it normally follows. Outbound rules do not move the
ledger; they are shown as what a step pushes to the store.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.docs.words import Case
from engine.language.catalog import INBOUND, OUTBOUND

STATES: tuple[tuple[str, str], ...] = (
    ("not_imported", "not imported"), ("billed", "billed"), ("paid", "paid"),
    ("packed", "packed"), ("shipped", "shipped"), ("closed", "closed"), ("void", "void"),
    ("refunded", "refunded"))

# action -> (the steps it normally follows, the step it reaches). Void lists every step the
# ledger lets it leave (it refuses shipped and closed orders).
STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "import_order": (("not_imported",), "billed"),
    "mark_paid": (("billed",), "paid"),
    "mark_packed": (("paid",), "packed"),
    "record_shipment": (("packed",), "shipped"),
    "remove_shipment": (("shipped",), "packed"),
    "close_order": (("shipped",), "closed"),
    "void_order": (("billed", "paid", "packed"), "void"),
    "mark_refunded": (("paid",), "refunded"),
}

# The ledger step an outbound event reports.
PUSHED_FROM = {"order.paid": "paid", "order.packed": "packed", "order.shipped": "shipped",
               "order.closed": "closed", "order.voided": "void", "order.refunded": "refunded"}


@dataclass(frozen=True)
class Transition:
    number: int
    source: str
    target: str
    label: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Push:
    state: str
    label: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Diagram:
    states: tuple[tuple[str, str], ...]  # (id, label) of the steps shown
    transitions: tuple[Transition, ...]
    pushes: tuple[Push, ...]

    def label(self, state: str) -> str:
        return dict(STATES).get(state, state)

    def mermaid(self) -> str:
        lines = ["stateDiagram-v2"]
        lines += [f'    state "{label}" as {sid}' for sid, label in self.states if sid != label]
        if any(sid == "not_imported" for sid, _ in self.states):
            lines.append("    [*] --> not_imported")
        lines += [f"    {t.source} --> {t.target} : {_plain(t.label)}" for t in self.transitions]
        lines += [f"    note right of {p.state} : {_plain(p.label)}" for p in self.pushes]
        return "\n".join(lines)


def _plain(text: str) -> str:
    """Mermaid labels end at a line end and treat `;` and `#` specially; backticks mean nothing."""
    return text.replace("`", "").replace(";", ",").replace("#", "")


def diagram(cases: Iterable[tuple[str, Sequence[Case]]]) -> Diagram:
    edges: dict[tuple[str, str], dict[str, list[tuple[str, ...]]]] = {}
    rules: dict[tuple[str, str], list[str]] = {}
    pushes: list[Push] = []
    for direction, items in cases:
        for case in items:
            if direction == INBOUND:
                for edge in _steps(case):
                    edges.setdefault(edge, {}).setdefault(case.trigger, []).append(case.settings)
                    rules.setdefault(edge, []).append(case.rule.id)
            elif direction == OUTBOUND and case.rule.actions:
                settings = f" ({', '.join(case.settings)})" if case.settings else ""
                pushes += [Push(PUSHED_FROM[t], f"push → {case.outcome}{settings}", (case.rule.id,))
                           for t in case.event_types if t in PUSHED_FROM]
    transitions = tuple(Transition(n, src, dst, _label(edges[(src, dst)]),
                                   tuple(dict.fromkeys(rules[(src, dst)])))
                        for n, (src, dst) in enumerate(edges, 1))
    used = {t.source for t in transitions} | {t.target for t in transitions} | \
        {p.state for p in pushes}
    return Diagram(tuple(s for s in STATES if s[0] in used), transitions, tuple(pushes))


def _steps(case: Case) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    previous: str | None = None
    for action in case.rule.actions:
        if action.name not in STEPS:
            continue
        sources, target = STEPS[action.name]
        for source in (previous,) if previous else sources:
            out.append((source, target))
        previous = target
    return out


def _label(triggers: dict[str, list[tuple[str, ...]]]) -> str:
    """Each trigger once; with its settings when every rule behind it needs the same ones."""
    parts = []
    for trigger, settings in triggers.items():
        distinct = set(settings)
        only = next(iter(distinct)) if len(distinct) == 1 else ()
        parts.append(f"{trigger} ({', '.join(only)})" if only else trigger)
    return ", ".join(parts)
