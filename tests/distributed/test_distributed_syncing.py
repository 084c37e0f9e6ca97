"""A worker's sync of one order (engine/distributed/syncing.py), in this process against a
sandbox store and a fresh PostgreSQL schema: no broker needed."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from connectors.bigcommerce.sandbox import Sandbox
from engine import config as configuration
from engine.distributed.syncing import Sessions
from engine.sync.summary import Summary
from tests.support import databases


def test_a_store_record_older_than_the_one_synced_is_skipped(tmp_path: Path) -> None:
    with databases.fresh_schema() as state, Sandbox(port=0, store_hash="hash-s1",
                                                    token="token-s1", seed_orders=1) as sb:
        path = tmp_path / "rulesync.yaml"
        path.write_text(f"version: 1\nstores:\n  - name: s1\n    store_hash: hash-s1\n"
                        f"    api_url: {sb.base_url}\n    token_env: S1_TOKEN\n")
        sessions = Sessions(configuration.load(path, environ={
            "RULESYNC_DATABASE_URL": state, "S1_TOKEN": "token-s1"}))
        try:
            sync = sessions.get("s1").sync
            (order_id,) = sb.store.order_ids({})
            read = sync.store.order_change(order_id, sync.state.known_items_shipped)
            assert read.order is not None
            newer = replace(read, order={**read.order, "date_modified": "9999"})  # type: ignore[type-var]
            sync.store_change(newer, Summary())
            assert sync.state.store_order(order_id)["date_modified"] == "9999"  # type: ignore[index]
            decided = len(sync.state.decisions(order_id))

            late = Summary()
            sync.store_change(read, late)  # read before the newer one was synced
            assert (late.read, late.actions, late.failures) == (set(), [], [])
            assert sync.state.store_order(order_id)["date_modified"] == "9999"  # type: ignore[index]
            assert len(sync.state.decisions(order_id)) == decided
        finally:
            sessions.drop()
