"""PostgreSQL advisory locks for the distributed sync (engine/storage/postgres.py `lock_key`).

- `order(id)`: two tasks for the same order of a store never run at once, whichever machines
  they run on. Session locks nest (the same connection may take one again), so a decision inside
  an order's sync takes it again without waiting on itself.
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
    def _held(self, key: int, shared: bool = False, lead: bool = False) -> Iterator[bool]:
        """Taken once from the server however deeply nested (a Locks serves one thread):
        a decision inside an order's sync costs no round trip for its lock. Yields whether it
        was taken here (False: an outer block holds it already)."""
        depth = self._held_here.get((key, shared), 0)
        self._held_here[(key, shared)] = depth + 1
        kind = "_shared" if shared else ""
        try:
            if not depth:
                take = self.db.lead if lead else self.db.one
                take(f"SELECT pg_advisory_lock{kind}(?)", (key,))
            yield not depth
        finally:
            self._held_here[(key, shared)] = depth
            if not depth:
                del self._held_here[(key, shared)]
                self._release(f"SELECT pg_advisory_unlock{kind}(?)", key)

    def order(self, order_id: int, lead: bool = False) -> AbstractContextManager[bool]:
        """`lead`: the lock is taken in the round trip of the next statement on this
        connection, before it runs (Database.lead): only where that statement is the first
        that needs the lock."""
        return self._held(self._key("order", self.store, str(order_id)), lead=lead)

    def store_shared(self) -> AbstractContextManager[bool]:
        # The key engine/storage/state.py's exclusive() takes for this store's sync lock.
        name = meta_key(self.store, "sync").replace("/", ".")
        return self._held(self._key("exclusive", name), shared=True)

    def named(self, *names: str) -> AbstractContextManager[bool]:
        return self._held(self._key("distributed", self.store, *names))

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
                self._release("SELECT pg_advisory_unlock(?)", key)

    def _release(self, unlock: str, key: int) -> None:
        """What was written under the lock is committed before it goes (a deferred write that
        fails is an error), and the lock goes either way."""
        writes = self.db.pending()
        try:
            self.db.one(unlock, (key,))  # the pending writes go first, in its round trip
        except BaseException as e:
            # A write failed, so the unlock behind it did not run: it is sent again (a lock
            # already released answers false and stays released). Or the connection is gone,
            # and its locks with it: only an error if writes were lost with it.
            try:
                self.db.one(unlock, (key,))
            except DatabaseError:
                pass
            if writes or not isinstance(e, DatabaseError):
                raise
