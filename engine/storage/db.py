"""One connection to the database that holds rulesync's tables: a SQLite file (the default, a
plain path) or PostgreSQL (a ``postgresql://`` URL, with the ``postgres`` extra installed).

The ledger's and the sync state's SQL is written once, in the subset both understand: ``?``
placeholders, ``INSERT ... ON CONFLICT``, SQLite's column names for types. The differences that
remain are all kept in the two dialects, engine/storage/sqlite.py and engine/storage/postgres.py
(this module holds what both share: `Database`, `connect` and the locations' helpers):

- placeholders: ``?`` becomes psycopg's ``%s`` (and a literal ``%`` is doubled);
- DDL: an ``INTEGER PRIMARY KEY AUTOINCREMENT`` column becomes an identity column, INTEGER
  becomes BIGINT and REAL becomes DOUBLE PRECISION (PostgreSQL's REAL keeps 6 digits: a Unix
  time in it would lose minutes);
- a new row's generated key: ``lastrowid`` on SQLite, ``RETURNING`` on PostgreSQL;
- a write transaction: SQLite's ``BEGIN IMMEDIATE`` takes the file's one write lock up front;
  on PostgreSQL a transaction-scoped advisory lock named after the tables' owner ("ledger",
  "sync") does the same, so one owner's writers still commit one after another (the ledger's
  change feed needs its sequence numbers to become visible in order, which concurrent identity
  values alone do not give);
- waiting for the disk: SQLite in WAL mode with ``synchronous=NORMAL`` never waits at a commit
  (a killed process loses nothing, a power cut may lose the last commits). The sync state's
  PostgreSQL connection does the same (``synchronous_commit=off``) except for the transactions
  that something outside the database relies on, which wait; the ledger's always waits;
- a lock held across transactions (one sync at a time): a file lock beside the SQLite file, a
  session advisory lock on PostgreSQL. Both end with the process, even one killed by SIGKILL.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

URL_SCHEMES = ("postgresql://", "postgres://")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
Params = Sequence[Any]


def is_url(location: str | Path) -> bool:
    """A PostgreSQL URL rather than the path of a SQLite file."""
    return str(location).startswith(URL_SCHEMES)


def shown(where: str | Path) -> str:
    """A location as messages show it: a URL without its password (in the authority or in the
    query), a path as it is."""
    if not is_url(where):
        return str(where)
    parts = urlsplit(str(where))
    user, at, host = parts.netloc.rpartition("@")
    if at:
        parts = parts._replace(netloc=f"{user.partition(':')[0]}@{host}")
    query = parse_qsl(parts.query)
    if any(k == "password" for k, _ in query):
        parts = parts._replace(query=urlencode([(k, "***" if k == "password" else v)
                                                for k, v in query]))
    return urlunsplit(parts)


def scheme(location: str | Path) -> str | None:
    """The URL scheme of a location (``postgresql``), or None for a plain path."""
    found = _SCHEME.match(str(location)) if isinstance(location, str) else None
    return found.group(1).lower() if found else None


def location(text: str | Path, base: Path | None = None) -> str | Path:
    """A URL as given; a path as a Path, relative to ``base`` when given."""
    if scheme(text):
        return str(text)
    return base / text if base is not None else Path(text)


def exists(where: str | Path) -> bool:
    """Whether there may be something to read: a file that exists, or any database URL (only
    the server can say, when it is opened)."""
    return scheme(where) is not None or Path(where).exists()


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class Database:
    """The few calls the ledger and the sync state make, the same on both databases."""

    dialect = ""
    where = ""  # for messages: the file's path, or the URL without its password
    errors: tuple[type[Exception], ...] = ()  # what the driver raises

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        return int(self._run(sql, params).rowcount)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        for params in rows:
            self._run(sql, params)

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        row = self._run(sql, params).fetchone()
        return None if row is None else tuple(row)

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(sql, params).fetchall()]

    def dicts(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        cursor = self._run(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def batches(self, sql: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
        """A query's rows, ``size`` at a time (inside a transaction)."""
        cursor = self._run(sql, ())
        while rows := cursor.fetchmany(size):
            yield [tuple(row) for row in rows]

    def insert(self, sql: str, params: Params, key: str) -> int:
        """Run an INSERT of one row and return the value generated for its ``key`` column."""
        raise NotImplementedError

    def has_table(self, name: str) -> bool:
        raise NotImplementedError

    def ddl(self, statement: str) -> str:
        """A table definition, written as SQLite spells it, as this database spells it."""
        return statement

    def continue_identity(self, table: str, old: str, column: str) -> None:
        """After `old`'s rows were copied into `table` with their generated `column` values (a
        migration rebuilding a table), make `table` generate the values `old` would have next,
        so a value is never given twice, not even one whose row was deleted."""
        raise NotImplementedError

    def write(self, sql: str, params: Params = ()) -> int:
        """One statement as a write transaction of its own; returns the rows it changed."""
        with self.transaction():
            return self.execute(sql, params)

    def defer(self, sql: str, params: Params = ()) -> None:
        """A write whose result nobody waits for. On PostgreSQL it is sent with the
        connection's next statement, in the same round trip, and done before it: in a
        transaction, as part of it (at the latest with its COMMIT); outside one, in a
        transaction of its own committed before that statement runs, so a crash before then
        loses it, and only a write the next run makes again may be deferred there (what the
        sync last saw of a store order, a decision without actions, an action's outcome:
        docs/sync.md, "Exactly once"). On SQLite, where a
        statement costs no round trip, it is written now."""
        if self.in_transaction():
            self.execute(sql, params)
        else:
            self.write(sql, params)

    def lead(self, sql: str, params: Params = ()) -> None:
        """A statement whose result nobody reads that must run before the connection's next
        one (a lock taken for what that statement reads): on PostgreSQL it is sent with it, in
        the same round trip; on SQLite it runs now."""
        self.execute(sql, params)

    def pending(self) -> bool:
        """Whether writes wait to be sent with the next statement (never on SQLite)."""
        return False

    def in_transaction(self) -> bool:
        raise NotImplementedError

    def flush(self) -> None:
        """Send the deferred writes now, and raise if one fails: before a lock other processes
        wait on is released, so that they read what was done under it (nothing on SQLite)."""

    def write_returning(self, sql: str, params: Params = (), durable: bool = False
                        ) -> list[tuple[Any, ...]]:
        """One statement as a write transaction of its own; returns the rows of its RETURNING
        clause. ``durable`` as for ``transaction``."""
        with self.transaction(durable=durable):
            return self.rows(sql, params)

    def transaction_dicts(self, statements: Sequence[tuple[str, Params]]) -> list[dict[str, Any]]:
        """Statements whose results nobody reads but the last one's, as one write transaction;
        returns the last one's rows (its RETURNING clause). On PostgreSQL they go in one round
        trip with their BEGIN and COMMIT, so the owner's write lock is never held across a
        wait for this process."""
        with self.transaction() as c:
            for sql, params in statements[:-1]:
                c.execute(sql, params)
            return c.dicts(*statements[-1])

    @contextmanager
    def transaction(self, write: bool = True, durable: bool = False) -> Iterator[Database]:
        """One transaction; a writer holds the owner's write lock from its first statement.

        ``durable``: the commit must be on disk before anything outside the database relies on
        it (a store write, an acknowledged webhook), even where the connection's other commits
        need not wait for the disk (engine/storage/postgres.py)."""
        self._begin(write, durable)
        try:
            yield self
            self._commit()  # (a write deferred in the transaction may fail only here)
        except BaseException:
            self._rollback()
            raise

    def exclusive(self, name: str, on_wait: Callable[[], None]) -> Any:
        """A context manager holding the lock ``name`` across transactions and processes;
        ``on_wait`` is called once if another process holds it and this one has to wait."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- what each database does its own way -----------------------------------------------

    def _run(self, sql: str, params: Params) -> Any:
        raise NotImplementedError

    def _begin(self, write: bool, durable: bool) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        self._run("COMMIT", ())

    def _rollback(self) -> None:
        raise NotImplementedError


def connect(location: str | Path, owner: str, *, durable: bool = True) -> Database:
    """Open the database at ``location`` for the tables of ``owner`` ("ledger" or "sync").

    ``durable=False``: a commit need not wait for the disk unless its transaction says so;
    what a server crash might lose is bookkeeping the next run derives again."""
    if is_url(location):
        from engine.storage.postgres import Postgres  # psycopg is an optional extra

        return Postgres(str(location), owner, durable)
    from engine.storage.sqlite import Sqlite  # which builds on `Database` above

    return Sqlite(location)
