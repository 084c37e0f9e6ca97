"""Where a conformance run keeps each state: a new SQLite file, or a new schema of a PostgreSQL
server.

Every world of the kit starts from an empty state. On PostgreSQL that is a schema made for it
(and dropped afterwards), the URL's search_path pointing there, so runs sharing one server never
see each other's tables or wait on each other's locks (rulesync names its advisory locks after
the schema).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from engine.storage import db

SQLITE = "sqlite"


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


def new_location(database: str, folder: Path, name: str, cleanup: ExitStack) -> Path | str:
    """A new, empty state: `name`.sqlite in `folder` when `database` is "sqlite", else a new
    schema of the PostgreSQL server `database` names (dropped when `cleanup` closes)."""
    if database == SQLITE:
        return folder / f"{name}.sqlite"
    if not database.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"a conformance state is 'sqlite' or a postgresql:// URL, not {database!r}")
    return cleanup.enter_context(fresh_schema(database))


def rows(location: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read straight from a state database (SQL as the state writes it)."""
    conn = db.connect(location, "test")
    try:
        return conn.rows(sql, params)
    finally:
        conn.close()
