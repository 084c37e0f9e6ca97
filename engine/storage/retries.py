"""The retry set: orders whose read, normalization, evaluation or action failed.

One row per order and direction (table `sync_retries` in the state file), with the reason, the
attempt count, the first and last failure and the next attempt. Every later `apply`, `serve`'s
worker and its catch-up poll retry the due rows (engine/sync/retrying.py) until the order goes through,
when its row is deleted, or a person forgets it (`rulesync failures forget`). The wait after the
n-th failure is FIRST_WAIT * 2**(n-1) seconds, at most MAX_WAIT: 30 s, 1 min, 2 min, ... 1 h.
"""
from __future__ import annotations

from typing import Any

from engine.connect.ports import RetryKey
from engine.storage.state import SqlState
from engine.sync.summary import iso

FIRST_WAIT = 30.0
MAX_WAIT = 3600.0
REASON_LIMIT = 1000  # characters kept of a failure's message
_KEY = "(next_attempt_at, order_id, direction)"  # the order of the index on the next attempt
_DELETE_ONE = "DELETE FROM sync_retries WHERE store = ? AND order_id = ? AND direction = ?"
_PAGE_COLUMNS = ("order_id, direction, reason, attempts, first_failed_at, last_failed_at, "
                 "next_attempt_at")


def wait_after(attempts: int) -> float:
    """Seconds between the attempts-th failure and the next attempt."""
    return min(MAX_WAIT, FIRST_WAIT * 2.0 ** min(max(attempts, 1) - 1, 32))


class RetrySet:
    def __init__(self, state: SqlState) -> None:
        self.state, self.store = state, state.store

    def failed(self, order_id: int, direction: str, reason: str, at: str, now: float, *,
               again: bool = False) -> int:
        """Record a failure; returns the attempt count. `again`: the same pass failed once more
        (another event of the order), which updates the reason but is not a new attempt."""
        reason = reason[:REASON_LIMIT]
        with self.state.transaction() as c:
            row = c.one("SELECT attempts, next_attempt_at FROM sync_retries WHERE "
                        "store = ? AND order_id = ? AND direction = ?",
                        (self.store, order_id, direction))
            if row is None:
                c.execute("INSERT INTO sync_retries (store, order_id, direction, reason, "
                          "attempts, first_failed_at, last_failed_at, next_attempt_at) "
                          "VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                          (self.store, order_id, direction, reason, at, at, now + wait_after(1)))
                return 1
            attempts = int(row[0]) if again else int(row[0]) + 1
            due = float(row[1]) if again else now + wait_after(attempts)
            c.execute("UPDATE sync_retries SET reason = ?, attempts = ?, last_failed_at = ?, "
                      "next_attempt_at = ? WHERE store = ? AND order_id = ? AND direction = ?",
                      (reason, attempts, at, due, self.store, order_id, direction))
            return attempts

    def succeeded_later(self, order_id: int, direction: str) -> None:
        """As `succeeded`, deferred (Database.defer): its row goes with the next statement."""
        self.state.db.defer(_DELETE_ONE, (self.store, order_id, direction))

    def succeeded(self, order_id: int, direction: str) -> bool:
        """The order went through: its row goes. True when it had one."""
        exists = self.state.db.one(  # a read first: most orders never failed
            "SELECT 1 FROM sync_retries WHERE store = ? AND order_id = ? AND direction = ?",
            (self.store, order_id, direction))
        if exists:
            with self.state.transaction() as c:
                c.execute(_DELETE_ONE, (self.store, order_id, direction))
        return exists is not None

    def due_now(self, order_id: int, now: float) -> int:
        """A person asks for a retry now (the status page's Retry): the order's rows are due at
        `now`, so the next sync retries them. Returns the rows changed."""
        with self.state.transaction() as c:
            return c.execute("UPDATE sync_retries SET next_attempt_at = ? WHERE store = ? AND "
                             "order_id = ?", (now, self.store, order_id))

    def forget(self, order_id: int) -> int:
        """A person gives up on the order (both directions); returns the rows deleted."""
        with self.state.transaction() as c:
            return c.execute("DELETE FROM sync_retries WHERE store = ? AND order_id = ?",
                             (self.store, order_id))

    def entries(self, order_id: int | None = None, due_by: float | None = None
                ) -> list[dict[str, Any]]:
        """The rows (of one order), all or those whose next attempt is due by `due_by`."""
        where, args = ("AND order_id = ?", (order_id,)) if order_id is not None else ("", ())
        if due_by is not None:
            where, args = f"{where} AND next_attempt_at <= ?", (*args, due_by)
        rows = self.state.db.dicts(
            f"SELECT * FROM sync_retries WHERE store = ? {where} "
            "ORDER BY next_attempt_at, order_id, direction", (self.store, *args))
        return [_view(r) for r in rows]

    def waiting(self, order_ids: list[int] | None = None) -> set[tuple[int, str]]:
        """The store's orders in the retry set, with their directions; of these orders only,
        when given."""
        if order_ids == []:
            return set()
        among = "" if order_ids is None else f" AND order_id IN ({', '.join('?' * len(order_ids))})"
        return {(int(order_id), str(direction)) for order_id, direction in self.state.db.rows(
            f"SELECT order_id, direction FROM sync_retries WHERE store = ?{among}",
            (self.store, *(order_ids or ())))}

    def due(self, now: float, limit: int = 500) -> list[dict[str, Any]]:
        rows = self.state.db.dicts(
            "SELECT * FROM sync_retries WHERE store = ? AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, order_id, direction LIMIT ?", (self.store, now, limit))
        return [_view(r) for r in rows]

    def counts(self, now: float) -> dict[str, int]:
        """{"waiting": orders in the set, "due": those a sync would retry now}.

        Two queries, each along an index (the primary key's order ids, the next attempts up to
        now), rather than one scan of the table: /healthz and the status page ask every time."""
        return {"waiting": self._count("SELECT count(*) FROM (SELECT DISTINCT order_id FROM "
                                       "sync_retries WHERE store = ?) AS o", (self.store,)),
                "due": self._count("SELECT count(DISTINCT order_id) FROM sync_retries "
                                   "WHERE store = ? AND next_attempt_at <= ?", (self.store, now))}

    # -- the status page's pages (engine/serve/status_data.py): keyset paging along the index --

    def page(self, after: RetryKey | None = None, before: RetryKey | None = None,
             limit: int = 50) -> list[dict[str, Any]]:
        """Up to `limit` rows in key order: the first ones, those after `after`, or the last ones
        before `before`; `next_attempt_at` in seconds since the epoch, as in the key."""
        if before is not None:
            return self.state.db.dicts(
                f"SELECT {_PAGE_COLUMNS} FROM sync_retries WHERE store = ? AND {_KEY} < (?, ?, ?) "
                f"ORDER BY next_attempt_at DESC, order_id DESC, direction DESC LIMIT ?",
                (self.store, *before, limit))[::-1]
        where, args = (f"AND {_KEY} > (?, ?, ?)", after) if after else ("", ())
        return self.state.db.dicts(
            f"SELECT {_PAGE_COLUMNS} FROM sync_retries WHERE store = ? {where} "
            f"ORDER BY next_attempt_at, order_id, direction LIMIT ?", (self.store, *args, limit))

    def position(self, key: RetryKey) -> int:
        """How many rows come before `key` in key order."""
        return self._count(f"SELECT count(*) FROM sync_retries WHERE store = ? AND "
                           f"{_KEY} < (?, ?, ?)", (self.store, *key))

    def size(self) -> int:
        """The rows in the set (an order may wait in both directions)."""
        return self._count("SELECT count(*) FROM sync_retries WHERE store = ?", (self.store,))

    def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        row = self.state.db.one(sql, params)
        return int(row[0]) if row else 0


def _view(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["next_attempt_at"] = iso(float(out["next_attempt_at"]))
    return out
