"""Fixtures of the engine's unit tests."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import databases


@pytest.fixture(params=databases.BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a new state goes: a SQLite file, or a fresh PostgreSQL schema's URL."""
    with databases.location(request.param, tmp_path) as found:
        yield found
