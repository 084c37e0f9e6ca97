"""What executing one action can come to, and the contract action handlers follow."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class Outcome(NamedTuple):
    status: str  # done | noop | conflict | failed
    message: str = ""


DONE, NOOP = Outcome("done"), Outcome("noop")


@dataclass(frozen=True)
class ActionCall:
    """One outbox row handed to a handler: the action, its rendered params and its event."""

    key: str
    order_id: int
    action: str
    params: Mapping[str, Any]
    event: Mapping[str, Any]
    attempts: int  # > 1: an earlier attempt may have had its effect


Handler = Callable[[Any, ActionCall], Outcome]
