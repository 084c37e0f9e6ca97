"""The sync state, on SQLite and on PostgreSQL: created on first use, migrated, refused when a
newer rulesync wrote it, one sync at a time."""
from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.errors import RulesyncError
from engine.storage.db import connect
from engine.storage.inbox import Inbox
from engine.storage.state import SqlState
from engine.storage.state_schema import MIGRATIONS, SCHEMA_VERSION
from tests.support import databases

BOUND = 120.0  # seconds; only reached when something is wrong
DECISION = {"order_id": 1, "direction": "inbound", "event_id": "e1", "event": "{}", "rules": "r",
            "rules_version": 1, "rules_sha256": "x", "matched": "[]", "actions": "[]",
            "no_update": "[]", "outcome": "recorded", "at": "t"}
ACTION = {"key": "e1:r:mark_paid", "order_id": 1, "direction": "inbound", "action": "mark_paid",
          "params": {}, "rule_id": "r", "event": "{}", "at": "t"}


def test_a_state_from_a_newer_rulesync_is_refused(location: str) -> None:
    state = SqlState(location)
    assert state.get_meta("schema_version") == str(SCHEMA_VERSION)
    state.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    state.close()
    with pytest.raises(RulesyncError, match="newer rulesync") as info:
        SqlState(location)
    noun = "file" if location.endswith(".sqlite") else "database"
    assert str(info.value).startswith(f"the state {noun} "), info.value


def test_a_version_1_state_is_migrated_and_keeps_its_rows(location: str) -> None:
    old = connect(location, "sync")
    with old.transaction():
        for statement in MIGRATIONS[0]:
            old.execute(old.ddl(statement))
        old.execute("INSERT INTO sync_meta (key, value) VALUES ('schema_version', '1'), "
                    "('inbound_cursor', 'c1')")
    old.close()
    state = SqlState(location)
    assert state.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert state.get_meta("inbound_cursor") == "c1"
    assert state.db.has_table("sync_retries")
    state.close()


def test_the_outbox_keeps_one_row_per_key_and_finishes_only_pending_rows(location: str) -> None:
    state = SqlState(location)
    row, action = dict(DECISION), dict(ACTION)
    # The first action runs next: its attempt is counted with the write, and its row says so.
    [written] = state.record_decision(row, [action])
    assert (written["attempts"], written.get("counted")) == (1, True)
    [again] = state.record_decision(row, [action])  # a rerun re-reading the same change
    assert (again["attempts"], again.get("counted")) == (1, None)  # counted when it runs
    assert [a["key"] for a in state.pending_actions()] == ["e1:r:mark_paid"]
    assert state.start_attempt("e1:r:mark_paid") == 2
    assert state.start_attempt("e1:r:mark_paid", durable=True) == 3
    assert state.start_attempt("no-such-key") == 0
    state.finish_action("e1:r:mark_paid", "done", "", "t")
    state.finish_action("e1:r:mark_paid", "failed", "late", "t")  # a stale second finisher
    assert state.action("e1:r:mark_paid")["status"] == "done"  # type: ignore[index]
    assert state.pending_actions() == []
    assert len(state.decisions(1)) == 1
    state.close()


def test_a_failed_delivery_waits_longer_each_time_then_is_dead(location: str) -> None:
    inbox = Inbox(SqlState(location))
    assert inbox.add("h1", 7, "store/order/created", "{}", "t")
    assert not inbox.add("h1", 7, "store/order/created", "{}", "t")  # same hash: one effect
    (row,) = inbox.pending()
    waits = []  # (the n-th failure's retry time - its call's start, - its call's end)
    for n in range(1, Inbox.MAX_ATTEMPTS + 1):
        inbox.state.db.execute("UPDATE sync_inbox SET retry_at = 0")
        before = time.time()
        inbox.failed([row["id"]], "boom")
        after = time.time()
        retry_at = float(inbox.state.db.one("SELECT retry_at FROM sync_inbox")[0])
        waits.append((retry_at - before, retry_at - after))
        if n == 1:  # not before its retry time (an hour away here: no slow machine reaches it)
            inbox.state.db.execute("UPDATE sync_inbox SET retry_at = ?", (after + 3600,))
            assert inbox.pending() == [] and inbox.depth() == 1
    assert inbox.dead() == 1 and inbox.depth() == 0
    # The n-th failure waits 2**n s from the time of its own call: 2, 4, 8, 16, then it is dead.
    for n, (from_start, from_end) in enumerate(waits[:-1], 1):
        assert from_end <= 2 ** n <= from_start, (n, waits)
    inbox.state.close()


def _holds_while_another_waits(first: SqlState, second: SqlState) -> bool:
    """Hold `first`'s sync lock; True if `second` then waits for it, and gets it once freed."""
    waited, got = threading.Event(), threading.Event()

    def other() -> None:
        with second.db.exclusive("sync", waited.set):
            got.set()

    with first.exclusive():
        thread = threading.Thread(target=other)
        thread.start()
        while not (waited.is_set() or got.is_set()):
            waited.wait(0.05)
        blocked = waited.is_set() and not got.is_set()
    thread.join(BOUND)
    assert got.is_set()
    return blocked


def test_one_sync_at_a_time_per_state(location: str) -> None:
    first, second = SqlState(location), SqlState(location)
    try:
        assert _holds_while_another_waits(first, second)
    finally:
        first.close()
        second.close()


def test_states_in_two_schemas_of_one_database_do_not_wait_for_each_other() -> None:
    with databases.fresh_schema() as one, databases.fresh_schema() as two:
        first, second = SqlState(one), SqlState(two)
        try:
            assert not _holds_while_another_waits(first, second)
        finally:
            first.close()
            second.close()


def test_a_lost_server_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(RulesyncError) as info:
        SqlState("postgresql://rulesync:s3cret@127.0.0.1:1/nowhere")
    message = str(info.value)
    assert message.startswith("cannot open the state database "
                              "postgresql://rulesync@127.0.0.1:1/nowhere: "), message
    assert "s3cret" not in message and "\n" not in message


def test_a_deferred_write_is_done_before_the_next_statement_and_kept_once_it_ran(
        location: str) -> None:
    """On PostgreSQL it travels with the next statement (committed before that one runs); on
    SQLite it is written at once. Either way the next statement, and every other connection
    after it, sees it, and a close sends what is still waiting."""
    one, other = connect(location, "sync"), connect(location, "sync")
    one.write("CREATE TABLE kept (k INTEGER PRIMARY KEY, v TEXT)")
    one.defer("INSERT INTO kept (k, v) VALUES (?, ?)", (1, "a"))
    assert one.rows("SELECT k, v FROM kept") == [(1, "a")]
    assert other.rows("SELECT k, v FROM kept") == [(1, "a")]
    one.defer("INSERT INTO kept (k, v) VALUES (?, ?)", (2, "b"))
    one.close()
    assert other.rows("SELECT k FROM kept ORDER BY k") == [(1,), (2,)]
    other.close()


def test_a_lead_statement_runs_before_the_next_one(location: str) -> None:
    """On PostgreSQL it waits for the next statement and goes in its round trip, ahead of it;
    on SQLite it runs at once."""
    one, other = connect(location, "sync"), connect(location, "sync")
    one.write("CREATE TABLE kept (k INTEGER PRIMARY KEY)")
    one.lead("INSERT INTO kept (k) VALUES (?)", (1,))
    assert other.rows("SELECT k FROM kept") == ([] if location.startswith("postgresql")
                                                 else [(1,)])
    assert one.rows("SELECT k FROM kept") == [(1,)]
    assert other.rows("SELECT k FROM kept") == [(1,)]
    one.close()
    other.close()


def test_a_write_deferred_in_a_transaction_is_part_of_it(location: str) -> None:
    db = connect(location, "sync")
    db.write("CREATE TABLE kept (k INTEGER PRIMARY KEY)")
    with pytest.raises(RuntimeError), db.transaction() as t:
        t.defer("INSERT INTO kept (k) VALUES (?)", (1,))
        raise RuntimeError("rolled back")
    with db.transaction() as t:
        t.execute("INSERT INTO kept (k) VALUES (?)", (2,))
        t.defer("INSERT INTO kept (k) VALUES (?)", (3,))  # sent with the COMMIT
    assert db.rows("SELECT k FROM kept ORDER BY k") == [(2,), (3,)]
    db.close()


def test_a_deferred_write_that_fails_is_an_error_and_the_connection_goes_on(
        location: str) -> None:
    db = connect(location, "sync")
    db.write("CREATE TABLE kept (k INTEGER PRIMARY KEY)")
    db.write("INSERT INTO kept (k) VALUES (1)")
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        db.defer("INSERT INTO kept (k) VALUES (?)", (1,))
        db.one("SELECT 1")  # on PostgreSQL the error comes with the statement it travelled with
    assert db.rows("SELECT k FROM kept") == [(1,)]
    db.defer("INSERT INTO kept (k) VALUES (?)", (2,))
    assert db.rows("SELECT k FROM kept ORDER BY k") == [(1,), (2,)]
    db.close()


def test_a_deferred_write_that_fails_at_commit_rolls_the_transaction_back(location: str) -> None:
    db = connect(location, "sync")
    db.write("CREATE TABLE kept (k INTEGER PRIMARY KEY)")
    db.write("INSERT INTO kept (k) VALUES (1)")
    with pytest.raises(Exception, match="(?i)unique|duplicate"), db.transaction() as t:
        t.execute("INSERT INTO kept (k) VALUES (?)", (2,))
        t.defer("INSERT INTO kept (k) VALUES (?)", (1,))  # on PostgreSQL it fails at COMMIT
    assert not db.in_transaction()
    assert db.rows("SELECT k FROM kept") == [(1,)]  # nor 2: the transaction was rolled back
    with db.transaction() as t:
        t.execute("INSERT INTO kept (k) VALUES (?)", (3,))
    assert db.rows("SELECT k FROM kept ORDER BY k") == [(1,), (3,)]
    db.close()


def test_what_rulesync_wrote_to_the_store_is_remembered_at_once(location: str) -> None:
    """A remember after a store write must survive a crash right after it (else the next run
    reads rulesync's own write as a change); only the sync's own reads may be deferred."""
    state, other = SqlState(location), SqlState(location)
    state.remember_store_order(7, status_id=11)
    assert other.store_order(7)["status_id"] == 11  # type: ignore[index]
    state.remember_store_order(7, deferred=True, status_id=12)
    if location.startswith("postgresql"):
        assert other.store_order(7)["status_id"] == 11  # type: ignore[index]
    assert state.store_order(7)["status_id"] == 12  # type: ignore[index]
    assert other.store_order(7)["status_id"] == 12  # type: ignore[index]
    state.close()
    other.close()



def test_statements_written_together_give_the_last_ones_rows_or_change_nothing(
        location: str) -> None:
    """`transaction_dicts`: on PostgreSQL one round trip, BEGIN and COMMIT included."""
    state = SqlState(location)
    db: Any = state.db
    insert = "INSERT INTO sync_meta (key, value) VALUES (?, ?)"
    sent: list[str] = []
    run = db._run
    db._run = lambda sql, params: sent.append(sql) or run(sql, params)
    rows = db.transaction_dicts([(insert, ("a", "1")), (f"{insert} RETURNING key, value",
                                                        ("b", "2"))])
    assert rows == [{"key": "b", "value": "2"}] and not db.in_transaction()
    if db.dialect == "postgresql":
        assert len(sent) == 1, sent
    with pytest.raises(db.errors):  # b is there already: c goes with it
        db.transaction_dicts([(insert, ("c", "3")), (f"{insert} RETURNING key", ("b", "x"))])
    assert not db.in_transaction()
    assert db.rows("SELECT key, value FROM sync_meta WHERE key IN ('a', 'b', 'c') ORDER BY key"
                   ) == [("a", "1"), ("b", "2")]
    state.close()

def test_the_same_action_twice_in_one_decision_runs_once(location: str) -> None:
    state = SqlState(location)
    row, action = dict(DECISION), dict(ACTION)
    first, second = state.record_decision(row, [action, dict(action)])
    assert first["status"] == "pending" and second == {}
    state.close()


def test_an_order_lock_sent_with_the_first_read_is_held_before_that_read_runs() -> None:
    """`order(id, lead=True)` saves the lock its own round trip; the read it travels with
    still waits for another holder of the lock."""
    from engine.distributed.locks import Locks

    with databases.fresh_schema() as url:
        state, other = SqlState(url), SqlState(url)
        locks, read = Locks(state), threading.Event()

        def sync_the_order() -> None:
            with locks.order(5, lead=True):
                state.store_order(5)
                read.set()

        with Locks(other).order(5):
            thread = threading.Thread(target=sync_the_order)
            thread.start()
            assert not read.wait(0.5)  # the read is behind the lock it travels with
        thread.join(BOUND)
        assert read.is_set()
        key = locks._key("order", "default", "5")
        assert other.db.one("SELECT pg_try_advisory_lock(?)", (key,)) == (True,)
        state.close()
        other.close()



def test_a_groups_order_locks_are_taken_in_one_statement_and_given_back_in_one() -> None:
    """`orders(ids)`: one statement for the group, nested locks of its orders cost none, and
    what was written under them is committed before they go."""
    from engine.distributed.locks import Locks

    with databases.fresh_schema() as url:
        state, other = SqlState(url), SqlState(url)
        locks, sent = Locks(state), []
        run = state.db._run  # type: ignore[attr-defined]
        state.db._run = lambda sql, params: sent.append(sql) or run(sql, params)  # type: ignore[attr-defined]
        keys = [locks._key("order", "default", str(i)) for i in (9, 3, 5)]

        def held_by_state() -> list[bool]:
            return [not other.db.one("SELECT pg_try_advisory_lock(?)", (key,))[0]  # type: ignore[index]
                    for key in keys]

        with locks.orders([9, 3, 5]):
            with locks.order(3) as taken_here:
                assert not taken_here  # the group holds it: no statement
            state.remember_store_order(3, deferred=True, status_id=2, date_modified="t")
            assert held_by_state() == [True] * 3
        assert len(sent) == 2 and "unnest" in sent[0] and "unnest" in sent[1], sent
        assert other.store_order(3)["status_id"] == 2  # type: ignore[index]
        assert held_by_state() == [False] * 3
        state.close()
        other.close()

def _until_waiting(waiter: SqlState, other: SqlState) -> None:
    """Until `waiter`'s connection waits for a lock (as `other` sees it)."""
    pid = waiter.db.conn.info.backend_pid  # type: ignore[attr-defined]
    deadline = time.monotonic() + BOUND
    while not other.db.one("SELECT count(*) FROM pg_locks WHERE pid = ? AND NOT granted",
                           (pid,))[0]:  # type: ignore[index]
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_read_led_by_a_lock_sees_what_its_holder_committed_whatever_the_default_isolation(
        ) -> None:
    """The lock and the read go in one implicit transaction: under a server or URL default of
    REPEATABLE READ its snapshot would predate the wait. rulesync's connections read committed."""
    from engine.distributed.locks import Locks

    with databases.fresh_schema() as url:
        strict = url + "%20-cdefault_transaction_isolation%3Drepeatable%5C%20read"
        state, other = SqlState(strict), SqlState(strict)
        other.remember_store_order(5, status_id=1, date_modified="before")
        seen: dict[str, object] = {}

        def sync_the_order() -> None:
            with Locks(state).order(5, lead=True):
                seen.update(state.store_order(5) or {})

        with Locks(other).order(5):
            thread = threading.Thread(target=sync_the_order)
            thread.start()
            _until_waiting(state, other)
            other.remember_store_order(5, status_id=2, date_modified="after")
        thread.join(BOUND)
        assert seen["date_modified"] == "after"
        state.close()
        other.close()


@pytest.mark.parametrize("body_raises", [True, False])
def test_a_connection_lost_under_an_order_lock_costs_nothing_at_its_release(
        body_raises: bool) -> None:
    """The server takes the lock with the connection: with nothing left to write, the release
    is no error, and the block's own error is the one that comes out."""
    from engine.distributed.locks import Locks

    with databases.fresh_schema() as url:
        state, other = SqlState(url), SqlState(url)
        with pytest.raises(LookupError) if body_raises else contextlib.nullcontext():
            with Locks(state).order(5):
                state.store_order(5)
                other.db.one("SELECT pg_terminate_backend(?)",
                             (state.db.conn.info.backend_pid,))  # type: ignore[attr-defined]
                if body_raises:
                    raise LookupError("the store does not know the order")
        other.close()


def test_a_lock_led_in_is_taken_before_a_write_transaction_begins() -> None:
    """Else it would wait for the order inside a transaction holding the write lock, which the
    order's holder may need (a deadlock)."""
    from engine.distributed.locks import Locks

    with databases.fresh_schema() as url:
        state, other = SqlState(url), SqlState(url)
        state.db.write("CREATE TABLE kept (k INTEGER PRIMARY KEY)")
        done: list[str] = []

        def write_under_the_lock() -> None:
            with Locks(state).order(6, lead=True), state.db.transaction():
                state.db.execute("INSERT INTO kept (k) VALUES (1)")
            done.append("led")

        with Locks(other).order(6):
            thread = threading.Thread(target=write_under_the_lock)
            thread.start()
            _until_waiting(state, other)
            with other.db.transaction():  # the holder writes under the order's lock
                other.db.execute("INSERT INTO kept (k) VALUES (2)")
        thread.join(BOUND)
        assert done == ["led"]
        assert other.db.rows("SELECT k FROM kept ORDER BY k") == [(1,), (2,)]
        state.close()
        other.close()


def test_an_order_lock_goes_even_when_a_write_deferred_under_it_fails() -> None:
    """PostgreSQL's order locks (distributed mode): the release first commits what was written
    under the lock; a deferred write that fails there is an error, and the lock goes anyway."""
    from engine.distributed.locks import Locks

    with databases.fresh_schema() as url:
        state, other = SqlState(url), SqlState(url)
        state.db.write("CREATE TABLE kept (k INTEGER PRIMARY KEY)")
        state.db.write("INSERT INTO kept (k) VALUES (1)")
        locks = Locks(state)
        with pytest.raises(Exception, match="(?i)unique|duplicate"), locks.order(5):
            state.db.defer("INSERT INTO kept (k) VALUES (?)", (1,))
        key = locks._key("order", "default", "5")
        assert other.db.one("SELECT pg_try_advisory_lock(?)", (key,)) == (True,)
        state.close()
        other.close()
