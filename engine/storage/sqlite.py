"""The SQLite dialect of engine/storage/db.py's `Database`: a file in WAL mode, one write lock
taken up front (``BEGIN IMMEDIATE``), a file lock beside it for what is held across
transactions, and the file known by identity while open (engine/storage/open_files.py).
"""
from __future__ import annotations

import fcntl
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from engine.errors import DatabaseError
from engine.storage.db import Database, Params
from engine.storage.open_files import GONE, OPEN, Identity, identity

BUSY_TIMEOUT_MS = 30_000


class Sqlite(Database):
    """A SQLite file. The file is known by identity while open (engine/storage/open_files.py):
    one deleted or replaced meanwhile is an error when a transaction begins or commits, and
    when another connection of this process opens the path, never a write to nowhere."""

    dialect = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.where = str(path)
        self.identity: Identity | None = None
        expected = OPEN.expected(self.path)
        if expected is not None and identity(self.path) != expected:
            raise DatabaseError(self.where, GONE, "open")  # and make no new, empty file there
        try:
            self.conn = sqlite3.connect(str(path), isolation_level=None,
                                        timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as e:
            raise DatabaseError(str(path), str(e), "open") from None
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._enable_wal()
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA synchronous = NORMAL")  # WAL: survives a killed process
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise DatabaseError(str(path), str(e)) from None
        self._release: Callable[[], object] = lambda: None  # the open file's count, once
        self._watch()

    def _watch(self) -> None:
        """Remember which file this connection opened (an in-memory database has none)."""
        found = identity(self.path)
        if found is None:
            return
        if not OPEN.opened(self.path, found):
            self.conn.close()
            raise DatabaseError(self.where, GONE, "open")
        self.identity = found
        # Counted down when closed, or when the connection is dropped without closing it.
        self._release = weakref.finalize(self, OPEN.closed, self.path)

    def _check(self) -> None:
        """The file this connection opened is still the one at its path."""
        if self.identity is not None and identity(self.path) != self.identity:
            raise DatabaseError(self.where, GONE)

    def _enable_wal(self) -> None:
        """Switch the file to WAL (persistent, so a no-op once done).

        Switching needs an exclusive lock and SQLite does not call the busy handler for it: two
        processes opening a fresh file at once get "database is locked" at once. So retry here.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.DatabaseError as e:
            # Locked past the timeout, disk full, not a database file: the user's to fix. A
            # constraint or interface error is a bug and stays what it is.
            if isinstance(e, sqlite3.OperationalError) or type(e) is sqlite3.DatabaseError:
                raise DatabaseError(self.where, str(e)) from e
            raise

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self.conn.executemany(sql, rows)

    def insert(self, sql: str, params: Params, key: str) -> int:
        return int(self._run(sql, params).lastrowid or 0)

    def has_table(self, name: str) -> bool:
        return self.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)) is not None

    def continue_identity(self, table: str, old: str, column: str) -> None:
        # AUTOINCREMENT keeps the largest value ever given in sqlite_sequence; copying rows in
        # set it to the largest value present, which a deletion may have made smaller.
        row = self.one("SELECT seq FROM sqlite_sequence WHERE name = ?", (old,))
        if row is None:
            return
        if not self.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
                            (row[0], table)):
            self.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, row[0]))

    def _begin(self, write: bool, durable: bool) -> None:
        # Every commit waits as synchronous=NORMAL says: WAL mode survives a killed process.
        self._check()
        self._run("BEGIN IMMEDIATE" if write else "BEGIN", ())

    def _commit(self) -> None:
        try:
            self._check()  # deleted since the transaction began: nothing is kept, say so
        except DatabaseError:
            self._rollback()
            raise
        self._run("COMMIT", ())

    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @contextmanager
    def exclusive(self, name: str, on_wait: Callable[[], None]) -> Iterator[None]:
        """An OS file lock beside the database file (``state.sqlite.lock`` for "sync"): the
        kernel releases it when the process dies, even by SIGKILL, so a crash never leaves it
        held."""
        suffix = ".lock" if name == "sync" else f".{name}.lock"
        with open(self.path.with_name(self.path.name + suffix), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                on_wait()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        self.conn.close()
        self._release()
