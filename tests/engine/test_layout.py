"""The layout keeps its promises: the rule language does no I/O and knows nothing of the sync,
and the sync talks to stores, OMSs and databases only through the protocols of engine/connect."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
IO = ("requests", "sqlite3", "psycopg", "socket", "http", "urllib", "waitress", "subprocess",
      "fcntl", "celery", "kombu")


def imports(package: str) -> dict[str, set[str]]:
    """Every module each file of the package imports (at any depth in the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ENGINE / package).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[path.name] = names
    return found


def offending(found: dict[str, set[str]], banned: tuple[str, ...]) -> list[str]:
    return [f"{file}: {name}" for file, names in found.items() for name in sorted(names)
            if name.split(".")[0] in banned or name.startswith(banned)]


def test_the_rule_language_imports_no_io_and_nothing_of_the_sync() -> None:
    found = imports("language")
    assert "interpreter.py" in found and "loader.py" in found
    assert offending(found, (*IO, "connectors", "engine.sync", "engine.storage", "engine.serve",
                             "engine.cli", "engine.connect", "engine.docs")) == []


@pytest.mark.parametrize("package", ["sync"])
def test_the_sync_reaches_the_outside_only_through_the_protocols(package: str) -> None:
    found = imports(package)
    assert "run.py" in found
    # The records a connector returns are plain data (engine/connect/ports.py re-exports them).
    allowed = {"connectors.ledger.records"}
    assert [o for o in offending(found, (*IO, "connectors", "engine.storage", "engine.serve",
                                         "engine.cli"))
            if o.split(": ")[1] not in allowed] == []
