"""Geometry of the state diagram drawn as inline SVG (the HTML page fetches no script to draw it).

The steps stand in one column in their usual order; each transition is a bracket on the right
of the column, in its own lane (short ones nearest), carrying its number from the transitions
table; what a step pushes to the store is written beyond the lanes on the step's line.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.docs.diagram import Diagram, Transition

BOX_X, BOX_W, BOX_H, ROW = 10, 130, 30, 54
LANE0, LANE = 18, 22
CHAR = 6.6  # average width of a 12px sans-serif character, to size the canvas


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Arrow:
    number: int
    path: str
    badge_x: float
    badge_y: float


@dataclass(frozen=True)
class Note:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Svg:
    width: int
    height: int
    box_w: int
    box_h: int
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    notes: tuple[Note, ...]


def layout(diagram: Diagram) -> Svg:
    row = {sid: i for i, (sid, _) in enumerate(diagram.states)}
    top = lambda sid: 10 + row[sid] * ROW  # noqa: E731
    right = BOX_X + BOX_W
    by_span = sorted(diagram.transitions, key=lambda t: (abs(row[t.target] - row[t.source]),
                                                         t.number))
    ports = _ports(by_span, row)
    arrows = []
    for lane, t in enumerate(by_span):
        x = right + LANE0 + lane * LANE
        y1, y2 = top(t.source) + ports[(t.number, 0)], top(t.target) + ports[(t.number, 1)]
        path = f"M{right},{y1} H{x} V{y2} H{right + 2}"
        arrows.append(Arrow(t.number, path, x, (y1 + y2) / 2))
    notes_x = right + LANE0 + len(by_span) * LANE + 6
    notes: list[Note] = []
    per_state: dict[str, int] = {}
    for p in diagram.pushes:
        k = per_state[p.state] = per_state.get(p.state, -1) + 1
        notes.append(Note(notes_x, top(p.state) + 20 + k * 14, p.label))
    longest = max((len(n.text) for n in notes), default=0)
    height = 10 + len(diagram.states) * ROW
    return Svg(int(notes_x + longest * CHAR + 10), int(max(height, max(
        (n.y + 10 for n in notes), default=0))), BOX_W, BOX_H,
        tuple(Box(BOX_X, top(sid), label) for sid, label in diagram.states),
        tuple(arrows), tuple(notes))


def _ports(by_span: list[Transition], row: dict[str, int]) -> dict[tuple[int, int], float]:
    """Each end of each transition gets its own height on its box, so no two brackets share a
    horizontal stub; ends whose other box is higher sit higher, which keeps crossings few."""
    ends: dict[str, list[tuple[int, int, int, int]]] = {}
    for lane, t in enumerate(by_span):
        for end, (here, there) in enumerate(((t.source, t.target), (t.target, t.source))):
            up = row[there] < row[here]
            ends.setdefault(here, []).append((row[there], -lane if up else lane, t.number, end))
    ports: dict[tuple[int, int], float] = {}
    for items in ends.values():
        for i, (_, _, number, end) in enumerate(sorted(items), 1):
            ports[(number, end)] = round(BOX_H * i / (len(items) + 1), 1)
    return ports
