"""Fixtures of the acceptance tests; the harness itself is in tests/support/acceptance_world.py."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.acceptance_world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / "world") as w:
        yield w


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(name: str, **kw: Any) -> World:
        w = World(tmp_path / name, **kw).__enter__()
        made.append(w)
        return w

    yield make
    for w in made:
        w.__exit__(None, None, None)
