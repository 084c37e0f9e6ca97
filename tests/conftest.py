"""Suite-wide hooks. Fixtures belong in the conftest of the tests that use them."""
from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """Name the shuffled order's seed even under -q (pytest-randomly prints it in the header,
    which -q hides), so a failure that depends on the order can be replayed."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed", None)
        terminalreporter.write_line(f"test order: pytest -p randomly --randomly-seed={seed}")
