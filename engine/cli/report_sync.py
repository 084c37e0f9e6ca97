"""Reporters for plan, apply, explain and the ledger: plain tables for people, JSON for machines."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.sync.summary import Summary

SUMMARY_KEYS = ("imported", "updated", "pushed", "skipped", "conflicts", "errors")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [list(map(str, headers))] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


FLAGS = ("billed", "paid", "packed", "closed", "void", "refunded")


def ledger_table(orders: Iterable[Any], *, stores: bool = False) -> str:
    """The orders, one a row; `stores`: with a first column naming each order's store."""
    rows = []
    for o in orders:
        state = o.state()
        rows.append(((o.store,) if stores else ()) + (
            o.order_id, *("yes" if state[f] else "" for f in FLAGS), state["shipped"],
            "; ".join(o.warnings)))
    return table((*(("store",) if stores else ()), "order", *FLAGS, "shipped", "warnings"), rows)


def _params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


OUTCOME_WORDS = {"done": "do", "noop": "no change", "conflict": "conflict", "failed": "fail"}


def _outcome(action: Mapping[str, Any]) -> str:
    word = OUTCOME_WORDS.get(action.get("outcome", ""), action.get("outcome", ""))
    if action.get("outcome") in ("conflict", "failed") and action.get("message"):
        word += f": {action['message']}"
    if action.get("retry"):
        return word + " (retry of a failed order)"
    return word + (" (pending from an earlier run)" if "pending_since" in action else "")


def retries_line(summary: Summary) -> list[str]:
    """What waits in the retry set, if anything: never "in step" while an order does."""
    waiting, due = summary.retries["waiting"], summary.retries["due"]
    if not waiting:
        return []
    return [f"{waiting} order(s) wait for a retry ({due} due now): see `rulesync failures list`"]


def held_lines(held: Mapping[str, Any]) -> list[str]:
    """What became of ledger changes made while push_order_info was off: never a silent drop."""
    if not held.get("changes"):
        return []
    setting = held["setting"]
    what = (f"held: {held['changes']} ledger change(s) on {held['orders']} order(s) not pushed "
            f"to the store because {setting} {'was' if held.get('on') else 'is'} off")
    if held.get("new"):
        what += f" ({held['new']} in this run)"
    todo = ("run `rulesync apply --push-current` to push those orders' present state"
            if held.get("on") else
            f"turn {setting} on and run `rulesync apply --push-current` to push those orders' "
            "present state")
    return [what, f"  {todo}"]


def plan_text(summary: Summary) -> str:
    if not summary.actions:
        waiting = summary.retries["waiting"] or summary.held.get("changes")
        text = "no action planned" if waiting else "nothing to do: both sides are in step"
    else:
        text = table(("direction", "order", "event", "rule", "action", "params", "outcome"),
                     [(a["direction"], a["order_id"], a["event"], a["rule"], a["action"],
                       _params(a["params"]), _outcome(a)) for a in summary.actions])
        outcomes = Counter(OUTCOME_WORDS.get(a.get("outcome", ""), "?") for a in summary.actions)
        text += (f"\n{len(summary.actions)} action(s) planned: "
                 + ", ".join(f"{n} {word}" for word, n in outcomes.items()))
    return "\n".join([text, *held_lines(summary.held), *retries_line(summary),
                      *(f"problem: {p}" for p in summary.problems)])


def plan_json(summary: Summary) -> str:
    """The same document `apply --json` prints, for the run `apply` would make now."""
    return apply_json(summary)


def apply_text(summary: Summary) -> str:
    lines = [table(SUMMARY_KEYS, [[summary.counts[k] for k in SUMMARY_KEYS]])]
    lines += held_lines(summary.held)
    lines += retries_line(summary)
    lines += [f"problem: {p}" for p in summary.problems]
    return "\n".join(lines)


def apply_json(summary: Summary) -> str:
    return json.dumps(summary.as_dict(), indent=2, default=str)


def explain_text(order_id: int, decisions: list[dict[str, Any]], history: list[Any]) -> str:
    if not decisions and not history:
        return f"order {order_id}: no decision recorded"
    lines = [f"order {order_id}: {len(decisions)} decision(s)"]
    for d in decisions:
        lines.append(f"{d['at']}  {d['direction']}  {d['event']['type']}  [{d['event_id']}]")
        lines.append(f"    rules {d['rules']} v{d['rules_version']} sha256 {d['rules_sha256'][:12]}"
                     f" -> {', '.join(d['matched']) or 'no rule matched'}")
        lines += [f"    no update: {r}" for r in d["no_update"]]
        if d["outcome"].startswith("error"):
            lines.append(f"    {d['outcome']}")
        elif d["outcome"] == "held":
            lines.append("    held: not pushed because push_order_info was off "
                         "(`apply --push-current` pushes the order's present state)")
        for outcome in d["action_outcomes"]:
            if outcome:
                lines.append(f"    {outcome['action']}: {outcome['status']}"
                             + (f" ({outcome['outcome']})" if outcome["outcome"] else ""))
    if history:
        lines.append("ledger history:")
        lines += [f"    #{h.seq} {h.at} {h.kind} by {h.origin}" + (f": {h.note}" if h.note else "")
                  for h in history]
    return "\n".join(lines)


def explain_data(order_id: int, decisions: list[dict[str, Any]], history: list[Any]
                 ) -> dict[str, Any]:
    """What `explain` knows of an order: `explain --json` prints it, the status page shows it."""
    return {"order_id": order_id, "decisions": decisions,
            "history": [h.as_dict() for h in history]}


def explain_json(order_id: int, decisions: list[dict[str, Any]], history: list[Any]) -> str:
    return json.dumps(explain_data(order_id, decisions, history), indent=2, default=str)
