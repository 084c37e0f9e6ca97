"""`rulesync sandbox` as a user starts it: what it prints to point rulesync at it."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.support.acceptance_world import RULESYNC


def lines_until_ready(*args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGCOMMERCE_")}
    proc = subprocess.Popen([RULESYNC, "sandbox", "--port", "0", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line.rstrip("\n"))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    return lines


@pytest.mark.parametrize(("args", "shown"), [
    ((), "  export BIGCOMMERCE_ACCESS_TOKEN=sandbox-token"),
    (("--token", "kept-secret-42"),
     "  export BIGCOMMERCE_ACCESS_TOKEN=...  (the --token value; not shown)")],
    ids=["default-token", "own-token"])
def test_the_default_token_is_said_and_ones_own_is_not(args: tuple[str, ...], shown: str
                                                      ) -> None:
    lines = lines_until_ready(*args)
    assert shown in lines, lines
    assert not any("kept-secret-42" in line for line in lines), lines
