"""Acceptance harness: the conformance kit's `World` (engine/conformance/world.py), a real
sandbox store, the real `rulesync` command and a real ledger, with what only this project's own
tests use: the state `backend` by name, the built-in ledger read in-process, and the command run
inside the test process for mutation runs (tests/support/in_process.py).

The ledger side is read through `rulesync orders show --json` or, for bulk comparisons, through
`connectors.ledger.Ledger`.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from connectors.ledger import Ledger
from engine.conformance import world
from engine.conformance.samples import (
    ADDRESS,
    NOTHING_DONE,
    SECOND_ADDRESS,
    counts,
    order_body,
    shipment_items,
)
from engine.conformance.world import RULESYNC, STORE_HASH, T0, TOKEN
from tests.support import databases, in_process

__all__ = ["ADDRESS", "NOTHING_DONE", "RULESYNC", "SECOND_ADDRESS", "STORE_HASH", "T0", "TOKEN", "World",
           "counts", "order_body", "shipment_items"]


class World(world.World):
    """One sandbox store + one rulesync state ("sqlite", or "postgresql": a fresh schema of the
    test server), driven by the real command."""

    def __init__(self, workdir: Path, *, backend: str = "sqlite", **kw: Any) -> None:
        database = databases.server_url() if backend == "postgresql" else backend
        super().__init__(workdir, database=database, **kw)
        self.backend = backend

    def invoke(self, args: list[str], env: dict[str, str], timeout: float
               ) -> subprocess.CompletedProcess[str]:
        if in_process.wanted(env):  # only for mutation runs (tests/support/in_process.py)
            return in_process.run(args, self.dir, env)
        return super().invoke(args, env, timeout)

    # -- the ledger, read in-process (the same dict `orders show --json` prints) -------------
    def ledger_get(self, order_id: int) -> dict[str, Any] | None:
        if not self.state_exists():
            return None
        with Ledger(self.state) as ledger:
            order = ledger.get(order_id)
        return None if order is None else json.loads(json.dumps(order.as_dict(), default=str))

    def ledger_dump(self) -> dict[int, dict[str, Any]]:
        """Every ledger order (as `orders show --json` prints it) with its history kinds."""
        if not self.state_exists():
            return {}
        out: dict[int, dict[str, Any]] = {}
        with Ledger(self.state) as ledger:
            offset = 0
            while batch := ledger.list_orders(limit=500, offset=offset):
                for order in batch:
                    data = order.as_dict()
                    data["history"] = [(h.kind, h.origin) for h in ledger.history(order.order_id)]
                    out[order.order_id] = data
                offset += len(batch)
        return out
