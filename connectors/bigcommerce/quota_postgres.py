"""The store's token bucket in PostgreSQL: one row per store, shared by every process using it.

Each take is two statements, no transaction: the row is read with the database's clock
(`clock_timestamp()`, the one clock every machine shares), refilled, a token taken or a wait
computed with the same code as the in-process bucket (connectors/bigcommerce/quota.py), and
written back only if the row is still as read (compare and swap); if another process wrote it
in between, the take starts again from the row as it now is. Nobody waits on a row lock held
across a process's turn, and the sleep for tokens happens between takes.

The table is not part of the state's migrations: it holds nothing worth keeping (a lost row is a
full bucket again), may live in another database than the state (`store.quota.url`) and is
created by the first process that needs it.
"""
from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from connectors.bigcommerce.policy import DEFAULT_MAX_WAIT
from connectors.bigcommerce.quota import (
    Advice,
    Bucket,
    Limits,
    Waiting,
    capped,
    observe,
    paused,
    take,
)
from engine.errors import DatabaseError
from engine.storage.db import first_line, shown
from engine.storage.postgres import _driver, connect_options, lock_key

TABLE = "rulesync_store_quota"
_CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    store TEXT PRIMARY KEY, requests BIGINT NOT NULL, window_s DOUBLE PRECISION NOT NULL,
    tokens DOUBLE PRECISION NOT NULL, stamp DOUBLE PRECISION NOT NULL,
    paused_until DOUBLE PRECISION NOT NULL DEFAULT 0)"""
T = TypeVar("T")
_NOW = "extract(epoch FROM clock_timestamp())::float8"
SWAPS = 100  # tries of a take whose row others keep writing
_SET = ", ".join(f"{f} = %s" for f in ("requests", "window_s", "tokens", "stamp", "paused_until"))


class _Dropped(DatabaseError):
    """The connection was found dropped: it may be opened again and the work run again."""

    def __init__(self, error: DatabaseError) -> None:
        super().__init__(error.where, error.reason, error.doing)


class _Link:
    """One connection per database in this process, shared by the buckets of every store and
    thread that use it: a worker syncing many stores on many threads holds one connection for
    them, not one each (a server's connections are few). Their takes take turns; each
    lasts a few statements. A connection the server dropped, or one inherited through a fork,
    is opened anew on next use."""

    _open: ClassVar[dict[str, _Link]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url, self.where, self.users = url, shown(url), 0
        self.lock = threading.Lock()  # one take at a time on the connection
        self._driver: Any = _driver()  # a clear error when the postgres extra is missing
        self._conn: Any = None
        self._pid = 0

    @classmethod
    def take(cls, url: str) -> _Link:
        with cls._guard:
            link = cls._open.get(url) or cls._open.setdefault(url, cls(url))
            link.users += 1
        return link

    def release(self) -> None:
        with self._guard:
            self.users -= 1
            if self.users > 0:
                return
            if self._open.get(self.url) is self:
                del self._open[self.url]
        with self.lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)`, each of its statements committed by itself; once more on a new
        connection when the old one turns out dropped (a restarted server)."""
        try:
            return self._run(work)
        except _Dropped:
            return self._run(work)

    def _run(self, work: Callable[[Any], T]) -> T:
        with self.lock:
            conn = self._connected()
            try:
                return work(conn)
            except self._driver.Error as e:
                if not (conn.closed or conn.broken):
                    raise DatabaseError(self.where, first_line(e)) from None
                self._conn = None
                raise _Dropped(DatabaseError(self.where, first_line(e))) from None

    def _connected(self) -> Any:
        if self._conn is not None and not self._conn.closed and self._pid == os.getpid():
            return self._conn
        try:
            conn = self._driver.connect(self.url, autocommit=True, **connect_options(self.url))
            with conn.transaction():
                schema = conn.execute("SELECT current_schema()").fetchone()[0]
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(str(schema), TABLE),))
                conn.execute(_CREATE)
        except self._driver.Error as e:
            raise DatabaseError(self.where, first_line(e), "connect to") from None
        self._conn, self._pid = conn, os.getpid()
        return conn


class PostgresBucket(Waiting):
    """`store` names the row (the API origin and store hash); `limits` are used until the
    store's headers say otherwise (`ceiling`: a configured quota they may not raise)."""

    def __init__(self, url: str, store: str, limits: Limits, ceiling: Limits | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 max_wait: float = DEFAULT_MAX_WAIT) -> None:
        super().__init__(sleep, max_wait)
        self.where, self.store, self._ceiling = shown(url), store, ceiling
        self._limits = limits  # as last read: whether a reply's headers could change the row
        self._link = _Link.take(url)
        # Let go when the bucket goes, even if nobody calls close() (a store is not closed).
        self._finalizer = weakref.finalize(self, self._link.release)
        try:  # connected, the table there: a wrong URL is an error now, not mid-sync
            self._link.run(lambda conn: None)
        except DatabaseError:
            self._finalizer()
            raise

    def _read(self, conn: Any) -> tuple[Bucket, float, str]:
        """The store's row and the database's clock (the row made, full, if missing: the first
        of two processes to make it wins, the other reads it)."""
        select = (f"SELECT requests, window_s, tokens, stamp, paused_until, {_NOW}, xmin::text "
                  f"FROM {TABLE} WHERE store = %s")
        row = conn.execute(select, (self.store,)).fetchone()
        if row is None:
            limits = self._limits
            conn.execute(f"INSERT INTO {TABLE} (store, requests, window_s, tokens, stamp) "
                         f"VALUES (%s, %s, %s, %s, {_NOW}) ON CONFLICT (store) DO NOTHING",
                         (self.store, limits.requests, limits.window, float(limits.capacity)))
            row = conn.execute(select, (self.store,)).fetchone()
        requests, window, tokens, stamp, paused, now, version = row
        # A row written under a faster configured quota than today's is held to today's.
        limits = capped(Limits(int(requests), float(window)), self._ceiling)
        return Bucket(limits, min(float(tokens), limits.capacity), float(stamp),
                      float(paused)), float(now), str(version)

    def _read_limits(self) -> Limits:
        return self._link.run(lambda conn: self._read(conn)[0].limits)

    def _change(self, change: Callable[[Bucket, float], tuple[Bucket, T]]) -> T:
        """The row read, changed and written back if nobody wrote it meanwhile (its row
        version, xmin, unchanged), else again; a row written over by others every time is an
        error after SWAPS tries, never a spin."""
        def changing(conn: Any) -> T:
            for _ in range(SWAPS):
                before, now, version = self._read(conn)
                after, result = change(before, now)
                written = conn.execute(
                    f"UPDATE {TABLE} SET {_SET} WHERE store = %s AND xmin::text = %s",
                    (*_values(after), self.store, version)).rowcount
                if written:
                    self._limits = after.limits
                    return result
            raise DatabaseError(self.where, f"the quota row of {self.store} changed under "
                                f"every one of {SWAPS} takes")

        return self._link.run(changing)

    def _take(self, kind: str) -> float:
        return self._change(lambda bucket, now: take(bucket, now, kind))

    @property
    def limits(self) -> Limits:
        return self._limits

    def observe(self, headers: Mapping[str, str], source: str = "") -> None:
        advice = Advice.of(headers)
        refused = advice.refusal(self._limits, self.max_wait, source)
        if refused is not None:  # not written: the other processes keep their pace
            self.refuse(refused)
            return
        if not advice.changes(self._limits, self._ceiling):
            return  # the common case: nothing to write, no round trip
        self._change(lambda bucket, now: (observe(bucket, now, advice, self._ceiling), None))

    def pause(self, seconds: float) -> None:
        self._change(lambda bucket, now: (paused(bucket, now, seconds), None))

    def close(self) -> None:
        self._finalizer()


def _values(b: Bucket) -> tuple[Any, ...]:
    return b.limits.requests, b.limits.window, b.tokens, b.stamp, b.paused_until
