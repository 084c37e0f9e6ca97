"""Inbox pruning: handled deliveries past the retention go, the rest stays."""
from __future__ import annotations

from engine.storage.inbox import Inbox
from engine.storage.state import SqlState


def test_prune_deletes_old_handled_rows_but_keeps_pending_dead_and_each_scopes_newest(
        location: str) -> None:
    inbox = Inbox(SqlState(location))
    rows = [("h1", 1, "store/order/created", "2026-01-01T00:00:00+00:00"),
            ("h2", 2, "store/order/created", "2026-01-02T00:00:00+00:00"),
            ("h3", 3, "store/order/created", "2026-01-03T00:00:00+00:00"),  # newest created
            ("h4", 4, "store/order/updated", "2026-01-01T00:00:00+00:00"),  # pending
            ("h5", 5, "store/order/updated", "2026-01-01T00:00:00+00:00"),  # dead
            ("h6", 6, "store/order/updated", "2026-01-02T00:00:00+00:00"),
            ("h7", 7, "store/order/updated", "2026-02-01T00:00:00+00:00")]  # handled, recent
    for hash_, order_id, scope, at in rows:
        assert inbox.add(hash_, order_id, scope, "{}", at)
    ids = {r["order_id"]: r["id"] for r in inbox.state.db.dicts(
        "SELECT id, order_id FROM sync_inbox")}
    inbox.mark_done([ids[n] for n in (1, 2, 3, 6, 7)])
    for _ in range(Inbox.MAX_ATTEMPTS):
        inbox.failed([ids[5]], "boom")

    assert inbox.prune("2026-01-15T00:00:00+00:00") == 3  # 1, 2 and 6
    left = [r[0] for r in inbox.state.db.rows("SELECT order_id FROM sync_inbox ORDER BY id")]
    assert left == [3, 4, 5, 7]
    assert inbox.last_received() == {"store/order/created": "2026-01-03T00:00:00+00:00",
                                     "store/order/updated": "2026-02-01T00:00:00+00:00"}
    assert inbox.prune("2026-01-15T00:00:00+00:00") == 0
    inbox.state.close()
