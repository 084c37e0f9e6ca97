"""Suite-wide hooks. Fixtures belong in the conftest of the tests that use them."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import secrets

# The conformance kit's tests are in the package (engine/conformance/suite.py): their asserts are
# rewritten like a test module's, so that a failure shows both sides (docs/conformance.md).
pytest.register_assert_rewrite("engine.conformance")


@pytest.fixture(autouse=True)
def _secrets_registered_stay_with_their_test() -> Iterator[None]:
    """A token a test's client or configuration registers for redaction is forgotten after the
    test: kept for the whole process, a token spelled "token" would redact that word out of
    every later test's text, and the outcome would depend on the order the tests ran in."""
    saved = set(secrets._registered)
    yield
    secrets._registered.clear()
    secrets._registered.update(saved)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """Name the shuffled order's seed even under -q (pytest-randomly prints it in the header,
    which -q hides), so a failure that depends on the order can be replayed."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed", None)
        terminalreporter.write_line(f"test order: pytest -p randomly --randomly-seed={seed}")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The suite runs on several processes (pytest-xdist, `-n` in pyproject.toml), a module's
    tests on one of them: a module-scoped fixture (the crash trials, a conformance class's runs)
    is then made once, not once per process. Distributed mode's modules share one process, one
    test after another: each starts Celery workers that hold PostgreSQL connections, and two
    such tests at once could pass the server's limit."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        group = "distributed" if module.startswith("tests/distributed/") else module
        item.add_marker(pytest.mark.xdist_group(group))
