"""A store's full sync in distributed mode, kept as rows in PostgreSQL beside the sync state.

A run goes through stages: `listing` (pending actions finished, due pushes retried, the change
feed's window listed and cut into slices), `slices` (each slice synced by some worker),
`finishing` (due inbound retries, the ledger's changes pushed) and `done`. The rows are the
truth and a queued message only a hint: a task redelivered, or sent again for a run that made
no progress (`stalled`), finds what is done and does the rest.

The change-feed cursor moves in the same transaction as the last slice is marked done, and only
from the value the run started from: it never passes an order that is not synced (or in the
retry set), and a run that another sync overtook leaves the newer cursor alone.
"""
from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

from engine.errors import RulesyncError
from engine.storage.db import Database
from engine.storage.migrate import Versioned, migrate
from engine.storage.state import SqlState, meta_key
from engine.sync.summary import Summary, utc_now

LISTING, SLICES, FINISHING, DONE = "listing", "slices", "finishing", "done"
VERSION_KEY = "distributed_schema_version"
MIGRATIONS = ((
    """CREATE TABLE dist_runs (
        id TEXT PRIMARY KEY, store TEXT NOT NULL, stage TEXT NOT NULL,
        cursor_from TEXT NOT NULL DEFAULT '', cursor_to TEXT NOT NULL DEFAULT '',
        lower_s INTEGER NOT NULL DEFAULT 0, upper_s INTEGER NOT NULL DEFAULT 0,
        slices INTEGER NOT NULL DEFAULT 0, opening TEXT NOT NULL DEFAULT '{}',
        ending TEXT NOT NULL DEFAULT '{}', started_at TEXT NOT NULL,
        touched REAL NOT NULL, finished_at TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '')""",
    # One run in progress per store: a second `apply --queue` or poll joins it.
    """CREATE UNIQUE INDEX dist_runs_open ON dist_runs (store) WHERE stage <> 'done'""",
    """CREATE INDEX dist_runs_finished ON dist_runs (store, finished_at)""",
    """CREATE TABLE dist_slices (
        run_id TEXT NOT NULL, n INTEGER NOT NULL, first_id INTEGER NOT NULL,
        last_id INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
        summary TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (run_id, n))""",
),)


def _read(db: Database) -> int:
    row = db.one("SELECT value FROM sync_meta WHERE key = ?", (VERSION_KEY,))
    return int(row[0]) if row else 0


def _write(db: Database, version: int) -> None:
    db.execute("INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
               "SET value = excluded.value", (VERSION_KEY, str(version)))


def _too_new(found: int, known: int, where: str) -> RulesyncError:
    return RulesyncError(f"the distributed tables in {where} were written by a newer rulesync "
                         f"(version {found}, this one knows {known}): upgrade rulesync")


VERSIONED = Versioned(MIGRATIONS, (), _read, _write, _too_new)


def reason(error: BaseException) -> str:
    """What a run failed of: never empty, as an empty error reads as success."""
    return str(error) or type(error).__name__


def dump(summary: Summary) -> str:
    return json.dumps({"counts": dict(summary.counts), "actions": summary.actions,
                       "problems": summary.problems, "failures": summary.failures,
                       "held": summary.held, "retries": summary.retries}, default=str)


def merged(parts: list[str]) -> Summary:
    """One summary from the parts' (the last part's retry and held counts)."""
    total = Summary()
    for text in parts:
        part = json.loads(text)
        total.counts.update(Counter(part.get("counts", {})))
        total.actions += part.get("actions", [])
        total.problems += part.get("problems", [])
        total.failures += [tuple(f) for f in part.get("failures", [])]
        total.held.update(part.get("held", {}))
        total.retries.update(part.get("retries", {}))
    return total


_MIGRATED: set[str] = set()


class Runs:
    """One store's runs, through the state's connection."""

    def __init__(self, state: SqlState) -> None:
        self.state, self.db, self.store = state, state.db, state.store
        if self.db.where not in _MIGRATED:  # once per database and process
            migrate(self.db, VERSIONED)
            _MIGRATED.add(self.db.where)

    def open(self) -> tuple[str, bool]:
        """A new run, or the one in progress: (its id, whether it is new)."""
        run_id = uuid.uuid4().hex
        added = self.db.write("INSERT INTO dist_runs (id, store, stage, started_at, touched) "
                              "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                              (run_id, self.store, LISTING, utc_now(), time.time()))
        if added:
            return run_id, True
        found = self.in_progress()
        if found is None:  # it finished in between
            return self.open()
        return str(found["id"]), False

    def in_progress(self) -> dict[str, Any] | None:
        rows = self.db.dicts("SELECT * FROM dist_runs WHERE store = ? AND stage <> ?",
                             (self.store, DONE))
        return rows[0] if rows else None

    def get(self, run_id: str) -> dict[str, Any] | None:
        rows = self.db.dicts("SELECT * FROM dist_runs WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def many(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Runs by id, of any store: one statement for all the runs a command waits for."""
        if not run_ids:
            return {}
        rows = self.db.dicts(f"SELECT * FROM dist_runs WHERE id IN "
                             f"({', '.join('?' * len(run_ids))})", tuple(run_ids))
        return {str(r["id"]): r for r in rows}

    def listed(self, run_id: str, cursor_from: str, plan: dict[str, Any], opening: Summary
               ) -> str:
        """The listing is done: its slices recorded; returns the run's stage now."""
        cuts = plan["slices"]
        stage = SLICES if cuts else FINISHING
        with self.state.transaction() as c:
            changed = c.execute(
                "UPDATE dist_runs SET stage = ?, cursor_from = ?, cursor_to = ?, lower_s = ?, "
                "upper_s = ?, slices = ?, opening = ?, touched = ? WHERE id = ? AND stage = ?",
                (stage, cursor_from, plan["cursor"], plan["lower"], plan["upper"], len(cuts),
                 dump(opening), time.time(), run_id, LISTING))
            if not changed:
                return str((self.get(run_id) or {}).get("stage", DONE))
            c.executemany("INSERT INTO dist_slices (run_id, n, first_id, last_id) VALUES "
                          "(?, ?, ?, ?)", [(run_id, n, a, b) for n, (a, b) in enumerate(cuts)])
            if not cuts:
                self._advance(c, cursor_from, plan["cursor"])
        return stage

    def undone(self, run_id: str) -> list[dict[str, Any]]:
        return self.db.dicts("SELECT * FROM dist_slices WHERE run_id = ? AND done = 0 "
                             "ORDER BY n", (run_id,))

    def slice(self, run_id: str, n: int) -> dict[str, Any] | None:
        rows = self.db.dicts("SELECT * FROM dist_slices WHERE run_id = ? AND n = ?", (run_id, n))
        return rows[0] if rows else None

    def slice_done(self, run_id: str, n: int, summary: Summary) -> str:
        """Mark a slice done; the last one moves the cursor. Returns the run's stage now."""
        with self.state.transaction() as c:
            c.execute("UPDATE dist_slices SET done = 1, summary = ? WHERE run_id = ? AND n = ? "
                      "AND done = 0", (dump(summary), run_id, n))
            run = c.dicts("SELECT * FROM dist_runs WHERE id = ?", (run_id,))[0]
            left = c.one("SELECT count(*) FROM dist_slices WHERE run_id = ? AND done = 0",
                         (run_id,))
            c.execute("UPDATE dist_runs SET touched = ? WHERE id = ?", (time.time(), run_id))
            if run["stage"] != SLICES or (left and left[0]):
                return str(run["stage"])
            # Only from `slices`: a run that failed since it was read here stays failed.
            if not c.execute("UPDATE dist_runs SET stage = ? WHERE id = ? AND stage = ?",
                             (FINISHING, run_id, SLICES)):
                return DONE
            self._advance(c, run["cursor_from"], run["cursor_to"])
        return FINISHING

    def _advance(self, c: Database, cursor_from: str, cursor_to: str) -> None:
        key = meta_key(self.store, "inbound_cursor")
        row = c.one("SELECT value FROM sync_meta WHERE key = ?", (key,))
        if (row[0] if row else "") == cursor_from:  # nobody moved it meanwhile
            c.execute("INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                      "DO UPDATE SET value = excluded.value", (key, cursor_to))

    def finish(self, run_id: str, ending: Summary) -> bool:
        at = utc_now()
        with self.state.transaction() as c:
            done = c.execute("UPDATE dist_runs SET stage = ?, ending = ?, finished_at = ?, "
                             "touched = ? WHERE id = ? AND stage = ?",
                             (DONE, dump(ending), at, time.time(), run_id, FINISHING))
            if done:
                c.execute("INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                          "DO UPDATE SET value = excluded.value",
                          (meta_key(self.store, "last_sync"), at))
        return bool(done)

    def fail(self, run_id: str, error: BaseException) -> None:
        """The run ends with its error; the cursor stays where it started, for the next run."""
        self.db.write("UPDATE dist_runs SET stage = ?, error = ?, touched = ? WHERE id = ? AND "
                      "stage <> ?", (DONE, reason(error)[:2000], time.time(), run_id, DONE))

    def summary(self, run_id: str) -> Summary:
        run = self.get(run_id) or {}
        slices = [str(s) for (s,) in self.db.rows(
            "SELECT summary FROM dist_slices WHERE run_id = ? ORDER BY n", (run_id,))]
        total = merged([run.get("opening", "{}"), *slices, run.get("ending", "{}")])
        total.held["new"] = total.counts["held"]
        return total

    def touch(self, run_id: str) -> None:
        self.db.write("UPDATE dist_runs SET touched = ? WHERE id = ?", (time.time(), run_id))

    def last_finished(self) -> str:
        row = self.db.one("SELECT max(finished_at) FROM dist_runs WHERE store = ? AND stage = ?",
                          (self.store, DONE))
        return str(row[0]) if row and row[0] else ""
