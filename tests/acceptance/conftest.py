"""Fixtures of the acceptance tests; the harness itself is in tests/support/acceptance_world.py.

A module that sets `STATE_BACKENDS = databases.BACKENDS` runs its tests once with the state in a
SQLite file and once in PostgreSQL (skipped, saying why, when no test server is configured);
the others run on SQLite only; `@pytest.mark.backends("sqlite")` keeps one test to the ones named.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import databases
from tests.support.acceptance_world import World


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("backends")  # e.g. a SQLite file's test
        names = only.args if only else getattr(metafunc.module, "STATE_BACKENDS", ("sqlite",))
        metafunc.parametrize("backend", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """Where the worlds of this module keep their state: "sqlite" or "postgresql"."""
    if request.param == "postgresql":
        databases.server_url()  # skips here, once, without a server to test against
    return str(request.param)


@pytest.fixture
def world(tmp_path: Path, backend: str) -> Iterator[World]:
    with World(tmp_path / "world", backend=backend) as w:
        yield w


@pytest.fixture
def make_world(tmp_path: Path, backend: str) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(name: str, **kw: Any) -> World:
        w = World(tmp_path / name, backend=backend, **kw).__enter__()
        made.append(w)
        return w

    yield make
    for w in made:
        w.__exit__(None, None, None)
