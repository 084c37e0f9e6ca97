"""`rulesync apply --queue`: a full sync of each store as a run (runs.py) done by the workers,
waited for here and reported as `apply` reports it.

A store with a run in progress (a poll from beat, another `apply --queue`) waits for it to end
and then starts its own, so the run reported began after the command did. While waiting, a run
that made no progress for a while is sent again (a message lost while the broker was away).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from engine.config import Config
from engine.connect.session import open_state
from engine.distributed import runs as stages
from engine.distributed.app import STALL_ENV, make_app, reachable, sender, waiting
from engine.distributed.runs import Runs
from engine.distributed.settings import settings
from engine.distributed.status import ALIVE_S, workers_alive
from engine.distributed.tasks import Send, Stall, nudge
from engine.errors import RulesyncError
from engine.secrets import redact
from engine.storage.state import SqlState
from engine.sync.per_store import Outcome

log = logging.getLogger("rulesync.apply")
POLL_S = 0.05  # one statement a look, however many stores: a run is seen ending within 50 ms


@dataclass
class Waiting:
    store: str
    runs: Runs
    run_id: str = ""  # ours, once started
    joined: str = ""  # a run in progress we wait for first


def apply_queued(config: Config, stores: tuple[Config, ...], timeout: float | None
                 ) -> list[Outcome]:
    found = settings(config)
    app = make_app(found)
    reachable(app, found)
    send = sender(app, found)
    stall = Stall(float(os.environ.get(STALL_ENV) or 60.0), waiting(found))
    state = open_state(config.state, stores[0].store_name)
    assert isinstance(state, SqlState)
    waits: list[Waiting] = []
    try:
        waits = [Waiting(s.store_name, Runs(state.for_store(s.store_name))) for s in stores]
        started, warned = time.monotonic(), False
        while True:
            # Every started run read in one statement, however many stores are waited for.
            runs = waits[0].runs.many([w.run_id for w in waits if w.run_id])
            pending = [w for w in waits if not _advance(w, send, stall, runs.get(w.run_id))]
            if not pending:
                break
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed > timeout:
                raise RulesyncError(f"the queued sync did not finish in {timeout:g} s (stores "
                                    f"{', '.join(w.store for w in pending)}); it goes on in "
                                    "the workers")
            if not warned and elapsed > 10 and not workers_alive(state):
                log.warning("no rulesync worker has been seen in the last %.0f s: start one "
                            "(`rulesync worker`); waiting (--timeout to give up)", ALIVE_S)
                warned = True
            time.sleep(POLL_S)
        return [_outcome(w) for w in waits]
    except KeyboardInterrupt:
        if any(w.run_id for w in waits):
            log.warning("stopped waiting: the queued sync goes on in the workers "
                        "(`rulesync status` shows it)")
        else:  # still waiting for the run in progress to end: this apply queued nothing
            log.warning("stopped waiting: the sync in progress goes on in the workers; this "
                        "apply queued nothing (`rulesync status` shows it)")
        raise
    finally:
        state.close()


def _advance(w: Waiting, post: Send, stall: Stall, run: dict[str, Any] | None) -> bool:
    """One look at a store (`run`: its own run, as just read); True once that run is done."""
    if not w.run_id:
        run_id, new = w.runs.open()
        if new:
            w.run_id = run_id
            post("catch_up", (w.store, run_id))
            return False
        if run_id != w.joined:
            log.info("store %s: waiting for the run in progress to end first", w.store)
            w.joined = run_id
        nudge(w.runs, w.runs.get(run_id), post, stall)
        return False
    if run is None or run["stage"] == stages.DONE:
        return True
    nudge(w.runs, run, post, stall)
    return False


def _outcome(w: Waiting) -> Outcome:
    run = w.runs.get(w.run_id) or {}
    if run.get("error"):
        return Outcome(w.store, error=redact(str(run["error"])))
    return Outcome(w.store, w.runs.summary(w.run_id))
