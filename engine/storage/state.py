"""The durable sync state: watermarks, what the store looked like, inbox, outbox, decision log.

`SqlState` keeps it in the ledger's database (a SQLite file or PostgreSQL, engine/storage/db.py), through
its own connection, in tables prefixed `sync_`. Everything lives in the database, nothing in
process memory, so two processes, on one machine or several, or a restarted one see the same
state.
"""
from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine.connect.ports import DEFAULT_STORE, Plugin
from engine.errors import RulesyncError
from engine.storage import db as databases
from engine.storage.db import Database, DatabaseError
from engine.storage.migrate import Step, Versioned, migrate
from engine.storage.state_stores import BY_STORE

if TYPE_CHECKING:
    from engine.storage.retries import RetrySet

log = logging.getLogger("rulesync.state")
# Each entry takes the file from the previous schema version to this one. Append only, never
# edit a released entry: files in the field already ran it. Version 1 keeps IF NOT EXISTS
# because files written before the version was recorded already have its tables.
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    (  # version 1
        """CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS sync_store_orders (
            order_id INTEGER PRIMARY KEY, status_id INTEGER,
            items_shipped INTEGER NOT NULL DEFAULT 0, date_modified TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE IF NOT EXISTS sync_inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE, order_id INTEGER,
            scope TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
            retry_at REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE IF NOT EXISTS sync_outbox (
            key TEXT PRIMARY KEY, seq INTEGER NOT NULL, order_id INTEGER NOT NULL,
            direction TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL,
            rule_id TEXT NOT NULL, event TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'done', 'noop', 'conflict', 'failed')),
            outcome TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        """CREATE INDEX IF NOT EXISTS sync_outbox_pending ON sync_outbox (status, seq)""",
        """CREATE TABLE IF NOT EXISTS sync_decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL,
            direction TEXT NOT NULL, event_id TEXT NOT NULL, event TEXT NOT NULL,
            rules TEXT NOT NULL, rules_version INTEGER, rules_sha256 TEXT NOT NULL,
            matched TEXT NOT NULL, actions TEXT NOT NULL, no_update TEXT NOT NULL,
            outcome TEXT NOT NULL, at TEXT NOT NULL)""",
        """CREATE INDEX IF NOT EXISTS sync_decisions_order ON sync_decisions (order_id, id)""",
        # One decision per event: a rerun that re-reads the same change does not log it twice.
        """CREATE UNIQUE INDEX IF NOT EXISTS sync_decisions_event
            ON sync_decisions (direction, event_id)""",
    ),
    (  # version 2: the retry set, one row per order and direction that failed (engine/storage/retries.py)
        """CREATE TABLE sync_retries (
            order_id INTEGER NOT NULL, direction TEXT NOT NULL, reason TEXT NOT NULL,
            attempts INTEGER NOT NULL, first_failed_at TEXT NOT NULL,
            last_failed_at TEXT NOT NULL, next_attempt_at REAL NOT NULL,
            PRIMARY KEY (order_id, direction))""",
        """CREATE INDEX sync_retries_due ON sync_retries (next_attempt_at)""",
    ),
    BY_STORE,  # version 3: every row keyed by its store (engine/storage/state_stores.py)
    (  # version 4: a store's newest decisions along an index, not by sorting all of its own
        """CREATE INDEX sync_decisions_recent ON sync_decisions (store, id)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
PREPARE = ("CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",)


def schema_version(db: Database) -> int:
    """The version the state was written with; 0 for a new database."""
    if not db.has_table("sync_meta"):
        return 0
    row = db.one("SELECT value FROM sync_meta WHERE key = 'schema_version'")
    return int(row[0]) if row else 0


def _record(db: Database, version: int) -> None:
    db.execute("INSERT INTO sync_meta (key, value) VALUES ('schema_version', ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))


def _too_new(found: int, known: int, where: str) -> RulesyncError:
    return RulesyncError(f"the state {_noun(where)} {where} was written by a newer rulesync "
                         f"(state schema {found}, this one knows {known}): upgrade rulesync")


def _noun(where: str) -> str:
    return "database" if databases.is_url(where) else "file"


VERSIONED = Versioned(MIGRATIONS, PREPARE, schema_version, _record, _too_new)


class State(Protocol):
    def get_meta(self, key: str, default: str = "") -> str: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def store_order(self, order_id: int) -> dict[str, Any] | None: ...
    def remember_store_order(self, order_id: int, **fields: Any) -> None: ...
    def record_decision(self, row: dict[str, Any], actions: list[dict[str, Any]]) -> None: ...
    def pending_actions(self) -> list[dict[str, Any]]: ...
    def action(self, key: str) -> dict[str, Any] | None: ...
    def start_attempt(self, key: str, durable: bool = False) -> int: ...
    def finish_action(self, key: str, status: str, outcome: str, at: str) -> None: ...
    def decisions(self, order_id: int) -> list[dict[str, Any]]: ...
    def held_changes(self) -> list[tuple[int, int]]: ...
    def release_held(self, through: int) -> None: ...


def meta_key(store: str, key: str) -> str:
    """A store's value in sync_meta: the default store's under the bare key (as before there
    were several stores), another's as `store/key`."""
    return key if store == DEFAULT_STORE else f"{store}/{key}"


class SqlState:
    """One store's view of the state: every read and write is that store's."""

    def __init__(self, location: str | Path, store: str = DEFAULT_STORE) -> None:
        self.location, self.where, self.store = location, str(location), store
        try:
            if not databases.is_url(location):
                Path(location).parent.mkdir(parents=True, exist_ok=True)
            # The state's commits need not wait for the disk, but for the few that something
            # outside the database relies on (durable=True below): what a server crash loses of
            # the rest, the next run derives again from the store and the ledger.
            self.db = databases.connect(location, "sync", durable=False)
        except (OSError, DatabaseError) as e:
            reason = e.reason if isinstance(e, DatabaseError) else e
            raise RulesyncError(f"cannot open the state {_noun(self.where)} "
                                f"{getattr(e, 'where', self.where)}: {reason}") from None
        self.where = self.db.where
        try:
            migrate(self.db, VERSIONED)
        except DatabaseError as e:
            self.db.close()
            raise RulesyncError(f"cannot open the state {_noun(self.where)} {self.where}: "
                                f"{e.reason}") from None
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def for_store(self, store: str) -> SqlState:
        """Another store's view through the same connection."""
        other = copy.copy(self)
        other.store = store
        return other

    def retries(self) -> RetrySet:
        from engine.storage.retries import RetrySet  # which builds on this class

        return RetrySet(self)

    def inbox(self) -> Inbox:
        return Inbox(self)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One sync at a time per state, across processes (`apply` from cron beside `serve`)
        and, on PostgreSQL, across machines: a file lock beside a SQLite file, an advisory lock
        on PostgreSQL (engine/storage/db.py). Either ends with the process that holds it, even one
        killed by SIGKILL, so a crash never leaves it held."""
        def waiting() -> None:
            of = f" of store {self.store}" if self.store != DEFAULT_STORE else ""
            log.warning("waiting for another rulesync sync%s on %s to finish", of, self.where)

        with self.db.exclusive(meta_key(self.store, "sync").replace("/", "."), waiting):
            yield

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        with self.db.transaction() as db:
            yield db

    def get_meta(self, key: str, default: str = "") -> str:
        row = self.db.one("SELECT value FROM sync_meta WHERE key = ?", (meta_key(self.store, key),))
        return str(row[0]) if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.write("INSERT INTO sync_meta (key, value) VALUES (?, ?) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      (meta_key(self.store, key), value))

    def store_order(self, order_id: int) -> dict[str, Any] | None:
        rows = self.db.dicts("SELECT * FROM sync_store_orders WHERE store = ? AND order_id = ?",
                             (self.store, order_id))
        return rows[0] if rows else None

    def remember_store_order(self, order_id: int, **fields: Any) -> None:
        """What rulesync last saw (or itself wrote) of a store order; read back, it is no change."""
        cols = ", ".join(fields)
        updates = ", ".join(f"{k} = excluded.{k}" for k in fields)
        self.db.write(f"INSERT INTO sync_store_orders (store, order_id, {cols}) VALUES "
                      f"(?, ?{', ?' * len(fields)}) ON CONFLICT (store, order_id) "
                      f"DO UPDATE SET {updates}", (self.store, order_id, *fields.values()))

    def known_items_shipped(self, order_id: int) -> int | None:
        row = self.store_order(order_id)
        return None if row is None else int(row["items_shipped"])

    def record_decision(self, row: dict[str, Any], actions: list[dict[str, Any]]) -> None:
        """The decision and its actions, written together before any action runs.

        A decision that ended in an error is replaced when its event is decided again, and a
        failed action decided again is pending again with the event as read now: that is how a
        retry re-runs the work. Its attempt count is kept, so a store shipment is looked for
        before it is posted again."""
        row = {**row, "store": self.store}
        decision = (f"INSERT INTO sync_decisions ({', '.join(row)}) VALUES "
                    f"({', '.join('?' * len(row))}) ON CONFLICT (store, direction, event_id) "
                    f"DO UPDATE SET {', '.join(f'{k} = excluded.{k}' for k in row)} "
                    "WHERE sync_decisions.outcome LIKE 'error%'")
        if not actions:  # most decisions: one statement, its own transaction
            self.db.write(decision, list(row.values()))
            return
        with self.transaction() as c:
            c.execute(decision, list(row.values()))
            last = c.one("SELECT coalesce(max(seq), 0) FROM sync_outbox")
            seq = int(last[0]) if last else 0
            for i, a in enumerate(actions, 1):
                c.execute("INSERT INTO sync_outbox (store, key, seq, order_id, direction, action, "
                          "params, rule_id, event, created_at, updated_at) VALUES "
                          "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, key) DO UPDATE SET "
                          "status = 'pending', params = excluded.params, "
                          "event = excluded.event, updated_at = excluded.updated_at "
                          "WHERE sync_outbox.status = 'failed'",
                          (self.store, a["key"], seq + i, a["order_id"], a["direction"], a["action"],
                           json.dumps(a["params"]), a["rule_id"], a["event"], a["at"], a["at"]))

    def failed_actions(self, order_id: int, direction: str) -> list[dict[str, Any]]:
        return self.db.dicts("SELECT * FROM sync_outbox WHERE store = ? AND order_id = ? AND "
                             "direction = ? AND status = 'failed' ORDER BY seq",
                             (self.store, order_id, direction))

    def reopen_action(self, key: str, at: str) -> None:
        """A failed action is pending again, for a retry (attempts are kept)."""
        with self.transaction() as c:
            c.execute("UPDATE sync_outbox SET status = 'pending', updated_at = ? "
                      "WHERE store = ? AND key = ? AND status = 'failed'", (at, self.store, key))

    def failed_decisions(self, order_id: int, direction: str) -> list[dict[str, Any]]:
        """Decisions of the order whose evaluation failed, with their events."""
        rows = self.db.dicts("SELECT * FROM sync_decisions WHERE store = ? AND order_id = ? AND "
                             "direction = ? AND outcome LIKE 'error%' ORDER BY id",
                             (self.store, order_id, direction))
        return [{**r, "event": json.loads(r["event"])} for r in rows]

    def pending_actions(self) -> list[dict[str, Any]]:
        return self.db.dicts("SELECT * FROM sync_outbox WHERE store = ? AND status = 'pending' "
                             "ORDER BY seq", (self.store,))

    def action(self, key: str) -> dict[str, Any] | None:
        rows = self.db.dicts("SELECT * FROM sync_outbox WHERE store = ? AND key = ?",
                             (self.store, key))
        return rows[0] if rows else None

    def start_attempt(self, key: str, durable: bool = False) -> int:
        """Count the attempt before the effect: a later run knows it may have happened.
        ``durable``: on disk first, for an effect outside the database (a store write)."""
        with self.db.transaction(durable=durable) as c:
            c.execute("UPDATE sync_outbox SET attempts = attempts + 1 WHERE store = ? AND key = ?",
                      (self.store, key))
            row = c.one("SELECT attempts FROM sync_outbox WHERE store = ? AND key = ?",
                        (self.store, key))
            return int(row[0]) if row else 0

    def finish_action(self, key: str, status: str, outcome: str, at: str) -> None:
        self.db.write("UPDATE sync_outbox SET status = ?, outcome = ?, updated_at = ? "
                      "WHERE store = ? AND key = ? AND status = 'pending'",
                      (status, outcome, at, self.store, key))

    def decisions(self, order_id: int) -> list[dict[str, Any]]:
        rows = self.db.dicts("SELECT * FROM sync_decisions WHERE store = ? AND order_id = ? "
                             "ORDER BY id", (self.store, order_id))
        out = []
        for d in rows:
            for k in ("event", "matched", "actions", "no_update"):
                d[k] = json.loads(d[k])
            d["action_outcomes"] = [self.action(a["key"]) for a in d["actions"]]
            out.append(d)
        return out

    def held_changes(self) -> list[tuple[int, int]]:
        """(decision id, order id) of the ledger changes held back while push_order_info was
        off (decision outcome "held") and not yet pushed by `apply --push-current`."""
        after = int(self.get_meta("held_released_through", "0"))
        rows = self.db.rows("SELECT id, order_id FROM sync_decisions WHERE store = ? AND "
                            "direction = 'outbound' AND outcome = 'held' AND id > ? ORDER BY id",
                            (self.store, after))
        return [(int(i), int(o)) for i, o in rows]

    def release_held(self, through: int) -> None:
        """Held changes up to decision `through` have had their orders' present state pushed."""
        self.set_meta("held_released_through", str(through))


class Inbox:
    """The durable queue of webhook deliveries, one connection per thread that uses it."""

    def __init__(self, state: SqlState) -> None:
        self.state, self.store = state, state.store

    def add(self, hash_: str, order_id: int, scope: str, payload: str, at: str) -> bool:
        """Queue a delivery; False for a duplicate (same hash: one effect, FACTS §7). On disk
        before it returns: the sender is told it arrived."""
        with self.state.db.transaction(durable=True) as c:
            return c.execute("INSERT INTO sync_inbox (store, hash, order_id, scope, payload, "
                             "received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                             (self.store, hash_, order_id, scope, payload, at)) == 1

    MAX_ATTEMPTS = 5  # then the delivery is kept, "dead", for a person to look at

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        return self.state.db.dicts(
            "SELECT id, order_id, scope FROM sync_inbox WHERE store = ? AND done = 0 AND "
            "attempts < ? AND retry_at <= ? ORDER BY id LIMIT ?",
            (self.store, self.MAX_ATTEMPTS, time.time(), limit))

    def oldest_age(self) -> int:
        """Whole seconds the oldest queued delivery has waited; 0 when none waits."""
        row = self.state.db.one(
            "SELECT min(received_at) FROM sync_inbox WHERE store = ? AND done = 0 AND "
            "attempts < ?", (self.store, self.MAX_ATTEMPTS))
        if not row or not row[0]:
            return 0
        return max(0, int(time.time() - datetime.fromisoformat(row[0]).timestamp()))

    def failed(self, ids: list[int], error: str) -> None:
        """Try again later, 2, 4, 8, 16 s after each failure, then keep it as dead."""
        with self.state.transaction() as c:
            c.executemany("UPDATE sync_inbox SET attempts = attempts + 1, last_error = ?, "
                          "retry_at = ? + (1 << CAST(attempts + 1 AS INTEGER)) WHERE id = ?",
                          [(error, time.time(), i) for i in ids])

    def dead(self) -> int:
        return self._count("attempts >= ?")

    def mark_done(self, ids: list[int]) -> None:
        with self.state.transaction() as c:
            c.executemany("UPDATE sync_inbox SET done = 1 WHERE id = ?", [(i,) for i in ids])

    def depth(self) -> int:
        return self._count("attempts < ?")

    def _count(self, attempts: str) -> int:
        row = self.state.db.one(f"SELECT count(*) FROM sync_inbox WHERE store = ? AND done = 0 "
                                f"AND {attempts}", (self.store, self.MAX_ATTEMPTS))
        return int(row[0]) if row else 0

    def prune(self, before: str) -> int:
        """Delete handled deliveries received before `before` (an ISO time like `received_at`),
        keeping each scope's newest one so the last delivery per hook stays known. Undone and dead
        deliveries stay. Returns how many were deleted."""
        with self.state.transaction() as c:
            return c.execute(
                "DELETE FROM sync_inbox WHERE store = ? AND done = 1 AND received_at < ? AND id "
                "NOT IN (SELECT max(id) FROM sync_inbox WHERE store = ? GROUP BY scope)",
                (self.store, before, self.store))

    def last_received(self) -> dict[str, str]:
        rows = self.state.db.rows("SELECT scope, max(received_at) FROM sync_inbox WHERE store = ? "
                                  "GROUP BY scope", (self.store,))
        return {scope: at for scope, at in rows}


SqliteState = SqlState  # the name before PostgreSQL; both stores are this one class

SQLITE = Plugin("state", SqlState, "a SQLite file: a plain path (the default)")
POSTGRESQL = Plugin("state", SqlState, "PostgreSQL: a postgresql:// URL (the postgres extra)")

if TYPE_CHECKING:  # mypy holds the class to the protocol it is registered for
    from engine.connect.ports import SyncState

    _CHECKED: type[SyncState] = SqlState
