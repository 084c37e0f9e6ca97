"""The `rulesync` command run inside the test process, for mutation testing.

Acceptance tests run the installed command in a subprocess, the way a merchant does. A mutation
run (scripts/mutation) repeats the sync scenarios for every mutant, and starting Python for each
command is most of their time; with RULESYNC_TESTS_IN_PROCESS=1 in the environment the same
commands run here instead, through the same entry point, with the same arguments, environment,
working directory and exit codes. A run told to kill itself at a crash point
(RULESYNC_TEST_CRASH_AT) stops there by an exception that nothing in rulesync catches, reported
as the subprocess's -9: what it committed stays, what it had not is rolled back, as SIGKILL
leaves a SQLite file.
"""
from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from contextlib import chdir, redirect_stderr, redirect_stdout
from pathlib import Path

ENABLED = os.environ.get("RULESYNC_TESTS_IN_PROCESS") == "1"


class Killed(BaseException):
    """The run's SIGKILL of itself; a BaseException, so that no `except Exception` stops it."""


def wanted(env: Mapping[str, str]) -> bool:
    return ENABLED


def _kill(pid: int, sig: int) -> None:
    if pid == os.getpid() and sig == signal.SIGKILL:
        raise Killed
    _real_kill(pid, sig)


_real_kill = os.kill


def run(args: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`rulesync ARGS` as the entry point runs it, its output and exit code captured."""
    from engine.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv = dict(os.environ), sys.argv
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    code: int = 0
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["rulesync", *args]
        os.kill = _kill
        with chdir(cwd), redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Killed:
                code = -signal.SIGKILL
    finally:
        os.kill = _real_kill
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    return subprocess.CompletedProcess(["rulesync", *args], code, out.getvalue(), err.getvalue())
