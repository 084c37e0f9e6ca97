"""Where a conformance run keeps each state: a new SQLite file, a new schema of a PostgreSQL
server, or a new state of another backend, made by a function of the connector author's.

Every world of the kit starts from an empty state. On PostgreSQL that is a schema made for it
(and dropped afterwards), the URL's search_path pointing there, so runs sharing one server never
see each other's tables or wait on each other's locks (rulesync names its advisory locks after
the schema). Another state backend (one registered in `rulesync.state`) is given as a function
`(folder, name) -> location` that makes a new, empty state of it, in or for that world's folder.
The kit reads a state only through the `SyncState` protocol (engine/connect/ports.py); `rows`
is for rulesync's own tests of its SQL backends.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from engine.connect import session
from engine.storage import db

SQLITE = "sqlite"
StateFactory = Callable[[Path, str], "Path | str"]  # (world's folder, name) -> a new state
Database = str | StateFactory  # "sqlite", a PostgreSQL server's URL, or a StateFactory


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A URL whose tables go to a new, empty schema of the PostgreSQL server at `server`."""
    import psycopg  # the postgres extra; a kit run against PostgreSQL needs it anyway

    name = f"rulesync_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield with_search_path(server, name)
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


def new_location(database: Database, folder: Path, name: str, cleanup: ExitStack) -> Path | str:
    """A new, empty state: `name`.sqlite in `folder` when `database` is "sqlite", a new schema
    of the PostgreSQL server `database` names (dropped when `cleanup` closes), or what the
    function `database` makes, whose backend must be installed."""
    if callable(database):
        made = database(folder, name)
        session.check_state(made)  # an unknown backend: the error lists the installed ones
        return made
    if database == SQLITE:
        return folder / f"{name}.sqlite"
    if not db.is_url(database):
        raise ValueError(f"a conformance state is 'sqlite', a postgresql:// server URL or a "
                         f"function (folder, name) -> location making a new state of another "
                         f"backend, not {database!r}")
    return cleanup.enter_context(fresh_schema(database))


def sql(location: Path | str) -> Path | str:
    """`location`, when it is a SQLite file or a PostgreSQL database, which SQL can read."""
    if db.scheme(location) not in (None, "postgresql", "postgres"):
        raise ValueError(f"{db.shown(location)}: only a SQLite or PostgreSQL state is read with "
                         "SQL (a test of rulesync's own backends)")
    return location


def rows(location: Path | str, sql_text: str, params: tuple[Any, ...] = ()
         ) -> list[tuple[Any, ...]]:
    """Rows read straight from a SQLite or PostgreSQL state (SQL as the state writes it)."""
    conn = db.connect(sql(location), "test")
    try:
        return conn.rows(sql_text, params)
    finally:
        conn.close()
