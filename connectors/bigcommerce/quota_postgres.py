"""The store's token bucket in PostgreSQL: one row per store, shared by every process using it.

Each take is one short transaction: the row is locked (`SELECT ... FOR UPDATE`), refilled by the
database's clock (`clock_timestamp()`, the one clock every machine shares), a token taken or a
wait computed with the same code as the in-process bucket (connectors/bigcommerce/quota.py), and
written back. Other takers wait on the row lock for the few statements this lasts, never across
a wait for tokens: that sleep happens outside the transaction.

The table is not part of the state's migrations: it holds nothing worth keeping (a lost row is a
full bucket again), may live in another database than the state (`store.quota.url`) and is
created by the first process that needs it.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from connectors.bigcommerce.quota import Advice, Bucket, Limits, Waiting, observe, take
from engine.db import DatabaseError, first_line, shown
from engine.db_postgres import CONNECT_TIMEOUT_S, _driver, lock_key

TABLE = "rulesync_store_quota"
_CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    store TEXT PRIMARY KEY, requests BIGINT NOT NULL, window_s DOUBLE PRECISION NOT NULL,
    tokens DOUBLE PRECISION NOT NULL, stamp DOUBLE PRECISION NOT NULL,
    paused_until DOUBLE PRECISION NOT NULL DEFAULT 0)"""
_NOW = "extract(epoch FROM clock_timestamp())::float8"


class PostgresBucket(Waiting):
    """`store` names the row (the API origin and store hash); `limits` are used until the
    store's headers say otherwise (`ceiling`: a configured quota they may not raise)."""

    def __init__(self, url: str, store: str, limits: Limits, ceiling: int | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(sleep)
        psycopg = _driver()  # a clear error when the postgres extra is not installed
        self.where, self.store, self._ceiling = shown(url), store, ceiling
        self._errors = psycopg.Error
        self._lock = threading.Lock()  # one transaction at a time on this connection
        timeout = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT_S}
        try:
            self._conn: Any = psycopg.connect(url, autocommit=True, **timeout)
        except psycopg.Error as e:
            raise DatabaseError(self.where, first_line(e), "connect to") from None
        # Closed when the bucket goes, even if nobody calls close() (a store is not closed).
        self._finalizer = weakref.finalize(self, self._conn.close)
        self._limits = limits  # as last read: whether a reply's headers could change the row
        with self._transaction():
            schema = self._conn.execute("SELECT current_schema()").fetchone()[0]
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)",
                               (lock_key(str(schema), TABLE),))
            self._conn.execute(_CREATE)
            self._conn.execute(
                f"INSERT INTO {TABLE} (store, requests, window_s, tokens, stamp) "
                f"VALUES (%s, %s, %s, %s, ({_NOW})) ON CONFLICT (store) DO NOTHING",
                (store, limits.requests, limits.window, float(limits.capacity)))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, one thread at a time; a database error names the database."""
        with self._lock:
            try:
                with self._conn.transaction():
                    yield
            except self._errors as e:
                raise DatabaseError(self.where, first_line(e)) from None

    def _read(self) -> tuple[Bucket, float]:
        row = self._conn.execute(
            f"SELECT requests, window_s, tokens, stamp, paused_until FROM {TABLE} "
            "WHERE store = %s FOR UPDATE", (self.store,)).fetchone()
        now = float(self._conn.execute(f"SELECT {_NOW}").fetchone()[0])
        if row is None:  # dropped under us: a full bucket again
            return Bucket.full(self._limits, now), now
        requests, window, tokens, stamp, paused = row
        return Bucket(Limits(int(requests), float(window)), float(tokens), float(stamp),
                      float(paused)), now

    def _read_limits(self) -> Limits:
        with self._transaction():
            return self._read()[0].limits

    def _write(self, b: Bucket) -> None:
        self._limits = b.limits
        self._conn.execute(
            f"INSERT INTO {TABLE} AS q (store, requests, window_s, tokens, stamp, paused_until) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (store) DO UPDATE SET "
            "requests = excluded.requests, window_s = excluded.window_s, "
            "tokens = excluded.tokens, stamp = excluded.stamp, "
            "paused_until = excluded.paused_until",
            (self.store, b.limits.requests, b.limits.window, b.tokens, b.stamp, b.paused_until))

    def _take(self, kind: str) -> float:
        with self._transaction():
            bucket, now = self._read()
            bucket, wait = take(bucket, now, kind)
            self._write(bucket)
        return wait

    def observe(self, headers: Mapping[str, str]) -> None:
        advice = Advice.of(headers)
        if not advice.changes(self._limits, self._ceiling):
            return  # the common case: nothing to write, no round trip
        with self._transaction():
            bucket, now = self._read()
            self._write(observe(bucket, now, advice, self._ceiling))

    def close(self) -> None:
        self._finalizer()

