"""One state, several stores: every row keyed by its store (state schema 3), on SQLite and on
PostgreSQL, and the migration that takes a one-store state there without losing a row."""
from __future__ import annotations

import threading
from typing import Any

from engine.storage import db as databases
from engine.storage.migrate import build
from engine.storage.retries import RetrySet
from engine.storage.state import SqlState
from engine.storage.state_schema import SCHEMA_VERSION, VERSIONED

T = 1_790_000_000.0
DECISION = {"order_id": 101, "direction": "inbound", "event_id": "e-1", "event": "{}",
            "rules": "r", "rules_version": 1, "rules_sha256": "x", "matched": "[]",
            "actions": "[]", "no_update": "[]", "outcome": "recorded", "at": "t"}
ACTION = {"key": "e-1:0", "order_id": 101, "direction": "inbound", "action": "import_order",
          "params": {}, "rule_id": "r1", "event": "{}", "at": "t"}


def _fill(state: SqlState, status_id: int) -> None:
    """The same order, event, action key and delivery hash in a store."""
    state.set_meta("inbound_cursor", f"cursor-{state.store}")
    state.remember_store_order(101, status_id=status_id, items_shipped=0, date_modified="d")
    state.record_decision(dict(DECISION), [dict(ACTION)])
    state.inbox().add("same-hash", 101, "store/order/updated", "{}", "t")
    RetrySet(state).failed(101, "inbound", f"broken in {state.store}", "t", T)


def test_two_stores_share_a_state_without_seeing_each_other(location: str) -> None:
    eu, us = SqlState(location, "eu"), SqlState(location, "us")
    try:
        _fill(eu, 11)
        _fill(us, 2)
        for state, status_id in ((eu, 11), (us, 2)):
            assert state.get_meta("inbound_cursor") == f"cursor-{state.store}"
            assert state.store_order(101)["status_id"] == status_id  # type: ignore[index]
            assert [d["event_id"] for d in state.decisions(101)] == ["e-1"]
            assert [a["key"] for a in state.pending_actions()] == ["e-1:0"]
            assert [r["id"] for r in state.inbox().pending()] != []
            assert state.inbox().depth() == 1
            assert [e["reason"] for e in RetrySet(state).entries()] == [
                f"broken in {state.store}"]
        eu.finish_action("e-1:0", "done", "imported", "t")
        RetrySet(eu).forget(101)
        assert eu.pending_actions() == [] and [a["key"] for a in us.pending_actions()] == ["e-1:0"]
        assert RetrySet(eu).entries() == [] and len(RetrySet(us).entries()) == 1
        assert us.for_store("eu").pending_actions() == []  # a view through the same connection
        default = SqlState(location)
        assert default.get_meta("inbound_cursor") == ""  # the default store has none
        default.close()
    finally:
        eu.close()
        us.close()


def test_one_stores_sync_lock_does_not_hold_up_another(location: str) -> None:
    eu, eu_again, us = (SqlState(location, s) for s in ("eu", "eu", "us"))
    entered: dict[str, bool] = {}
    waited: list[str] = []

    def take(state: SqlState) -> None:
        with state.db.exclusive(f"{state.store}.sync", lambda: waited.append(state.store)):
            entered[state.store] = True

    try:
        with eu.exclusive():
            other = threading.Thread(target=take, args=(us,))
            other.start()
            other.join(timeout=60)  # a bound on a hang, not a speed check
            assert entered == {"us": True} and waited == []
            same = threading.Thread(target=take, args=(eu_again,))
            same.start()
            while not waited:  # it reports waiting for the lock this test holds
                same.join(timeout=0.05)
            assert "eu" not in entered
        same.join(timeout=60)
        assert entered == {"us": True, "eu": True} and waited == ["eu"]
    finally:
        for state in (eu, eu_again, us):
            state.close()


def _version_2(location: str) -> databases.Database:
    db = databases.connect(location, "sync")
    with db.transaction():
        for statement in VERSIONED.prepare:
            db.execute(db.ddl(statement))
        build(db, VERSIONED, 0, 2)
        VERSIONED.write(db, 2)
    return db


def test_a_version_2_state_becomes_the_default_stores_and_keeps_every_row(location: str) -> None:
    old = _version_2(location)
    rows: dict[str, tuple[Any, ...]] = {
        "sync_store_orders (order_id, status_id, items_shipped, date_modified)":
            (101, 11, 2, "d"),
        "sync_inbox (id, hash, order_id, scope, payload, received_at)":
            (7, "h", 101, "store/order/updated", "{}", "t"),
        "sync_outbox (key, seq, order_id, direction, action, params, rule_id, event, "
        "created_at, updated_at)": ("k", 1, 101, "inbound", "import_order", "{}", "r", "{}", "t",
                                    "t"),
        "sync_retries (order_id, direction, reason, attempts, first_failed_at, "
        "last_failed_at, next_attempt_at)": (101, "inbound", "why", 2, "t", "t", T),
        "sync_decisions (order_id, direction, event_id, event, rules, rules_version, "
        "rules_sha256, matched, actions, no_update, outcome, at)": (
            101, "inbound", "e-1", "{}", "r", 1, "x", "[]", "[]", "[]", "recorded", "t"),
        "sync_meta (key, value)": ("inbound_cursor", "kept")}
    with old.transaction():
        for table, values in rows.items():
            old.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values))})", values)
    old.close()
    state = SqlState(location)
    try:
        assert state.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert state.get_meta("inbound_cursor") == "kept"
        assert state.store_order(101) == {"store": "default", "order_id": 101, "status_id": 11,
                                          "items_shipped": 2, "date_modified": "d",
                                          "writing_status": None}
        assert state.action("k")["status"] == "pending"  # type: ignore[index]
        assert [d["event_id"] for d in state.decisions(101)] == ["e-1"]
        assert [e["reason"] for e in RetrySet(state).entries()] == ["why"]
        assert state.inbox().depth() == 1
        state.inbox().add("h2", 102, "store/order/created", "{}", "t")
        ids = [r["id"] for r in state.db.dicts("SELECT id FROM sync_inbox ORDER BY id")]
        assert ids[0] == 7 and ids[1] > 7  # ids go on after the migrated ones
        assert state.for_store("eu").store_order(101) is None
    finally:
        state.close()


def test_a_migration_to_version_3_that_fails_midway_leaves_version_2_whole(location: str
                                                                           ) -> None:
    """A failure (or a kill) between the rebuilt tables: nothing of version 3 is left, the
    rows are where they were, and the next open migrates them."""
    from dataclasses import replace

    from engine.errors import DatabaseError
    from engine.storage.migrate import migrate
    from engine.storage.state_stores import BY_STORE

    old = _version_2(location)
    with old.transaction():
        for i in range(1, 4):
            old.execute("INSERT INTO sync_inbox (hash, order_id, scope, payload, received_at) "
                        "VALUES (?, 101, 'store/order/updated', '{}', 't')", (f"h{i}",))
        old.execute("DELETE FROM sync_inbox WHERE hash = 'h3'")  # its id is never given again
    midway = BY_STORE.index("CREATE INDEX sync_outbox_pending ON sync_outbox (store, status, seq)")
    broken = replace(VERSIONED, migrations=(*VERSIONED.migrations[:2],
                                            (*BY_STORE[:midway], "SELECT nonsense")))
    try:
        try:
            migrate(old, broken)
        except DatabaseError as e:
            assert "nonsense" in str(e)
        else:
            raise AssertionError("the broken migration went through")
        assert VERSIONED.read(old) == 2
        assert [r[0] for r in old.rows("SELECT id FROM sync_inbox ORDER BY id")] == [1, 2]
        assert not old.has_table("sync_inbox_v3") and not old.has_table("sync_store_orders_v3")
    finally:
        old.close()
    state = SqlState(location)
    try:
        assert state.get_meta("schema_version") == str(SCHEMA_VERSION) and state.inbox().depth() == 2
        state.inbox().add("h4", 102, "store/order/created", "{}", "t")
        ids = [r[0] for r in state.db.rows("SELECT id FROM sync_inbox ORDER BY id")]
        assert ids[:2] == [1, 2] and ids[2] > 3  # (PostgreSQL's failed attempt left a gap)
    finally:
        state.close()
