"""What the status page shows, read from the state file a page at a time.

Every query is bounded: the retry set is paged by keyset (next attempt, order, direction: the
order `rulesync failures list` prints, along the index on the next attempt), conflicts and
decisions are the newest few along their indexes. Nothing here loads a whole table, so the page
costs the same with ten orders in the retry set or ten thousand.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.connect.ports import SyncState
from engine.errors import RulesyncError
from engine.storage.db import Database
from engine.storage.retries import iso

PAGE_SIZE = 50
RECENT = 20
Key = tuple[float, int, str]  # a row of the retry set: (next attempt, order, direction)
_KEY = "(next_attempt_at, order_id, direction)"
_RETRY_COLUMNS = ("order_id, direction, reason, attempts, first_failed_at, last_failed_at, "
                  "next_attempt_at")


@dataclass
class RetryPage:
    rows: list[dict[str, Any]]
    waiting: int  # orders in the retry set
    due: int
    entries: int  # rows (an order may wait in both directions)
    start: int = 0  # how many rows come before this page
    newer: str | None = None  # cursors of the neighbouring pages, None at either end
    older: str | None = None


def cursor(key: Key) -> str:
    return f"{key[0]!r}:{key[1]}:{key[2]}"


def parse_cursor(text: str | None) -> Key | None:
    """A cursor from the page's own links; anything else means the first page."""
    try:
        at, order, direction = (text or "").split(":", 2)
        return float(at), int(order), direction
    except ValueError:
        return None


def _key(row: dict[str, Any]) -> Key:
    return float(row["next_attempt_at"]), int(row["order_id"]), str(row["direction"])


def retry_page(state: SyncState, *, after: Key | None = None, before: Key | None = None,
               size: int = PAGE_SIZE, now: float | None = None,
               counts: dict[str, int] | None = None) -> RetryPage:
    """One page of the retry set; `counts` (RetrySet.counts) when the caller has them already."""
    db, now, store = _db(state), time.time() if now is None else now, state.store
    if before is not None:
        found = [dict(r) for r in db.dicts(
            f"SELECT {_RETRY_COLUMNS} FROM sync_retries WHERE store = ? AND {_KEY} < (?, ?, ?) "
            f"ORDER BY next_attempt_at DESC, order_id DESC, direction DESC LIMIT ?",
            (store, *before, size + 1))][::-1]
        more_before, more_after = len(found) > size, True
        found = found[-size:]
    else:
        where, args = (f"AND {_KEY} > (?, ?, ?)", after) if after else ("", ())
        found = [dict(r) for r in db.dicts(
            f"SELECT {_RETRY_COLUMNS} FROM sync_retries WHERE store = ? {where} "
            f"ORDER BY next_attempt_at, order_id, direction LIMIT ?", (store, *args, size + 1))]
        more_before, more_after = after is not None, len(found) > size
        found = found[:size]
    counts = counts or state.retries().counts(now)
    entries = _count(db, "SELECT count(*) FROM sync_retries WHERE store = ?", (store,))
    start = 0
    if found and (after or before):
        start = _count(db, f"SELECT count(*) FROM sync_retries WHERE store = ? AND "
                       f"{_KEY} < (?, ?, ?)", (store, *_key(found[0])))
    page = RetryPage([], counts["waiting"], counts["due"], entries, start)
    if found:
        page.newer = cursor(_key(found[0])) if more_before else None
        page.older = cursor(_key(found[-1])) if more_after else None
    page.rows = [{**row, "next_attempt": iso(float(row["next_attempt_at"])),
                  "due": float(row["next_attempt_at"]) <= now} for row in found]
    return page


def _db(state: SyncState) -> Database:
    """The status page reads the state with SQL: it needs one of the built-in state backends."""
    db = getattr(state, "db", None)
    if not isinstance(db, Database):
        raise RulesyncError(f"the status page reads the state with SQL; {state.where} is not "
                            "a SQLite or PostgreSQL state")
    return db


def _count(db: Database, sql: str, params: tuple[Any, ...] = ()) -> int:
    row = db.one(sql, params)
    return int(row[0]) if row else 0


def recent_conflicts(state: SyncState, limit: int = RECENT) -> list[dict[str, Any]]:
    """The newest actions that were not sent because they would move an order backwards."""
    return _db(state).dicts(
        "SELECT order_id, direction, action, rule_id, outcome, updated_at FROM sync_outbox "
        "WHERE store = ? AND status = 'conflict' ORDER BY seq DESC LIMIT ?",
        (state.store, limit))


def recent_decisions(state: SyncState, limit: int = RECENT) -> list[dict[str, Any]]:
    """The newest decisions, with the ids of the rules that matched and their event's type."""
    rows = _db(state).dicts(
        "SELECT id, order_id, direction, event, matched, actions, no_update, outcome, at "
        "FROM sync_decisions WHERE store = ? ORDER BY id DESC LIMIT ?", (state.store, limit))
    return [{**{k: v for k, v in r.items() if k != "event"},
             "event_type": json.loads(r["event"]).get("type"),
             "matched": json.loads(r["matched"]),
             "actions": [a["action"] for a in json.loads(r["actions"])],
             "no_update": json.loads(r["no_update"])} for r in rows]


def when(stamp: str | None) -> str:
    """An ISO time as `2026-11-27 10:00:05` in UTC (the page says so), or as given."""
    try:
        moment = datetime.fromisoformat(stamp or "")
    except ValueError:
        return stamp or "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: float | None) -> str:
    """`42 s`, `3 min`, `5 h`, `2 d`: how long, in words a glance can read."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"
