"""What each task does, on a worker's session of the store (syncing.py). The Celery side is in
app.py; these functions know nothing of Celery, only a `send(task, args)` to queue follow-ups.

Every task is idempotent: the rows in PostgreSQL (runs.py, the outbox, the decision log with its
deterministic event ids) say what is done, so a task run twice, or redelivered after its worker
died, does the rest and nothing again.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.distributed import runs as stages
from engine.distributed.runs import Runs
from engine.distributed.syncing import Session
from engine.errors import DatabaseError, OrderNotFound, RulesyncError, StoreError
from engine.language.catalog import INBOUND, OUTBOUND
from engine.sync.summary import HELD, Summary

log = logging.getLogger("rulesync.worker")
Send = Callable[[str, tuple[Any, ...]], None]


def catch_up(session: Session, run_id: str, size: int, send: Send) -> str:
    """A run's listing: pending actions finished, due pushes retried, the window cut into
    slices, each queued."""
    sync, run_rows = session.sync, session.runs
    with session.locks.try_named("run", run_id) as mine:
        run = run_rows.get(run_id)
        if not mine or run is None or run["stage"] != stages.LISTING:
            stage = str(run["stage"]) if run else stages.DONE
            if run is not None and mine:
                resend(run_rows, run, send)  # a redelivered listing: what follows may be lost
            return stage
        opening = Summary()
        sync.finish_pending(opening)
        sync.retry_due(opening, OUTBOUND)
        cursor = sync.state.get_meta("inbound_cursor")
        plan = feed_plan(sync.store, cursor, size)
        stage = run_rows.listed(run_id, cursor, plan, opening)
        log.info("store %s: run %s lists %d slice(s)", sync.state.store, run_id[:8],
                 len(plan["slices"]))
    resend(run_rows, run_rows.get(run_id) or {}, send)
    return stage


def feed_plan(store: Any, cursor: str, size: int) -> dict[str, Any]:
    plan = getattr(store, "feed_plan", None)
    if plan is None:
        raise RulesyncError(f"the store connector {type(store).__name__} cannot cut its change "
                            "feed into slices (feed_plan, feed_slice): distributed mode needs it")
    found: dict[str, Any] = plan(cursor, size)
    return found


def sync_slice(session: Session, run_id: str, n: int, send: Send) -> str:
    sync, run_rows = session.sync, session.runs
    run, part = run_rows.get(run_id), run_rows.slice(run_id, n)
    if run is None or part is None:
        return stages.DONE
    if not part["done"]:
        summary = Summary()
        # Each page's orders are locked, and their rows read, when the feed asks what they
        # looked like when last synced, before it reads their shipments (syncing.py).
        sync.store_changes(lambda known: sync.store.feed_slice(  # type: ignore[attr-defined]
            run["cursor_from"], run["lower_s"], run["upper_s"], part["first_id"],
            part["last_id"], known), summary)
        logged(summary)
        stage = run_rows.slice_done(run_id, n, summary)
    else:
        stage = str(run["stage"])
    if stage == stages.FINISHING:  # the last slice (or one redelivered after it)
        send("push", (sync.state.store, run_id))
    return stage


def push(session: Session, run_id: str) -> int:
    """The store's pending ledger changes pushed; for a run, its last stage first: the due
    inbound retries, then the pushes, then the run's end."""
    sync = session.sync
    if not run_id:  # beat's, every push_seconds: none waits for another, holding a thread
        summary = Summary()
        sync.outbound(summary, wait=False)
        return len(logged(summary).actions)
    with session.locks.try_named("run", run_id) as mine:
        run = session.runs.get(run_id)
        if not mine or run is None or run["stage"] != stages.FINISHING:
            return 0
        ending = Summary()
        sync.retry_due(ending, INBOUND)
        sync.outbound(ending)
        session.runs.finish(run_id, logged(sync.tally(ending)))
        log.info("store %s: run %s finished", sync.state.store, run_id[:8])
        return len(ending.actions)


def sync_order(session: Session, order_id: int, inbox_ids: list[int], shipments: bool,
               retry: bool) -> Summary:
    """One order read now and synced: a webhook's (its inbox rows then done), or a retry."""
    sync, summary = session.sync, Summary()
    if inbox_ids and not sync.state.inbox().undone(inbox_ids):
        return summary  # a copy queued again while the first waited behind a backlog: done
    if retry:  # what is still due: a second copy of the message finds it retried already
        for entry in sync.retries.entries(order_id, due_by=sync.clock()):
            sync.retry(order_id, entry["direction"], summary)
    else:
        try:
            sync.refresh(order_id, summary, shipments_changed=shipments)
        except OrderNotFound:
            log.warning("store %s: order %s from a webhook is not in the store: ignored",
                        sync.state.store, order_id)
        except DatabaseError:
            raise  # the state itself: the deliveries wait, and are queued again
        except Exception as e:  # noqa: BLE001 - one bad order must not keep its deliveries
            if isinstance(e, StoreError) and e.status == 401:
                raise  # every order would fail alike: the deliveries wait
            # As `serve` without --queue: the order waits in the retry set, the delivery is done.
            sync.fail_order(order_id, INBOUND, str(e), summary)
    if inbox_ids:
        sync.state.inbox().mark_done(inbox_ids)
    return logged(summary)


def due_retries(session: Session, send: Send) -> int:
    """Queue a retry of each order whose next attempt is due (beat, every retry_seconds)."""
    due = {e["order_id"] for e in session.sync.retries.due(time.time())}
    for order_id in sorted(due):
        send("sync_order", (session.sync.state.store, order_id, [], False, True))
    return len(due)


DEFERRALS = 4  # stall periods a run may wait behind a backlog before it is sent again anyway
NEXT = {stages.LISTING: "catch_up", stages.SLICES: "sync_slice", stages.FINISHING: "push"}


@dataclass
class Stall:
    """A run is stalled when it made no progress for `seconds`. If tasks then wait in the queue
    its next task goes to (`waiting(task)`: the messages ready there, as the broker counts
    them), it may only be waiting its turn behind other stores' work, and its tasks sent again
    would pile up behind them: it is sent again only after DEFERRALS such looks in a row (a
    message lost while a backlog never drains). `deferred`: those looks, by store."""
    seconds: float
    waiting: Callable[[str], int] = lambda task: 0
    deferred: dict[str, int] = field(default_factory=dict)


def poll(session: Session, send: Send, stall: Stall) -> str:
    """A catch-up run (beat, every poll_seconds): a new one, or the one in progress re-sent
    when it is stalled."""
    run_id, new = session.runs.open()
    if new:
        send("catch_up", (session.sync.state.store, run_id))
    else:
        nudge(session.runs, session.runs.get(run_id), send, stall)
    return run_id


def nudge(runs: Runs, run: dict[str, Any] | None, send: Send, stall: Stall) -> None:
    """Send a stalled run's next tasks again (a message lost with the broker)."""
    if run is None or run["stage"] == stages.DONE or \
            time.time() - float(run["touched"]) <= stall.seconds:
        return
    runs.touch(str(run["id"]))  # looked at: the next look is stall.seconds away
    looks = stall.deferred.get(runs.store, 0)
    waiting = stall.waiting(NEXT[run["stage"]]) if looks < DEFERRALS else 0
    if waiting:
        stall.deferred[runs.store] = looks + 1
        log.info("store %s: run %s made no progress for %.0f s, behind %d queued task(s)",
                 runs.store, str(run["id"])[:8], stall.seconds, waiting)
        return
    stall.deferred.pop(runs.store, None)
    log.warning("store %s: run %s made no progress for %.0f s or more: its tasks are sent again",
                runs.store, str(run["id"])[:8], stall.seconds)
    resend(runs, run, send)


def resend(runs: Runs, run: dict[str, Any], send: Send) -> None:
    """Queue what the run needs next; a task already queued or running is harmless twice."""
    run_id, stage = str(run.get("id", "")), run.get("stage")
    if stage == stages.LISTING:
        send("catch_up", (runs.store, run_id))
    elif stage == stages.SLICES:
        for part in runs.undone(run_id):
            send("sync_slice", (runs.store, run_id, part["n"]))
    elif stage == stages.FINISHING:
        send("push", (runs.store, run_id))


def logged(summary: Summary) -> Summary:
    for problem in summary.problems:
        log.warning("%s", problem)
    return summary


__all__ = ["HELD", "Stall", "catch_up", "due_retries", "nudge", "poll", "push", "sync_order",
           "sync_slice"]
