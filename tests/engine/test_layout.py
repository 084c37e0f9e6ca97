"""The layout keeps its promises: the rule language does no I/O and knows nothing of the sync,
and the sync, `serve`, `plan` and `explain` talk to stores, OMSs and databases only through the
protocols of engine/connect (what builds the concrete objects is engine/connect/session.py)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
IO = ("requests", "sqlite3", "psycopg", "socket", "http", "urllib", "waitress", "subprocess",
      "fcntl", "celery", "kombu")
# Allowed wherever the protocols are the only way out, each for its reason:
ANYWHERE = {
    # The records a connector returns are plain data (engine/connect/ports.py re-exports them).
    "connectors.ledger.records",
    # String parsing of the standard library, no I/O: the status page's URLs, forms, cookies.
    "urllib.parse", "http.cookies",
}
IN_FILE = {
    # waitress is the HTTP server itself: serve's own I/O edge, where it listens for deliveries.
    "serve/server.py": ("waitress",),
}


def imports(*places: str) -> dict[str, set[str]]:
    """Every module each file imports (at any depth in the file), by its path under engine/:
    a folder's every file, or one file."""
    found: dict[str, set[str]] = {}
    for place in places:
        paths = [ENGINE / place] if place.endswith(".py") else sorted((ENGINE / place).glob("*.py"))
        for path in paths:
            names: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names.add(node.module)
            found[path.relative_to(ENGINE).as_posix()] = names
    return found


def offending(found: dict[str, set[str]], banned: tuple[str, ...], *,
              allowances: bool = False) -> list[str]:
    def allowed(file: str, name: str) -> bool:
        return allowances and (name in ANYWHERE or name.split(".")[0] in IN_FILE.get(file, ()))

    return [f"{file}: {name}" for file, names in found.items() for name in sorted(names)
            if (name.split(".")[0] in banned or name.startswith(banned))
            and not allowed(file, name)]


def test_the_rule_language_imports_no_io_and_nothing_of_the_sync() -> None:
    found = imports("language")
    assert "language/interpreter.py" in found and "language/loader.py" in found
    assert offending(found, (*IO, "connectors", "engine.sync", "engine.storage", "engine.serve",
                             "engine.cli", "engine.connect", "engine.docs")) == []


def test_the_sync_knows_nothing_of_serving_or_the_command_line() -> None:
    found = imports("sync")
    assert "sync/run.py" in found
    assert offending(found, ("engine.serve", "engine.cli", "engine.connect.session")) == []


# The sync, serve (its app, workers, status page and webhook checks) and the verbs that run or
# look at a sync: plan and explain (engine/cli/plan.py), apply, serve and webhooks, failures.
PROTOCOLS_ONLY = {"sync": "sync/run.py", "serve": "serve/app.py", "cli/plan.py": "cli/plan.py",
                  "cli/sync.py": "cli/sync.py", "cli/serve.py": "cli/serve.py",
                  "cli/failures.py": "cli/failures.py"}  # each place, and a file it must have


@pytest.mark.parametrize("place", PROTOCOLS_ONLY)
def test_it_reaches_the_outside_only_through_the_protocols(place: str) -> None:
    found = imports(place)
    assert PROTOCOLS_ONLY[place] in found, sorted(found)
    assert offending(found, (*IO, "connectors", "engine.storage"), allowances=True) == []


def test_the_allowances_are_used() -> None:
    """An allowance nothing needs any more goes (the list stays the exceptions that exist)."""
    found = imports(*PROTOCOLS_ONLY)
    names = {n for each in found.values() for n in each}
    assert ANYWHERE <= names
    for file, roots in IN_FILE.items():
        assert {n.split(".")[0] for n in found[file]} >= set(roots), file
