"""The durable queue of webhook deliveries `rulesync serve` works from (table `sync_inbox`)."""
from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.storage.state import SqlState


class Inbox:
    """The durable queue of webhook deliveries, one connection per thread that uses it."""

    def __init__(self, state: SqlState) -> None:
        self.state, self.store = state, state.store

    def add(self, hash_: str, order_id: int, scope: str, payload: str, at: str) -> bool:
        """Queue a delivery; False for a duplicate (same hash: one effect, FACTS §7). On disk
        before it returns: the sender is told it arrived."""
        with self.state.db.transaction(durable=True) as c:
            return c.execute("INSERT INTO sync_inbox (store, hash, order_id, scope, payload, "
                             "received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                             (self.store, hash_, order_id, scope, payload, at)) == 1

    MAX_ATTEMPTS = 5  # then the delivery is kept, "dead", for a person to look at

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        return self.state.db.dicts(
            "SELECT id, order_id, scope FROM sync_inbox WHERE store = ? AND done = 0 AND "
            "attempts < ? AND retry_at <= ? ORDER BY id LIMIT ?",
            (self.store, self.MAX_ATTEMPTS, time.time(), limit))

    def oldest_age(self) -> int:
        """Whole seconds the oldest queued delivery has waited; 0 when none waits."""
        row = self.state.db.one(
            "SELECT min(received_at) FROM sync_inbox WHERE store = ? AND done = 0 AND "
            "attempts < ?", (self.store, self.MAX_ATTEMPTS))
        if not row or not row[0]:
            return 0
        return max(0, int(time.time() - datetime.fromisoformat(row[0]).timestamp()))

    def failed(self, ids: list[int], error: str) -> None:
        """Try again later, 2, 4, 8, 16 s after each failure, then keep it as dead."""
        with self.state.transaction() as c:
            c.executemany("UPDATE sync_inbox SET attempts = attempts + 1, last_error = ?, "
                          "retry_at = ? + (1 << CAST(attempts + 1 AS INTEGER)) WHERE id = ?",
                          [(error, time.time(), i) for i in ids])

    def dead(self) -> int:
        return self._count("attempts >= ?")

    def mark_done(self, ids: list[int]) -> None:
        with self.state.transaction() as c:
            c.executemany("UPDATE sync_inbox SET done = 1 WHERE id = ?", [(i,) for i in ids])

    def undone(self, ids: list[int]) -> list[int]:
        """Those of these deliveries not handled yet."""
        if not ids:
            return []
        return [int(i) for (i,) in self.state.db.rows(
            f"SELECT id FROM sync_inbox WHERE done = 0 AND id IN ({', '.join('?' * len(ids))})",
            tuple(ids))]

    def depth(self) -> int:
        return self._count("attempts < ?")

    def _count(self, attempts: str) -> int:
        row = self.state.db.one(f"SELECT count(*) FROM sync_inbox WHERE store = ? AND done = 0 "
                                f"AND {attempts}", (self.store, self.MAX_ATTEMPTS))
        return int(row[0]) if row else 0

    def prune(self, before: str) -> int:
        """Delete handled deliveries received before `before` (an ISO time like `received_at`),
        keeping each scope's newest one so the last delivery per hook stays known. Undone and dead
        deliveries stay. Returns how many were deleted."""
        with self.state.transaction() as c:
            return c.execute(
                "DELETE FROM sync_inbox WHERE store = ? AND done = 1 AND received_at < ? AND id "
                "NOT IN (SELECT max(id) FROM sync_inbox WHERE store = ? GROUP BY scope)",
                (self.store, before, self.store))

    def last_received(self) -> dict[str, str]:
        rows = self.state.db.rows("SELECT scope, max(received_at) FROM sync_inbox WHERE store = ? "
                                  "GROUP BY scope", (self.store,))
        return {scope: at for scope, at in rows}
