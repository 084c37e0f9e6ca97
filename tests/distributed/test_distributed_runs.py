"""A distributed run's rows (engine/distributed/runs.py) on the real PostgreSQL: how a run that
fails meets its last slice, what a failure without a message records, and when a run that made
no progress is sent again (with the queues counted on the real RabbitMQ)."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.distributed.app import make_app, sender, waiting
from engine.distributed.runs import DONE, FINISHING, Runs
from engine.distributed.settings import Settings
from engine.distributed.tasks import DEFERRALS, Stall, nudge
from engine.storage.state import SqlState
from engine.sync.summary import Summary
from tests.support import databases
from tests.support.distributed_world import broker_url, delete_queues

PLAN = {"cursor": "C1", "lower": 0, "upper": 1, "slices": [[1, 10], [11, 20]]}


@pytest.fixture
def two() -> Iterator[tuple[SqlState, SqlState]]:
    """Two connections to one fresh state, as two workers have."""
    with databases.fresh_schema() as url:
        a, b = SqlState(url, "eu"), SqlState(url, "eu")
        try:
            yield a, b
        finally:
            a.close()
            b.close()


def test_a_run_failed_while_its_last_slice_is_marked_done_stays_failed_and_keeps_its_cursor(
        two: tuple[SqlState, SqlState], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = two
    mine, other = Runs(a), Runs(b)
    a.set_meta("inbound_cursor", "C0")
    run_id, _ = mine.open()
    mine.listed(run_id, "C0", PLAN, Summary())
    mine.slice_done(run_id, 0, Summary())
    real_one = a.db.one

    def one(sql: str, params: Any = ()) -> Any:
        # Another worker's copy of a slice fails the run after the last slice read it.
        if sql.startswith("SELECT count(*) FROM dist_slices"):
            other.fail(run_id, RuntimeError("the store is down"))
        return real_one(sql, params)

    monkeypatch.setattr(a.db, "one", one)
    assert mine.slice_done(run_id, 1, Summary()) == DONE
    run = other.get(run_id)
    assert run is not None and (run["stage"], run["error"]) == (DONE, "the store is down")
    assert b.get_meta("inbound_cursor") == "C0"  # the next run reads the window again


def test_a_run_being_listed_is_work_waiting_and_its_slices_once_cut(
        two: tuple[SqlState, SqlState]) -> None:
    from engine.distributed.status import store_status

    a, _ = two
    runs = Runs(a)
    run_id, _ = runs.open()
    assert (store_status(a)["slices_waiting"], store_status(a)["queue_depth"]) == (1, 1)
    runs.listed(run_id, "C0", PLAN, Summary())
    assert (store_status(a)["slices_waiting"], store_status(a)["queue_depth"]) == (2, 2)
    runs.slice_done(run_id, 0, Summary())
    assert runs.slice_done(run_id, 1, Summary()) == FINISHING
    assert store_status(a)["slices_waiting"] == 1  # its last push


def test_a_quota_database_out_of_reach_is_said_in_the_health_not_taken_for_the_states(
        two: tuple[SqlState, SqlState], tmp_path: Path) -> None:
    from engine import config as configuration
    from engine.distributed.status import queued_health

    path = tmp_path / "rulesync.yaml"
    path.write_text("version: 1\nstore:\n  quota: {backend: postgresql, url: "
                    "'postgresql://nobody@127.0.0.1:9/x?connect_timeout=2'}\n")
    config = configuration.load(path, environ={"RULESYNC_DATABASE_URL": two[0].where})
    health = queued_health(two[0], config)
    assert "cannot" in health["quota"]["error"] and health["slices_waiting"] == 0


def test_the_last_slice_moves_the_cursor_and_the_run_on(two: tuple[SqlState, SqlState]) -> None:
    a, _ = two
    runs = Runs(a)
    a.set_meta("inbound_cursor", "C0")
    run_id, _ = runs.open()
    runs.listed(run_id, "C0", PLAN, Summary())
    assert [runs.slice_done(run_id, n, Summary()) for n in (1, 0)] == ["slices", FINISHING]
    assert a.get_meta("inbound_cursor") == "C1"


def test_a_failure_without_a_message_is_recorded_by_its_kind(
        two: tuple[SqlState, SqlState]) -> None:
    """`apply --queue` tells failure from success by the error; an empty one read as success."""
    runs = Runs(two[0])
    run_id, _ = runs.open()
    runs.fail(run_id, TimeoutError())
    run = runs.get(run_id)
    assert run is not None and (run["stage"], run["error"]) == (DONE, "TimeoutError")


def test_a_run_stalled_behind_queued_tasks_waits_its_turn_a_few_times_then_is_sent_again(
        two: tuple[SqlState, SqlState]) -> None:
    a, _ = two
    runs = Runs(a)
    run_id, _ = runs.open()
    runs.listed(run_id, "", PLAN, Summary())
    sent: list[tuple[str, tuple[Any, ...]]] = []
    asked: list[str] = []
    backlog = [5]
    stall = Stall(60.0, lambda task: asked.append(task) or backlog[0])
    slices = [("sync_slice", ("eu", run_id, 0)), ("sync_slice", ("eu", run_id, 1))]

    def look(idle: float = 61) -> None:
        a.db.write("UPDATE dist_runs SET touched = ? WHERE id = ?", (time.time() - idle, run_id))
        nudge(runs, runs.get(run_id), lambda name, args: sent.append((name, args)), stall)

    look()
    assert sent == [] and asked == ["sync_slice"]  # its slices may be among those five
    look(idle=30)
    assert sent == [] and asked == ["sync_slice"]  # not stalled yet: the broker not asked
    backlog[0] = 0
    look()
    assert sent == slices  # the queue drained and the run still made no progress
    sent.clear()
    backlog[0] = 5
    for _ in range(DEFERRALS):
        look()
        assert sent == []
    look()  # a message lost while the backlog never drains: sent again all the same
    assert sent == slices


def test_waiting_counts_the_messages_ready_in_a_tasks_queue_on_the_broker() -> None:
    settings = Settings(url=broker_url(), prefix=f"runs{uuid.uuid4().hex[:8]}")
    app = make_app(settings)
    count = waiting(settings)
    try:
        assert count("sync_slice") == 0  # not even declared yet
        send = sender(app, settings)
        send("sync_slice", ("eu", "r", 0))
        send("push", ("eu", "r"))
        send("push", ("eu", "r"))
        assert (count("sync_slice"), count("catch_up"), count("push")) == (1, 1, 2)
    finally:
        delete_queues(settings.url, settings.prefix)
