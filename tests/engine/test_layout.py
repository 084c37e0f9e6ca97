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
# The exceptions, each in the files that need it and for its reason:
STATUS_PAGE = ("serve/status_auth.py", "serve/status_page.py", "serve/status_request.py",
               "serve/status_views.py")
ALLOWED: dict[str, tuple[str, ...]] = {
    # The records a connector returns are plain data (engine/connect/ports.py re-exports them).
    "sync/events.py": ("connectors.ledger.records",),
    # waitress is the HTTP server itself: serve's own I/O edge, where it listens for deliveries.
    "serve/server.py": ("waitress",),
    # Distributed mode (`apply --queue`, `serve --queue`) is PostgreSQL's own: engine/distributed
    # works on the database directly, and the verbs reach it only when --queue is given.
    "cli/sync.py": ("engine.distributed",),
    "cli/serve.py": ("engine.distributed",),
    # String parsing of the standard library, no I/O: the status page's URLs, forms, cookies.
    **{file: ("urllib.parse",) for file in STATUS_PAGE},
    "serve/status_auth.py": ("urllib.parse", "http.cookies"),
}


def imports(*places: str) -> dict[str, set[str]]:
    """Every module each file imports (at any depth in the file), by its path under engine/:
    a folder's every file, or one file."""
    found: dict[str, set[str]] = {}
    for place in places:
        paths = [ENGINE / place] if place.endswith(".py") else sorted((ENGINE / place).glob("*.py"))
        for path in paths:
            found[path.relative_to(ENGINE).as_posix()] = modules(path.read_text(encoding="utf-8"))
    return found


def modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):  # `from engine import storage` too
            module = "." * node.level + (node.module or "")
            sep = "" if module.endswith(".") else "."
            names.update({module, *(f"{module}{sep}{alias.name}" for alias in node.names)})
    return names


def offending(found: dict[str, set[str]], banned: tuple[str, ...], *,
              allowances: bool = False) -> list[str]:
    def allowed(file: str, name: str) -> bool:
        return allowances and any(name == a or name.startswith(a + ".")
                                  for a in ALLOWED.get(file, ()))

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
    assert offending(found, (*IO, "connectors", "engine.storage", "engine.distributed", "."),
                     allowances=True) == []  # "." : a relative import is not read here


def test_the_allowances_are_used() -> None:
    """An allowance its file no longer needs goes (the list stays the exceptions that exist)."""
    found = imports(*PROTOCOLS_ONLY)
    for file, names in ALLOWED.items():
        for allowance in names:
            assert any(n == allowance or n.startswith(allowance + ".") for n in found[file]), \
                (file, allowance)


def test_a_package_imported_from_its_parent_or_relatively_is_seen() -> None:
    found = {"cli/plan.py": modules("from engine import storage\nfrom . import db\n")}
    assert offending(found, ("engine.storage", ".")) == ["cli/plan.py: .", "cli/plan.py: .db",
                                                         "cli/plan.py: engine.storage"]


def test_an_allowance_holds_only_in_its_own_file() -> None:
    assert offending({"cli/plan.py": {"connectors.ledger.records", "waitress"}},
                     ("connectors", "waitress"), allowances=True) == [
        "cli/plan.py: connectors.ledger.records", "cli/plan.py: waitress"]
