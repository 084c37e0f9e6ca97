"""How far a sync run got, phase by phase, for whoever shows it (the CLI's bar or log lines).

The engine only counts: it names each phase of `Sync.run` as it starts, then reports each item
done. It never prints and never reads a clock; when to show what is the receiver's business.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol


class Phase(NamedTuple):
    noun: str  # one item: "store order"
    verb: str  # what was done to it: "read"
    estimate: bool = False  # the total is the store's estimate, not an exact count


PENDING = Phase("pending action", "finished")
RETRIES = Phase("failed order", "retried")
STORE_ORDERS = Phase("store order", "read", estimate=True)
LEDGER_CHANGES = Phase("ledger change", "handled")
HELD_ORDERS = Phase("held order", "pushed")


class Progress(Protocol):
    def phase(self, phase: Phase, total: int | None = None,
              count: Callable[[], int] | None = None) -> None:
        """A phase starts. `total`: its items, when known; `count`: asks the store for an
        estimate, a request the receiver makes only if it shows a total."""

    def step(self, done: int, total: int | None = None) -> None:
        """`done` items of the phase are done; `total`: a total learnt meanwhile."""


class Silent:
    """No one is watching (serve, the workers, tests)."""

    def phase(self, phase: Phase, total: int | None = None,
              count: Callable[[], int] | None = None) -> None:
        pass

    def step(self, done: int, total: int | None = None) -> None:
        pass


SILENT = Silent()
