"""A worker's sync of one order (engine/distributed/syncing.py), in this process against a
sandbox store and a fresh PostgreSQL schema: no broker needed."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from engine import config as configuration
from engine.distributed import syncing, tasks
from engine.distributed.syncing import LockedSync, Sessions
from engine.errors import ConfigError, StoreError
from engine.storage.state import SqlState
from engine.sync.summary import Summary, iso
from tests.support import databases
from tests.support.distributed_world import store_entries


@contextmanager
def _world(tmp_path: Path, orders: int) -> Iterator[tuple[LockedSync, Sandbox, str]]:
    """One store with these orders, a worker's sync of it, and the state's URL."""
    with databases.fresh_schema() as state, Sandbox(port=0, store_hash="hash-s1",
                                                    token="token-s1", seed_orders=orders) as sb:
        path = tmp_path / "rulesync.yaml"
        path.write_text(f"version: 1\nstores:\n{store_entries({'s1': sb.base_url})}")
        sessions = Sessions(configuration.load(path, environ={
            "RULESYNC_DATABASE_URL": state, "S1_TOKEN": "token-s1"}))
        try:
            yield sessions.get("s1").sync, sb, state
        finally:
            sessions.drop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[LockedSync, Sandbox]]:
    with _world(tmp_path, 1) as (sync, sb, _):
        yield sync, sb


def test_a_store_record_older_than_the_one_synced_is_skipped(
        world: tuple[LockedSync, Sandbox]) -> None:
    sync, sb = world
    (order_id,) = sb.store.order_ids({})
    read = sync.store.order_change(order_id, sync.state.known_items_shipped)
    assert read.order is not None
    newer = replace(read, order={**read.order, "date_modified": "9999"})  # type: ignore[type-var]
    sync.store_change(newer, Summary())
    assert sync.state.store_order(order_id)["date_modified"] == "9999"  # type: ignore[index]
    decided = len(sync.state.decisions(order_id))

    late = Summary()
    sync.store_change(read, late)  # read before the newer one was synced
    assert (late.read, late.actions, late.failures) == (set(), [], [])
    assert sync.state.store_order(order_id)["date_modified"] == "9999"  # type: ignore[index]
    assert len(sync.state.decisions(order_id)) == decided


def test_a_decisions_actions_are_each_handed_over_as_their_first_attempt(
        world: tuple[LockedSync, Sandbox]) -> None:
    """Under the order's lock a decision's rows are run as written, not read again: the first
    one's attempt, counted with the decision, is not counted a second time."""
    sync, sb = world
    (order_id,) = sb.store.order_ids({})
    sb.store.set_status(order_id, 11)  # awaiting fulfillment: imported (and marked paid)
    handed: list[tuple[str, int]] = []
    execute = sync.ledger.execute
    sync.ledger.execute = lambda call: (  # type: ignore[method-assign]
        handed.append((call.action, call.attempts)) or execute(call))
    sync.store_change(sync.store.order_change(order_id, sync.state.known_items_shipped),
                      Summary())
    assert handed and handed[0][0] == "import_order"
    assert {attempts for _, attempts in handed} == {1}
    rows = [a for d in sync.state.decisions(order_id) for a in d["action_outcomes"]]
    assert sorted((a["action"], a["attempts"]) for a in rows) == sorted(handed)


def test_an_action_row_read_before_the_orders_lock_is_read_again_under_it(
        world: tuple[LockedSync, Sandbox]) -> None:
    sync, _ = world
    event = '{"id": "e1", "type": "order.status_changed", "order_id": 1}'
    decision = {"order_id": 1, "direction": "inbound", "event_id": "e1", "event": event,
                "rules": "r", "rules_version": 1, "rules_sha256": "x", "matched": "[]",
                "actions": "[]", "no_update": "[]", "outcome": "", "at": "t"}
    sync.state.record_decision(decision, [{
        "key": "e1:r:mark_paid", "order_id": 1, "direction": "inbound",
        "action": "mark_paid", "params": {}, "rule_id": "r", "event": event, "at": "t"}])
    (stale,) = sync.state.pending_actions()
    sync.state.finish_action("e1:r:mark_paid", "done", "", "t")  # another task ran it

    summary = Summary()
    sync._execute(stale, summary)
    assert summary.actions == []
    # Not attempted again: the count is the one made when the action was recorded.
    assert sync.state.action("e1:r:mark_paid")["attempts"] == stale["attempts"] == 1  # type: ignore[index]


def test_a_worker_reads_every_stores_rules_at_start_and_shared_files_once(
        tmp_path: Path) -> None:
    """Sessions are made when the worker starts: a setting no rule file declares stops it
    there, not at that store's first task; stores with the same rule files share one read."""
    stores = store_entries({f"s{n}": "http://127.0.0.1:9" for n in (1, 2, 3)})
    path = tmp_path / "rulesync.yaml"
    env = {"RULESYNC_DATABASE_URL": "postgresql://127.0.0.1:9/none",
           **{f"S{n}_TOKEN": "t" for n in (1, 2, 3)}}
    path.write_text(f"version: 1\nstores:\n{stores}")
    sessions = Sessions(configuration.load(path, environ=env))  # no database needed yet
    (first, _), (second, _), (third, _) = (sessions._rules[f"s{n}"] for n in (1, 2, 3))
    assert first is second is third and set(first) == {"inbound", "outbound"}

    path.write_text(f"version: 1\nstores:\n{stores}    settings: {{auto_clos: true}}\n")
    with pytest.raises(ConfigError, match="unknown setting .auto_clos."):
        Sessions(configuration.load(path, environ=env))


def test_a_read_from_the_same_second_as_the_one_synced_but_unlike_it_is_read_again(
        world: tuple[LockedSync, Sandbox]) -> None:
    """The store's dates count whole seconds: a slice's page read before its locks, and a
    webhook's read synced in between, can share one date. Which is newer cannot be told, so
    the order is read again under its lock, and the older one is never applied on top."""
    sync, sb = world
    (order_id,) = sb.store.order_ids({})
    read = sync.store.order_change(order_id, sync.state.known_items_shipped)
    assert read.order is not None
    sync.store_change(read, Summary())
    decided, synced = len(sync.state.decisions(order_id)), sync.state.store_order(order_id)

    def reads() -> int:
        return sum(n for path, n in sb.api_calls().items() if path.endswith("/orders/{id}"))

    before = reads()
    sync.store_change(read, Summary())  # the same read again: nothing to ask the store
    assert reads() == before
    other = 10 if read.order["status_id"] == 11 else 11
    older = replace(read, order={**read.order, "status_id": other})  # type: ignore[type-var]
    summary = Summary()
    sync.store_change(older, summary)
    assert reads() == before + 1  # read again, and as the store has it
    assert sync.state.store_order(order_id) == synced and summary.failures == []
    assert len(sync.state.decisions(order_id)) == decided


def test_an_order_in_step_costs_two_round_trips_and_leaves_the_retry_set(
        world: tuple[LockedSync, Sandbox]) -> None:
    """Its lock goes with the read of what was last seen of it; what it writes (the order
    seen, its retry row deleted) goes with the unlock."""
    sync, sb = world
    (order_id,) = sb.store.order_ids({})
    sync.store_change(sync.store.order_change(order_id, sync.state.known_items_shipped),
                      Summary())
    sync.retries.failed(order_id, "inbound", "the store was down", "t", 0.0)
    again = sync.store.order_change(order_id, sync.state.known_items_shipped)
    trips: list[list[str]] = []  # each round trip's statements, what went ahead of it too
    db: Any = sync.state.db
    run = db._run
    db._run = lambda sql, params: trips.append([*(s for s, _ in db._leads), sql]) or run(
        sql, params)
    summary = Summary()
    sync.store_change(again, summary)
    assert summary.read == {order_id} and summary.failures == []
    assert [[sql.split(" FROM ")[0].split("(")[0] for sql in trip] for trip in trips] == [
        ["SELECT pg_advisory_lock", "SELECT *"], ["SELECT pg_advisory_unlock"]], trips
    assert sync.retries.entries(order_id) == []


def _slice(sync: LockedSync) -> Summary:
    """The store's change feed synced as one slice, as a worker's slice task does."""
    plan = sync.store.feed_plan("", 50)  # type: ignore[attr-defined]
    ((first, last),) = plan["slices"]
    summary = Summary()
    sync.store_changes(lambda known: sync.store.feed_slice(  # type: ignore[attr-defined]
        plan["cursor"], plan["lower"], plan["upper"], first, last, known), summary)
    return summary


def _trips(sync: LockedSync) -> list[list[str]]:
    """Each round trip to the state from now on: the first words of its statements."""
    trips: list[list[str]] = []
    db: Any = sync.state.db
    run = db._run
    db._run = lambda sql, params: trips.append([
        s.split(" FROM ")[0].split(" (")[0].split("(")[0]
        for s, _ in [*db._begin_with, *db._deferred, *db._leads, (sql, ())]]) or run(sql, params)
    return trips


def _held(sync: LockedSync, other: SqlState, ids: list[int]) -> list[bool]:
    """Whether each order's lock is held, as another connection finds it."""
    assert sync.locks is not None
    keys = [sync.locks._key("order", "s1", str(i)) for i in ids]
    free = [other.db.one("SELECT pg_try_advisory_lock(?)", (k,))[0] for k in keys]  # type: ignore[index]
    for key, got in zip(keys, free):
        if got:
            other.db.one("SELECT pg_advisory_unlock(?)", (key,))
    return [not got for got in free]


def test_a_pages_orders_are_synced_under_their_locks_taken_and_given_back_together(
        tmp_path: Path) -> None:
    with _world(tmp_path, 6) as (sync, sb, url):
        ids = sorted(sb.store.order_ids({}))
        other = SqlState(url)

        def held() -> list[bool]:
            return _held(sync, other, ids)

        store_change, seen = sync.store_change, []
        sync.store_change = lambda change, summary, **kw: (  # type: ignore[method-assign]
            seen.append(held()) or store_change(change, summary, **kw))
        first = _slice(sync)
        assert first.read == set(ids) and first.failures == []
        assert seen == [[True] * len(ids)] * len(ids)  # every order's sync: all the page's locks
        assert held() == [False] * len(ids)
        assert all(sync.state.store_order(i) for i in ids)

        del sync.store_change
        sync.retries.failed(ids[0], "inbound", "the store was down", "t", 0.0)
        trips = _trips(sync)
        again = _slice(sync)  # every order in step now
        assert again.read == set(ids) and again.actions == []
        assert trips == [["SELECT count", "SELECT *"],  # the locks, with the rows' one read
                         ["SELECT order_id, direction"],  # which are in the retry set
                         ["INSERT INTO sync_store_orders", "DELETE",  # only the first is
                          *["INSERT INTO sync_store_orders"] * (len(ids) - 1),
                          "SELECT count"]], trips  # what was seen, with the unlock
        assert sync.retries.waiting() == set()
        other.close()


def test_a_page_of_more_orders_than_a_group_locks_each_order_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """So few locks are held at once however large slice_orders is."""
    monkeypatch.setattr(syncing, "GROUP", 2)
    with _world(tmp_path, 3) as (sync, sb, _):
        trips = _trips(sync)
        summary = _slice(sync)
        assert summary.read == set(sb.store.order_ids({})) and summary.failures == []
        sent = [statement for trip in trips for statement in trip]
        assert sent.count("SELECT pg_advisory_lock") == 3 and "SELECT count" not in sent, trips


def test_a_page_of_more_orders_than_a_group_still_takes_a_synced_order_out_of_the_retry_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Such a page reads no retry entries with its rows: each order's delete is sent."""
    monkeypatch.setattr(syncing, "GROUP", 2)
    with _world(tmp_path, 3) as (sync, sb, _):
        ids = sorted(sb.store.order_ids({}))
        _slice(sync)
        sync.retries.failed(ids[1], "inbound", "the store was down", "t", 0.0)
        summary = _slice(sync)
        assert summary.read == set(ids) and summary.failures == []
        assert sync.retries.waiting() == set()


def test_a_slice_that_raised_holds_no_lock_and_trusts_nothing_read_under_them(
        tmp_path: Path) -> None:
    """The page's locks go with the error, and with them its rows and retry entries: an order
    of that page synced later, alone, still leaves the retry set."""
    with _world(tmp_path, 3) as (sync, sb, url):
        ids = sorted(sb.store.order_ids({}))
        _slice(sync)
        sync.retries.failed(ids[2], "inbound", "the store was down", "t", 0.0)
        plan = sync.store.feed_plan("", 50)  # type: ignore[attr-defined]
        ((first, last),) = plan["slices"]

        def failing(known: Any) -> Iterator[Any]:
            for n, change in enumerate(sync.store.feed_slice(  # type: ignore[attr-defined]
                    plan["cursor"], plan["lower"], plan["upper"], first, last, known)):
                if n == 1:
                    raise RuntimeError("the task failed here")
                yield change

        with pytest.raises(RuntimeError, match="failed here"):
            sync.store_changes(failing, Summary())
        other = SqlState(url)
        assert _held(sync, other, ids) == [False] * 3
        assert sync._waiting is None and sync._seen is None
        assert sync.retries.waiting() == {(ids[2], "inbound")}
        sync.store_change(sync.store.order_change(ids[2], sync.state.known_items_shipped),
                          Summary())
        assert sync.retries.entries(ids[2]) == []
        other.close()


def test_a_retry_task_retries_only_what_is_still_due(world: tuple[LockedSync, Sandbox]) -> None:
    """Beat queues a retry of each due order every retry_seconds; a second copy that finds the
    first one's failure rescheduled does not count another attempt."""
    sync, sb = world
    (order_id,) = sb.store.order_ids({})
    session: Any = SimpleNamespace(sync=sync)
    sync.retries.failed(order_id, "inbound", "the store was down", "t", time.time())
    (entry,) = sync.retries.entries(order_id)
    assert entry["next_attempt_at"] > iso(time.time())  # not due yet
    tasks.sync_order(session, order_id, [], False, True)
    assert sync.retries.entries(order_id) == [entry]
    sync.retries.due_now(order_id, time.time())
    tasks.sync_order(session, order_id, [], False, True)
    assert sync.retries.entries(order_id) == []  # retried: the store answers now


def test_a_retry_that_another_copy_made_meanwhile_is_not_made_again(
        world: tuple[LockedSync, Sandbox]) -> None:
    """Two copies of a retry message running at once both find the entry due before they take
    the order's lock; the second, once it holds the lock, finds it rescheduled by the first."""
    sync, sb = world
    (order_id,) = sb.store.order_ids({})
    sync.retries.failed(order_id, "inbound", "the store was down", "t", time.time())
    (entry,) = sync.retries.entries(order_id)  # rescheduled: what the first copy left
    sync.retry(order_id, "inbound", Summary())  # the second copy, past its look at the due ones
    assert sync.retries.entries(order_id) == [entry]


def _delivered(sync: LockedSync, sb: Sandbox) -> tuple[Any, int, list[int]]:
    """A worker's session, the store's one order, and the inbox ids of a delivery about it."""
    (order_id,) = sb.store.order_ids({})
    inbox = sync.state.inbox()
    assert inbox.add(f"h{order_id}", order_id, "store/order/updated", "{}", iso(time.time()))
    return SimpleNamespace(sync=sync), order_id, [row["id"] for row in inbox.pending()]


def test_a_webhooks_order_that_fails_to_sync_waits_in_the_retry_set_and_its_delivery_is_done(
        world: tuple[LockedSync, Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    """As `serve` without --queue: any failure of one order but a refused token or the state
    itself puts the order in the retry set, so that its delivery is not queued again and again."""
    sync, sb = world
    session, order_id, ids = _delivered(sync, sb)
    inbox = sync.state.inbox()

    def broken(*args: Any) -> None:
        raise KeyError("status_id")  # a bug, or a record no one foresaw

    monkeypatch.setattr(sync.store, "order_change", broken)
    summary = tasks.sync_order(session, order_id, ids, False, False)
    assert [f[:2] for f in summary.failures] == [(order_id, "inbound")]
    assert [e["direction"] for e in sync.retries.entries(order_id)] == ["inbound"]
    assert "status_id" in sync.retries.entries(order_id)[0]["reason"]
    assert inbox.pending() == [] and inbox.depth() == 0

    monkeypatch.undo()
    sync.retries.due_now(order_id, time.time())
    tasks.sync_order(session, order_id, [], False, True)
    assert sync.retries.entries(order_id) == []  # retried: the order syncs now


def test_a_webhook_task_whose_deliveries_are_done_already_reads_nothing(
        world: tuple[LockedSync, Sandbox]) -> None:
    """The relay queues a delivery again when it is not done 10 minutes on (a message lost); behind
    a long backlog both copies run, and the second costs no request of the store's quota."""
    sync, sb = world
    session, order_id, ids = _delivered(sync, sb)
    inbox = sync.state.inbox()
    tasks.sync_order(session, order_id, ids, False, False)
    assert inbox.undone(ids) == []
    calls = sb.app.api_calls()
    again = tasks.sync_order(session, order_id, ids, False, False)
    assert sb.app.api_calls() == calls and again.read == set()


def test_a_refused_token_keeps_a_webhooks_delivery_waiting(
        world: tuple[LockedSync, Sandbox]) -> None:
    sync, sb = world
    session, order_id, ids = _delivered(sync, sb)
    sb.app.token = "rotated"  # the store no longer accepts rulesync's token
    with pytest.raises(StoreError) as refused:
        tasks.sync_order(session, order_id, ids, False, False)
    assert refused.value.status == 401
    assert sync.state.inbox().depth() == 1 and sync.retries.entries(order_id) == []


def test_a_run_of_a_store_this_worker_does_not_know_fails_with_the_reason(
        tmp_path: Path) -> None:
    """A store added to the configuration but not to a running worker's: its run ends with a
    clear error instead of waiting for ever (the run's failure needs no session of the store)."""
    from engine.distributed.app import make_app, register
    from engine.distributed.runs import DONE, Runs
    from engine.distributed.settings import Settings

    with _world(tmp_path, 1) as (sync, _, url):
        sessions = Sessions(configuration.load(tmp_path / "rulesync.yaml", environ={
            "RULESYNC_DATABASE_URL": url, "S1_TOKEN": "token-s1"}))
        app = make_app(Settings(url="memory://"))
        register(app, Settings(url="memory://"), sessions)
        runs = Runs(sync.state.for_store("s2"))
        run_id, new = runs.open()
        assert new
        try:
            app.tasks["rulesync.catch_up"]("s2", run_id)
            run = runs.get(run_id)
            assert run is not None and run["stage"] == DONE
            assert "s2: not in this worker's configuration" in str(run["error"])
        finally:
            sessions.drop()


def test_beats_push_does_not_wait_for_another_pusher_of_the_store(tmp_path: Path) -> None:
    """One push at a time per store; beat queues one every push_seconds, and each waiting for a
    slow one would hold a worker thread of the orders queue, which webhooks need."""
    with _world(tmp_path, 1) as (sync, _, url):
        assert sync.locks is not None
        other = SqlState(url)
        key = sync.locks._key("distributed", "s1", "outbound")
        other.db.one("SELECT pg_advisory_lock(?)", (key,))
        try:
            pushed: list[int] = []
            session: Any = SimpleNamespace(sync=sync)
            pusher = threading.Thread(target=lambda: pushed.append(tasks.push(session, "")))
            pusher.start()
            pusher.join(10)
            assert not pusher.is_alive() and pushed == [0]
        finally:
            other.db.one("SELECT pg_advisory_unlock(?)", (key,))
            other.close()


def test_reading_one_order_leaves_the_change_feeds_own_question_alone(
        world: tuple[LockedSync, Sandbox]) -> None:
    """An order read again in the middle of a slice must not change what the rest of the
    slice's pages ask (their page locks, PageLocks)."""
    sync, sb = world
    (order_id,) = sb.store.order_ids({})
    feed: Any = sync.store._feed  # type: ignore[attr-defined]
    asked: list[int] = []
    feed.known = own = asked.append
    change = sync.store.order_change(order_id, lambda _: 0)
    assert change.order is not None and asked == []  # asked the question it was given
    assert feed.known is own
