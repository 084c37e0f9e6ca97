"""Where tests keep the ledger and the sync state: a SQLite file, or a fresh schema in the
PostgreSQL server named by RULESYNC_TEST_DATABASE_URL (engine/conformance/databases.py: each
test gets its own schema, dropped afterwards). Without the variable the
PostgreSQL tests skip with one line saying so; with it and no server reachable they fail.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.conformance import databases as kit_databases

URL_ENV = "RULESYNC_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")


def server_url() -> str:
    """The test server's URL; skips the test when none is configured."""
    url = os.environ.get(URL_ENV, "")
    if not url:
        pytest.skip(f"{URL_ENV} is not set: no PostgreSQL server to test against")
    return url


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose tables go to a new, empty schema of the test server."""
    with kit_databases.fresh_schema(server_url()) as url:
        yield url


@contextmanager
def location(backend: str, folder: Path, name: str = "state.sqlite") -> Iterator[str]:
    """A new, empty database of this backend: a file path in ``folder``, or a URL."""
    if backend == "sqlite":
        yield str(folder / name)
        return
    with fresh_schema() as url:
        yield url
