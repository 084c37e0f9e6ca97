"""The newest rows of a store's decision log and outbox, for the status page of `rulesync serve`.

Each is the newest few along an index (the outbox's (store, status, seq), the decision log's
(store, id): tests/engine/test_status_page.py looks at the query plans), never a sort of the
whole log, so the page costs the same with ten decisions or a million.
"""
from __future__ import annotations

import json
from typing import Any

from engine.storage.db import Database


class RecentRows:
    """What `SqlState` (engine/storage/state.py) reads for the status page."""

    db: Database
    store: str

    def recent_conflicts(self, limit: int) -> list[dict[str, Any]]:
        """The newest actions that were not sent because they would move an order backwards."""
        return self.db.dicts(
            "SELECT order_id, direction, action, rule_id, outcome, updated_at FROM sync_outbox "
            "WHERE store = ? AND status = 'conflict' ORDER BY seq DESC LIMIT ?",
            (self.store, limit))

    def recent_decisions(self, limit: int) -> list[dict[str, Any]]:
        """The newest decisions, with the ids of the rules that matched, their event's type and
        the names of their actions."""
        rows = self.db.dicts(
            "SELECT id, order_id, direction, event, matched, actions, no_update, outcome, at "
            "FROM sync_decisions WHERE store = ? ORDER BY id DESC LIMIT ?", (self.store, limit))
        return [{**{k: v for k, v in r.items() if k != "event"},
                 "event_type": json.loads(r["event"]).get("type"),
                 "matched": json.loads(r["matched"]),
                 "actions": [a["action"] for a in json.loads(r["actions"])],
                 "no_update": json.loads(r["no_update"])} for r in rows]
