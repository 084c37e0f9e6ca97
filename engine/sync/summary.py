"""What a sync run did (`Summary`: counts, actions with their outcomes, problems, failures for
the retry set, held ledger changes), and the rows a run records for its decisions and actions."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.language.catalog import OUTBOUND
from engine.language.effects import Outcome
from engine.language.model import Decision, RuleSet

COUNTED = {"done": None, "noop": "skipped", "conflict": "conflicts", "failed": "errors"}
PUSH = "push_order_info"  # the setting without which ledger changes are held, not pushed
HELD = "held"  # the decision outcome of a ledger change held back by PUSH being off


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def iso(epoch: float) -> str:
    """Seconds since the epoch as the UTC time the state and the reports show."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    actions: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Ledger changes held back while push_order_info is off: `new` in this run, and all those
    # waiting (`changes` on `orders`) for `apply --push-current`.
    held: dict[str, Any] = field(default_factory=lambda: {"setting": PUSH, "on": False,
                                                          "new": 0, "changes": 0, "orders": 0})
    # (order, direction, reason) of each failure in this run: the order goes to the retry set
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    retries: dict[str, int] = field(default_factory=lambda: {"waiting": 0, "due": 0})
    read: set[int] = field(default_factory=set)  # store orders read in this run
    recorded: set[tuple[int, str]] = field(default_factory=set)  # failures written this run

    def fail(self, order_id: int, direction: str, reason: str) -> None:
        reason = reason.removeprefix(f"order {order_id}: ")
        self.counts["errors"] += 1
        self.problems.append(f"order {order_id}: {reason}")
        self.failures.append((order_id, direction, reason))

    def failed_since(self, mark: int, order_id: int, direction: str) -> bool:
        return any(f[:2] == (order_id, direction) for f in self.failures[mark:])

    def as_dict(self) -> dict[str, Any]:
        keys = ("imported", "updated", "pushed", "skipped", "conflicts", "errors")
        return {**{k: self.counts[k] for k in keys}, "held": self.held,
                "retries": self.retries, "actions": self.actions, "problems": self.problems}


def counter(row: Mapping[str, Any], outcome: Outcome) -> str:
    if outcome.status != "done":
        return COUNTED[outcome.status] or "skipped"
    if row["direction"] == OUTBOUND:
        return "pushed"
    return "imported" if row["action"] == "import_order" else "updated"


def action_view(direction: str, event: Mapping[str, Any], action: dict[str, Any]
                 ) -> dict[str, Any]:
    return {"direction": direction, "order_id": event["order_id"], "event": event["type"],
            "event_id": event["id"], **action}


def decision_row(ruleset: RuleSet, event: Mapping[str, Any], decision: Decision, at: str,
                  outcome: str = "") -> dict[str, Any]:
    return {"order_id": event["order_id"], "direction": ruleset.direction,
            "event_id": decision.event_id, "event": json.dumps(event, default=str),
            "rules": ruleset.name, "rules_version": ruleset.version,
            "rules_sha256": ruleset.content_hash, "matched": json.dumps(decision.matched),
            "actions": json.dumps([a.as_dict() for a in decision.actions]),
            "no_update": json.dumps(decision.no_update),
            "outcome": outcome or ("no_update" if decision.no_update else "recorded"), "at": at}


def mark_pending(summary: Summary, pending: Mapping[str, str]) -> Summary:
    """Flag the actions an earlier `apply` recorded and did not finish (`pending_since`): what
    `plan` shows of them."""
    for action in summary.actions:
        if action.get("key") in pending:
            action["pending_since"] = pending[action["key"]]
    return summary
