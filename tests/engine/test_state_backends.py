"""A state backend of a third party's, registered as one would be (an entry point naming a
`Plugin`): `plan` needs the private copy a backend may offer, and says so in one line when it
offers none; the conformance kit makes each world's state of it with the author's function."""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.conformance.databases import SQLITE, new_location, rows
from engine.connect import registry
from engine.connect.ports import Plugin
from engine.errors import ConfigError, RulesyncError


def _never(location: Any, store: str) -> Any:
    raise AssertionError("plan must refuse before the state is opened")


NO_COPY = Plugin("state", _never, "a backend without a private copy for plan")


@pytest.fixture
def memory_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """`memory://` served by NO_COPY above, found as an installed entry point is."""
    installed = registry.installed

    def with_memory(kind: str) -> dict[str, registry.Installed]:
        found = installed(kind)
        if kind == "state":
            found["memory"] = registry.Installed("state", "memory", f"{__name__}:NO_COPY",
                                                 "tests 0")
        return found

    monkeypatch.setattr(registry, "installed", with_memory)


@pytest.mark.usefixtures("memory_backend")
def test_plan_on_a_backend_without_a_private_copy_is_one_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["plan", "--state", "memory://here"], obj={}, env={
        "BIGCOMMERCE_STORE_HASH": "abc123", "BIGCOMMERCE_ACCESS_TOKEN": "token"})
    assert isinstance(r.exception, RulesyncError), r.output  # main() prints it as one line
    assert str(r.exception) == (
        "state backend 'memory' cannot be planned: it offers no private copy of the state for "
        "plan to work on (plan_copy, docs/connectors.md)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("memory_backend")
def test_the_conformance_kit_takes_a_new_state_of_any_installed_backend(tmp_path: Path) -> None:
    made: list[tuple[Path, str]] = []

    def memory(folder: Path, name: str) -> str:
        made.append((folder, name))
        return f"memory://{folder.name}/{name}"

    with ExitStack() as cleanup:
        assert new_location(memory, tmp_path, "state", cleanup) == f"memory://{tmp_path.name}/state"
        assert new_location(SQLITE, tmp_path, "state", cleanup) == tmp_path / "state.sqlite"
        with pytest.raises(ConfigError, match=r"unknown state backend 'mysql' \(installed: "
                                              r"memory, postgres, postgresql, sqlite;"):
            new_location(lambda folder, name: "mysql://db/x", tmp_path, "state", cleanup)
        with pytest.raises(ValueError, match="function"):
            new_location("memory://here", tmp_path, "state", cleanup)
    assert made == [(tmp_path, "state")]
    with pytest.raises(ValueError, match="only a SQLite or PostgreSQL state is read with SQL"):
        rows("memory://here", "SELECT 1")
