"""The store's hooks as `rulesync webhooks status` and /healthz show them: what the store
connector lists (engine/connect/ports.py `Store.hook_status`), with when `serve` last received a
delivery of each hook's scope."""
from __future__ import annotations

from typing import Any

from engine.connect.ports import Inbox, Store


def status(store: Store, inbox: Inbox | None) -> list[dict[str, Any]]:
    """Each hook: id, scope, destination, active, and when its last delivery was received (None
    without an inbox to ask)."""
    received = inbox.last_received() if inbox else {}
    return [{**hook, "last_received": received.get(hook["scope"])}
            for hook in store.hook_status()]
