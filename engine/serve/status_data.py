"""What the status page shows, read from the sync state a page at a time.

Every read is bounded, through the state's protocol (engine/connect/ports.py): the retry set is
paged by keyset (next attempt, order, direction: the order `rulesync failures list` prints),
conflicts and decisions are the newest few. The SQL backends read each along an index
(engine/storage/retries.py, state_recent.py), so the page costs the same with ten orders in the
retry set or ten thousand.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.connect.ports import RetryKey, SyncState
from engine.sync.summary import iso

PAGE_SIZE = 50
RECENT = 20
Key = RetryKey


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
    retries, now = state.retries(), time.time() if now is None else now
    if before is not None:
        found = retries.page(before=before, limit=size + 1)
        more_before, more_after = len(found) > size, True
        found = found[-size:]
    else:
        found = retries.page(after=after, limit=size + 1)
        more_before, more_after = after is not None, len(found) > size
        found = found[:size]
    counts = counts or retries.counts(now)
    start = retries.position(_key(found[0])) if found and (after or before) else 0
    page = RetryPage([], counts["waiting"], counts["due"], retries.size(), start)
    if found:
        page.newer = cursor(_key(found[0])) if more_before else None
        page.older = cursor(_key(found[-1])) if more_after else None
    page.rows = [{**row, "next_attempt": iso(float(row["next_attempt_at"])),
                  "due": float(row["next_attempt_at"]) <= now} for row in found]
    return page


def recent_conflicts(state: SyncState, limit: int = RECENT) -> list[dict[str, Any]]:
    """The newest actions that were not sent because they would move an order backwards."""
    return state.recent_conflicts(limit)


def recent_decisions(state: SyncState, limit: int = RECENT) -> list[dict[str, Any]]:
    """The newest decisions, with the ids of the rules that matched and their event's type."""
    return state.recent_decisions(limit)



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
