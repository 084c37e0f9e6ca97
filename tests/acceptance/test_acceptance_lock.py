"""One sync per state: an `apply` started while the state's lock is held waits for it, having
done nothing, and finishes its work once the lock is released. On SQLite the lock is a file lock
beside the state file; on PostgreSQL an advisory lock, which processes on other machines see.

The test holds the lock itself and watches the waiting `apply` through its own log line, so the
outcome does not depend on how fast the machine is: without a lock, `apply` never logs that it
waits and finishes on its own, and the test fails.
"""
from __future__ import annotations

import json
import queue
import subprocess
import threading
from contextlib import ExitStack, closing
from pathlib import Path
from typing import IO

from engine.storage.state import SqlState
from tests.support import databases
from tests.support.acceptance_world import RULESYNC, World, order_body

STATE_BACKENDS = databases.BACKENDS  # these run on SQLite and on PostgreSQL

PUSH = "push_order_info=true"
WAITING = "waiting for another rulesync sync"
BOUND = 120.0  # seconds: generous, only reached when something is wrong


def _stderr_lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's stderr lines as they come, then None when it closes stderr (exits)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    assert proc.stderr is not None
    threading.Thread(target=read, args=(proc.stderr,), daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str | None], text: str, seen: list[str]) -> bool:
    """True once a line containing `text` arrives; False if the output ends first."""
    while (line := lines.get(timeout=BOUND)) is not None:
        seen.append(line)
        if text in line:
            return True
    return False


def test_an_apply_started_while_the_lock_is_held_waits_then_finishes(tmp_path: Path,
                                                                     backend: str) -> None:
    with World(tmp_path, backend=backend) as w:
        paid = w.create(order_body(7))
        w.tick()
        w.apply()
        w.orders("pay", str(paid))  # outbound work: push 11 Awaiting Fulfillment
        new = w.create(order_body(11))  # inbound work: import a new store order
        w.tick()
        tables, store, calls = w.tables(), w.store_dump(), w.sb.api_calls()
        with closing(SqlState(w.state)) as state, ExitStack() as held:
            held.enter_context(state.exclusive())  # as a running `apply` or `serve` holds it
            with subprocess.Popen(
                    [RULESYNC, "apply", "--json", "--state", str(w.state), "--set", PUSH],
                    cwd=w.dir, env=w.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True) as second:
                try:
                    lines, seen = _stderr_lines(second), []
                    assert _wait_for_line(lines, WAITING, seen), f"apply did not wait: {seen}"
                    # Blocked on the lock now: nothing read or written on either side.
                    assert second.poll() is None
                    assert w.tables() == tables
                    assert w.store_dump() == store and w.sb.api_calls() == calls
                    held.close()  # release the lock: the waiting apply goes on
                    assert second.stdout is not None
                    out = second.stdout.read()  # the summary, printed once the run is over
                    assert second.wait(timeout=BOUND) == 0, seen
                    # Read stderr to its end before the pipes close, and see what else it said.
                    assert not _wait_for_line(lines, "Traceback", seen), seen
                finally:  # never leave it blocked on the lock this test holds
                    if second.poll() is None:
                        second.kill()
        summary = json.loads(out)
        assert (summary["imported"], summary["pushed"]) == (1, 1), summary
        assert w.store_order(paid)["status_id"] == 11
        ledger = w.ledger_get(new)
        assert ledger is not None and ledger["state"]["paid"] is True, ledger
