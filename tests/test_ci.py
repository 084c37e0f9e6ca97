"""CI runs what the README tells a developer to run, word for word."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    return lines[lines.index("# run the tests") + 1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = _readme_test_command()
    assert "pytest" in command and "-e '.[test]'" in command, command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci


def test_ci_also_runs_ruff_and_mypy_and_sets_the_service_urls() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for line in (".venv/bin/ruff check .", ".venv/bin/mypy",
                 "export RULESYNC_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test",
                 "export RULESYNC_TEST_BROKER_URL=amqp://guest:guest@127.0.0.1:5672//"):
        assert line in ci.splitlines() or any(x.startswith(line) for x in ci.splitlines()), line


def test_each_module_runs_on_one_process(request: pytest.FixtureRequest) -> None:
    """tests/conftest.py puts each module in an xdist group (distributed mode's modules in one),
    so that a module-scoped fixture (the crash trials, a conformance class's runs) is made once.
    xdist 3.8 marks a grouped test by adding "@group" to its id; a pytest release that drops it
    (pytest-dev/pytest-xdist#1386) would silently make the suite much slower, so this notices."""
    if not getattr(request.config.option, "loadgroup", False):  # set on the xdist processes
        pytest.skip("not running on pytest-xdist processes with --dist loadgroup")
    wrong = []
    for item in request.session.items:
        module = item.nodeid.split("::", 1)[0]
        group = "distributed" if module.startswith("tests/distributed/") else module
        if not item.nodeid.endswith(f"@{group}"):
            wrong.append(item.nodeid)
    assert not wrong, f"{len(wrong)} test(s) in no group or the wrong one, e.g. {wrong[:3]}"
