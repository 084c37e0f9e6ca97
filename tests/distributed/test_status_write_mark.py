"""The mark a status write leaves before it is sent (`writing_status`, connectors/bigcommerce/
actions.py): where two workers interleave, an older read of the order must not take it away,
and a write the store refused leaves none. A worker's session, in process, against a real
sandbox store and a fresh PostgreSQL schema."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce import actions
from connectors.bigcommerce.errors import FatalApiError
from connectors.bigcommerce.sandbox import Sandbox
from engine import config as configuration
from engine.distributed.syncing import LockedSync, Sessions
from engine.language.effects import ActionCall
from engine.sync.summary import Summary
from tests.support import databases
from tests.support.distributed_world import store_entries


@pytest.fixture
def one(tmp_path: Path) -> Iterator[tuple[Sandbox, LockedSync, int]]:
    """A store with one order at 11 Awaiting Fulfillment, synced once."""
    with databases.fresh_schema() as state, Sandbox(port=0, store_hash="hash-s1",
                                                    token="token-s1", seed_orders=1) as sb:
        path = tmp_path / "rulesync.yaml"
        path.write_text(f"version: 1\nstores:\n{store_entries({'s1': sb.base_url})}")
        sessions = Sessions(configuration.load(path, environ={
            "RULESYNC_DATABASE_URL": state, "S1_TOKEN": "token-s1"}))
        try:
            sync = sessions.get("s1").sync
            (oid,) = sb.store.order_ids({})
            sb.store.set_status(oid, 11)
            sync.store_change(read(sync, oid), Summary())
            yield sb, sync, oid
        finally:
            sessions.drop()


def read(sync: LockedSync, oid: int) -> Any:
    return sync.store.order_change(oid, sync.state.known_items_shipped)


def status_events(sync: LockedSync, oid: int) -> list[str]:
    return [d["event_id"] for d in sync.state.decisions(oid) if ":status:" in d["event_id"]]


def later(sb: Sandbox, seconds: float) -> None:
    sb.store.clock = lambda: time.time() + seconds


@pytest.mark.parametrize("older_read_first", [False, True])
def test_an_older_read_synced_after_the_write_keeps_the_mark(
        one: tuple[Sandbox, LockedSync, int], older_read_first: bool) -> None:
    """Worker A reads a page with the order at 11; worker B marks 9, the store takes its PUT,
    B is killed; A then syncs its older read. The next read of 9 is still B's own write."""
    sb, sync, oid = one
    before = status_events(sync, oid)
    page = read(sync, oid)
    sync.state.remember_store_order(oid, writing_status=9)
    later(sb, 5)
    sb.store.set_status(oid, 9)
    if older_read_first:
        sync.store_change(page, Summary())
    sync.store_change(read(sync, oid), Summary())
    assert status_events(sync, oid) == before
    assert sync.state.store_order(oid)["status_id"] == 9  # type: ignore[index]
    assert sync.state.store_order(oid)["writing_status"] is None  # type: ignore[index]


def test_a_write_the_store_refused_leaves_no_mark(
        one: tuple[Sandbox, LockedSync, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """A 422 is no write: a day later the merchant's own move to that status is decided."""
    sb, sync, oid = one
    side = actions.StoreSide(sync.store.client, sync.ledger, sync.state)  # type: ignore[attr-defined]

    def refuse(order_id: int, status_id: int) -> None:
        raise FatalApiError("PUT", f"/v2/orders/{order_id}", 422, body={"title": "no"})

    monkeypatch.setattr(side.client, "update_order_status", refuse)
    with pytest.raises(FatalApiError):
        actions.set_store_status(side, ActionCall("k", oid, "set_store_status",
                                                  {"status_id": 9}, {}, 1))
    assert sync.state.store_order(oid)["writing_status"] is None  # type: ignore[index]
    later(sb, 86400)
    sb.store.set_status(oid, 9)
    before = status_events(sync, oid)
    sync.store_change(read(sync, oid), Summary())
    assert [e for e in status_events(sync, oid) if e not in before] != []
