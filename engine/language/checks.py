"""Static checks over a whole rule set: rules that can never fire, overlaps, incompleteness.

Instead of enumerating the product of all tested paths, each question is a depth-first search over
engine.language.checkspace that assigns one path at a time, in classes of values the rules cannot tell
apart, and stops a branch as soon as the rules it is about are decided, so only the paths those
rules test are ever split. An `expr` counts as "cannot tell", so it never produces a false alarm.
The searches share a budget; a rule set that exhausts it gets a warning naming the checks that did
not finish (an error under `validate --strict`), never silence.
"""
from __future__ import annotations

import itertools

from engine.language.catalog import status_label
from engine.language.checkspace import FRESH, MAX_STEPS, STATUS, TYPE, Assignment, OutOfSteps, Space
from engine.language.conditions import MISSING
from engine.language.model import RuleSet
from engine.language.problems import Problem
from engine.language.yamldoc import Document


def problems(ruleset: RuleSet, doc: Document) -> list[Problem]:
    found: list[Problem] = []
    checks = [("rules that can never fire", _never), ("completeness", _incomplete)]
    if ruleset.hit_policy == "unique":
        checks.append(("overlaps", _overlaps))
    done = 0
    try:
        space = Space(ruleset)
        for _, check in checks:
            check(space, doc, found)
            done += 1
    except (OutOfSteps, RecursionError) as e:  # what was found so far stands; the rest is named
        unfinished = ", ".join(name for name, _ in checks[done:])
        why = f"more than {MAX_STEPS} steps" if isinstance(e, OutOfSteps) \
            else "conditions testing too many paths at once"
        found.append(doc.problem(("rules",), f"whole-file checks not finished: {unfinished} "
                                 f"({why}), so problems of those kinds may be missing: "
                                 "simplify the conditions or split the file",
                                 severity="warning"))
    return found


def _show(case: Assignment, skip: tuple[str, ...] = ()) -> str:
    parts = [f"{p}={status_label(v) if p.endswith('status_id') else repr(v)}"
             for p, v in case.items() if p not in skip and v is not MISSING and v != FRESH]
    return ", ".join(parts) or "any event"


# -- rules that can never match, or never fire under hit policy first -----------------------------

def _never(space: Space, doc: Document, found: list[Problem]) -> None:
    ruleset = space.ruleset
    for i, rule in enumerate(ruleset.rules):
        cells = [(asg, live) for asg, live in space.cells if i in live]
        if not any(_possible(space, i, asg, live[i]) for asg, live in cells):
            found.append(doc.problem(rule.where, f"rule '{rule.id}' can never match: "
                                     "its condition contradicts itself"))
            continue
        if ruleset.hit_policy != "first":
            continue
        earlier = [(asg, live[i], {j: v for j, v in live.items() if j < i}) for asg, live in cells]
        if any(_reaches(space, i, asg, vi, dict.fromkeys(j for j, v in e.items() if v is None))
               for asg, vi, e in earlier if True not in e.values()):
            continue
        # Shadowed: a second, slower search names the rules that take its events.
        firsts: set[int] = set()
        for asg, vi, e in earlier:
            _covered(space, i, asg, vi, e, firsts)
        names = ", ".join(f"'{ruleset.rules[j].id}'" for j in sorted(firsts))
        found.append(doc.problem(rule.where, f"rule '{rule.id}' can never fire: {names} "
                                 "before it match every event it matches (hit policy first)"))


def _possible(space: Space, i: int, asg: Assignment, v: bool | None) -> bool:
    """Some event that rule i may match (an `expr` it cannot tell counts as a match)."""
    if v is not None:
        return v
    path = space.next_path(asg, [i])
    if path is None:
        return True
    return any(_possible(space, i, a, space.after(i, v, a, path))
               for a in space.split(asg, path, [i]))


def _reaches(space: Space, i: int, asg: Assignment, vi: bool | None,
             pending: dict[int, None]) -> bool:
    """Some event rule i may match and no earlier rule surely matches; `pending` are the
    earlier rules not decided yet (the others are false here)."""
    asking = ([i] if vi is None else []) + list(pending)
    path = space.next_path(asg, asking)
    if path is None:
        return True
    for a in space.split(asg, path, asking):
        vi_a = space.after(i, vi, a, path)
        if vi_a is False:
            continue
        still: dict[int, None] = {}
        for j in pending:
            v = space.after(j, None, a, path)
            if v is True:
                break
            if v is None:
                still[j] = None
        else:
            if _reaches(space, i, a, vi_a, still):
                return True
    return False


def _covered(space: Space, i: int, asg: Assignment, vi: bool | None,
             earlier: dict[int, bool | None], firsts: set[int]) -> bool:
    """Whether an earlier rule surely matches every event rule i may match (hit policy first);
    `firsts` collects, for each such event, the first earlier rule that matches it."""
    if vi is False:
        return True
    earlier = {j: v for j, v in earlier.items() if v is not False}
    first = min((j for j, v in earlier.items() if v is True), default=None)
    pending = [j for j, v in earlier.items() if v is None and (first is None or j < first)]
    asking = ([i] if vi is None else []) + pending
    path = space.next_path(asg, asking)
    if path is None:
        if first is None:
            return False  # an event reaches rule i
        firsts.add(first)
        return True
    relevant = {j: v for j, v in earlier.items() if first is None or j <= first}
    for a in space.split(asg, path, asking):
        after = {j: space.after(j, v, a, path) for j, v in relevant.items()}
        if not _covered(space, i, a, space.after(i, vi, a, path), after, firsts):
            return False
    return True


# -- incompleteness -------------------------------------------------------------------------------

def _incomplete(space: Space, doc: Document, found: list[Problem]) -> None:
    gaps: dict[str, Assignment] = {}
    for asg, live in space.cells:
        if True not in live.values():
            example = _gap(space, asg, list(live))
            if example is not None:
                gaps.setdefault(_gap_name(asg), example)
    found += [doc.problem(("rules",), f"incomplete: no rule handles {what} "
                          f"(e.g. {_show(case, (STATUS, TYPE))})")
              for what, case in gaps.items()]


def _gap_name(asg: Assignment) -> str:
    status = asg.get(STATUS, MISSING)
    return (f"status {status_label(status)}" if status is not MISSING
            else f"event type '{asg[TYPE]}'")


def _gap(space: Space, asg: Assignment, undecided: list[int]) -> Assignment | None:
    """An event no rule matches; `undecided` are the rules not known to be false here (an
    `expr` stays undecided, so it is never called a gap)."""
    path = space.next_path(asg, undecided)
    if path is None:
        return None if undecided else asg
    for a in space.split(asg, path, undecided):
        still = []
        for i in undecided:
            v = space.after(i, None, a, path)
            if v is True:
                break
            if v is None:
                still.append(i)
        else:
            example = _gap(space, a, still)
            if example is not None:
                return example
    return None


# -- overlaps under hit policy unique -------------------------------------------------------------

def _overlaps(space: Space, doc: Document, found: list[Problem]) -> None:
    rules = space.rules
    reported: set[tuple[int, int]] = set()
    for asg, live in space.cells:  # only rules that may both match in one cell can overlap
        for i, j in itertools.combinations(sorted(live), 2):
            space.step()
            if (i, j) in reported or not space.compatible(i, j):
                continue
            case = _both(space, i, j, asg, live[i], live[j])
            if case is not None:
                reported.add((i, j))
                a, b = rules[i], rules[j]
                found.append(doc.problem(b.where, f"rules '{a.id}' and '{b.id}' both match "
                                         f"({_show(case)}) but the hit policy is unique"))


def _both(space: Space, i: int, j: int, asg: Assignment, vi: bool | None, vj: bool | None
          ) -> Assignment | None:
    """An event that both rules surely match, or None."""
    if vi is False or vj is False:
        return None
    if vi is True and vj is True:
        return asg
    asking = [k for k, v in ((i, vi), (j, vj)) if v is None]
    path = space.next_path(asg, asking)
    if path is None:
        return None
    for a in space.split(asg, path, asking):
        case = _both(space, i, j, a, space.after(i, vi, a, path), space.after(j, vj, a, path))
        if case is not None:
            return case
    return None
