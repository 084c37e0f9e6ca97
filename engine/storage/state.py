"""The durable sync state: watermarks, what the store looked like, inbox, outbox, decision log.

`SqlState` keeps it in the ledger's database (a SQLite file or PostgreSQL, engine/storage/db.py),
through its own connection, in tables prefixed `sync_` (their schema: state_schema.py; the inbox:
inbox.py). Everything lives in the database, nothing in process memory, so two processes, on one
machine or several, or a restarted one see the same state.
"""
from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.connect.ports import DEFAULT_STORE, Plugin
from engine.errors import DatabaseError, RulesyncError
from engine.storage import db as databases
from engine.storage.db import Database
from engine.storage.inbox import Inbox
from engine.storage.migrate import migrate
from engine.storage.planning import plan_copy
from engine.storage.state_recent import RecentRows
from engine.storage.state_schema import VERSIONED, noun

if TYPE_CHECKING:
    from engine.storage.retries import RetrySet

log = logging.getLogger("rulesync.state")


def meta_key(store: str, key: str) -> str:
    """A store's value in sync_meta: the default store's under the bare key (as before there
    were several stores), another's as `store/key`."""
    return key if store == DEFAULT_STORE else f"{store}/{key}"


class SqlState(RecentRows):
    """One store's view of the state: every read and write is that store's (the status page's
    reads of the newest rows: state_recent.py)."""

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
            raise RulesyncError(f"cannot open the state {noun(self.where)} "
                                f"{getattr(e, 'where', self.where)}: {reason}") from None
        self.where = self.db.where
        try:
            migrate(self.db, VERSIONED)
        except DatabaseError as e:
            self.db.close()
            raise RulesyncError(f"cannot open the state {noun(self.where)} {self.where}: "
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
        on PostgreSQL (`exclusive` in engine/storage/sqlite.py, postgres.py). Either ends with
        the process that holds it, even one killed by SIGKILL, so a crash never leaves it
        held."""
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

    def store_orders(self, order_ids: list[int]) -> dict[int, dict[str, Any] | None]:
        """`store_order` of each of these orders, in one read."""
        found: dict[int, dict[str, Any] | None] = dict.fromkeys(order_ids)
        if order_ids:
            for row in self.db.dicts(
                    "SELECT * FROM sync_store_orders WHERE store = ? AND order_id IN "
                    f"({', '.join('?' * len(order_ids))})", (self.store, *order_ids)):
                found[int(row["order_id"])] = row
        return found

    def remember_store_order(self, order_id: int, *, deferred: bool = False,
                             durable: bool = False, **fields: Any) -> None:
        """What rulesync last saw (or itself wrote) of a store order; read back, it is no change.
        ``deferred``: with the next statement (Database.defer), for what the sync read, which a
        rerun reads again; never for what rulesync wrote, which a rerun would read as a change.
        ``durable``: on disk first, for a mark a store write that follows relies on."""
        cols = ", ".join(fields)
        updates = ", ".join(f"{k} = excluded.{k}" for k in fields)
        sql = (f"INSERT INTO sync_store_orders (store, order_id, {cols}) VALUES "
               f"(?, ?{', ?' * len(fields)}) ON CONFLICT (store, order_id) DO UPDATE SET {updates}")
        params = (self.store, order_id, *fields.values())
        if deferred:
            self.db.defer(sql, params)
        elif durable:
            with self.db.transaction(durable=True) as db:
                db.execute(sql, params)
        else:
            self.db.write(sql, params)

    def known_items_shipped(self, order_id: int) -> int | None:
        row = self.store_order(order_id)
        return None if row is None else int(row["items_shipped"])

    def record_decision(self, row: dict[str, Any], actions: list[dict[str, Any]]
                        ) -> list[dict[str, Any]]:
        """The decision and its actions, written together before any action runs; returns the
        actions' outbox rows as they now are, in the same order.

        A decision that ended in an error is replaced when its event is decided again, as is
        one without actions when the event, decided again on a state that changed since (a
        store shipment first read before its order was in the OMS), now has actions: the log
        keeps the decision that made the change. A failed action decided again is pending
        again with the event as read now: that is how a retry re-runs the work. Its attempt
        count is kept, so a store shipment is looked for before it is posted again. The first
        action's attempt, if an OMS write, is counted here when its row comes back pending
        from this write; the row then says so (`counted`)."""
        row = {**row, "store": self.store}
        decision = (f"INSERT INTO sync_decisions ({', '.join(row)}) VALUES "
                    f"({', '.join('?' * len(row))}) ON CONFLICT (store, direction, event_id) "
                    f"DO UPDATE SET {', '.join(f'{k} = excluded.{k}' for k in row)} "
                    "WHERE sync_decisions.outcome LIKE 'error%' OR (sync_decisions.actions = '[]' "
                    "AND excluded.actions <> '[]')")
        if not actions:  # most decisions: made again by a rerun, so written with the next statement
            self.db.defer(decision, list(row.values()))
            return []
        # One INSERT for the outbox rows, each new one numbered after every other. The first
        # one runs next: an OMS write has its attempt counted here, before its effect as
        # start_attempt would, without a round trip of its own (its row says so: `counted`). A
        # store write's is counted on its own, durably, right before it: a count of an attempt
        # not made would have the rerun look for a matching store shipment, and take one a
        # person made. A failed action decided again is pending again, its count kept. The rows
        # come back as written; an action decided before, and not failed, is unchanged, and
        # read as it is. The same action twice in a rule is run once.
        unique: dict[str, dict[str, Any]] = {}
        for a in actions:
            unique.setdefault(a["key"], a)
        counted = actions[0]["direction"] == "inbound"  # (a decision's actions: one direction)
        values = [(self.store, a["key"], n, a["order_id"], a["direction"], a["action"],
                   json.dumps(a["params"]), a["rule_id"], a["event"], a["at"], a["at"],
                   int(counted and n == 1)) for n, a in enumerate(unique.values(), 1)]
        one_row = f"(?, ?, (SELECT coalesce(max(seq), 0) FROM sync_outbox) + ?{', ?' * 9})"
        new = {r["key"]: r for r in self.db.transaction_dicts([
            (decision, list(row.values())),
            ("INSERT INTO sync_outbox (store, key, seq, order_id, direction, action, params, "
             f"rule_id, event, created_at, updated_at, attempts) VALUES "
             f"{', '.join([one_row] * len(values))} ON CONFLICT (store, key) DO UPDATE SET "
             "status = 'pending', params = excluded.params, event = excluded.event, "
             "updated_at = excluded.updated_at, "
             "attempts = sync_outbox.attempts + excluded.attempts "
             "WHERE sync_outbox.status = 'failed' RETURNING *",
             [v for value in values for v in value])])}
        if counted and actions[0]["key"] in new:
            new[actions[0]["key"]]["counted"] = True
        written = []
        for a in actions:
            first = unique.pop(a["key"], None) is not None  # a later listing of it: not run
            written.append((new.get(a["key"]) or self.action(a["key"]) or {}) if first else {})
        return written

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
        found = self.db.write_returning("UPDATE sync_outbox SET attempts = attempts + 1 WHERE "
                                        "store = ? AND key = ? RETURNING attempts",
                                        (self.store, key), durable)
        return int(found[0][0]) if found else 0

    def finish_action(self, key: str, status: str, outcome: str, at: str) -> None:
        """The action's outcome, written with the connection's next statement: a crash before
        then leaves it pending, to be run again, as a crash just before this call does (its
        attempt was counted, so a store write is looked for first)."""
        self.db.defer("UPDATE sync_outbox SET status = ?, outcome = ?, updated_at = ? "
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


SQLITE = Plugin("state", SqlState, "a SQLite file: a plain path (the default)", plan_copy)
POSTGRESQL = Plugin("state", SqlState, "PostgreSQL: a postgresql:// URL (the postgres extra)",
                    plan_copy)

if TYPE_CHECKING:  # mypy holds the class to the protocol it is registered for
    from engine.connect.ports import SyncState

    _CHECKED: type[SyncState] = SqlState
