"""PostgreSQL advisory locks for the distributed sync (engine/storage/postgres.py `lock_key`).

- `order(id)`: two tasks for the same order of a store never run at once, whichever machines
  they run on. Session locks nest (the same connection may take one again), so a decision inside
  an order's sync takes it again without waiting on itself. `orders(ids)` takes a group's
  locks in one statement (a change-feed slice's orders, engine/distributed/syncing.py).
- `store_shared()`: every task holds its store's sync lock *shared*; the single-process `apply`
  and `serve` take the same lock exclusively (engine/storage/state.py `exclusive`), so they wait for the
  workers' tasks and the tasks wait for them, while the tasks never wait for each other.
- `named(...)`: one holder at a time for work that reads a store-wide position (the outbound
  sequence, a run's listing); `try_named` gives up at once instead of waiting.

All are session locks: the server releases them when the connection ends, so a worker killed by
SIGKILL leaves none held.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from engine.errors import DatabaseError
from engine.storage.db import Database
from engine.storage.postgres import lock_key
from engine.storage.state import SqlState, meta_key


class Locks:
    def __init__(self, state: SqlState) -> None:
        self.db: Database = state.db
        self.schema = str(getattr(state.db, "schema", ""))
        self.store = state.store
        self._held_here: dict[tuple[int, bool], int] = {}  # taken, and how many times over

    def _key(self, *names: str) -> int:
        return lock_key(self.schema, *names)

    @contextmanager
    def _held(self, keys: list[int], shared: bool = False, lead: bool = False
              ) -> Iterator[bool]:
        """Taken once from the server however deeply nested (a Locks serves one thread):
        a decision inside an order's sync costs no round trip for its lock. Several keys are
        taken in one statement, in ascending order, so two holders of several never wait on
        each other in a cycle. Yields whether any was taken here (False: an outer block holds
        them already)."""
        keys = sorted(set(keys))
        depths = [self._held_here.get((key, shared), 0) for key in keys]
        for key, depth in zip(keys, depths):
            self._held_here[(key, shared)] = depth + 1
        new = [key for key, depth in zip(keys, depths) if not depth]
        kind = "_shared" if shared else ""
        try:
            if new:
                (self.db.lead if lead else self.db.one)(*_each(f"pg_advisory_lock{kind}", new))
            yield bool(new)
        finally:
            for key, depth in zip(keys, depths):
                self._held_here[(key, shared)] = depth
                if not depth:
                    del self._held_here[(key, shared)]
            if new:
                self._release(*_each(f"pg_advisory_unlock{kind}", new))

    def order(self, order_id: int, lead: bool = False) -> AbstractContextManager[bool]:
        """`lead`: the lock is taken in the round trip of the next statement on this
        connection, before it runs (Database.lead): only where that statement is the first
        that needs the lock."""
        return self.orders([order_id], lead=lead)

    def orders(self, order_ids: list[int], lead: bool = False) -> AbstractContextManager[bool]:
        """The locks of several orders (a slice's), taken together and given back together."""
        return self._held([self._key("order", self.store, str(i)) for i in order_ids],
                          lead=lead)

    def store_shared(self) -> AbstractContextManager[bool]:
        # The key engine/storage/state.py's exclusive() takes for this store's sync lock.
        name = meta_key(self.store, "sync").replace("/", ".")
        return self._held([self._key("exclusive", name)], shared=True)

    def named(self, *names: str) -> AbstractContextManager[bool]:
        return self._held([self._key("distributed", self.store, *names)])

    @contextmanager
    def try_named(self, *names: str) -> Iterator[bool]:
        """Yields whether the lock was taken (then it is held until the block ends)."""
        key = self._key("distributed", self.store, *names)
        got = self.db.one("SELECT pg_try_advisory_lock(?)", (key,))
        taken = bool(got and got[0])
        try:
            yield taken
        finally:
            if taken:
                self._release("SELECT pg_advisory_unlock(?)", (key,))

    def _release(self, unlock: str, keys: tuple[Any, ...]) -> None:
        """What was written under the lock is committed before it goes (a deferred write that
        fails is an error), and the lock goes either way."""
        writes = self.db.pending()
        try:
            self.db.one(unlock, keys)  # the pending writes go first, in its round trip
        except BaseException as e:
            # A write failed, so the unlock behind it did not run: it is sent again (a lock
            # already released answers false and stays released). Or the connection is gone,
            # and its locks with it: only an error if writes were lost with it.
            try:
                self.db.one(unlock, keys)
            except DatabaseError:
                pass
            if writes or not isinstance(e, DatabaseError):
                raise


def _each(function: str, keys: list[int]) -> tuple[str, tuple[Any, ...]]:
    """One statement calling an advisory lock function on each key, in the order given."""
    if len(keys) == 1:
        return f"SELECT {function}(?)", (keys[0],)
    return f"SELECT count({function}(k)) FROM unnest(CAST(? AS bigint[])) AS k", (keys,)
