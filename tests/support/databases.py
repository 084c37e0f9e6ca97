"""Where tests keep the ledger and the sync state: a SQLite file, or a fresh schema in the
PostgreSQL server named by RULESYNC_TEST_DATABASE_URL.

Each test gets its own schema (dropped afterwards), its URL's search_path pointing there, so
tests running at the same time on one server never see each other's tables or wait on each
other's locks (rulesync names its advisory locks after the schema). Without the variable the
PostgreSQL tests skip with one line saying so; with it and no server reachable they fail.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

URL_ENV = "RULESYNC_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")


def server_url() -> str:
    """The test server's URL; skips the test when none is configured."""
    url = os.environ.get(URL_ENV, "")
    if not url:
        pytest.skip(f"{URL_ENV} is not set: no PostgreSQL server to test against")
    return url


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose tables go to a new, empty schema of the test server."""
    import psycopg  # the test extra installs it; a missing driver fails the test

    base = server_url()
    name = f"rulesync_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield with_search_path(base, name)
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


@contextmanager
def location(backend: str, folder: Path, name: str = "state.sqlite") -> Iterator[str]:
    """A new, empty database of this backend: a file path in ``folder``, or a URL."""
    if backend == "sqlite":
        yield str(folder / name)
        return
    with fresh_schema() as url:
        yield url
