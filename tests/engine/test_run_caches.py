"""What a run keeps while it holds the store's lock (engine/sync/run.py): the retry set's orders,
read once, and the last-seen rows the change feed read for its page. Neither may outlive the run
or miss what the run itself changed. In process, against the real sandbox store and a SQLite
state."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from engine import config as configuration
from engine.connect.session import open_sync
from engine.errors import StoreError
from engine.language.effects import Outcome
from engine.sync.run import Sync

BILL = {"first_name": "A", "last_name": "B", "email": "a@example.com", "country_iso2": "US"}
LINE = {"name": "Mug", "quantity": 1, "price_inc_tax": 5, "price_ex_tax": 5}


class Flaky:
    """The real store, with a refused push or one failed re-read of an order when asked."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.refuse_push, self.refuse_read, self.fail_listing = inner, False, False, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def execute(self, call: Any, oms: Any, state: Any) -> Outcome:
        if self.refuse_push:
            return Outcome("failed", "refused by the store")
        return self.inner.execute(call, oms, state)  # type: ignore[no-any-return]

    def order_change(self, order_id: int, known: Any) -> Any:
        if self.refuse_read:
            self.refuse_read = False
            error = StoreError(f"GET /v2/orders/{order_id}: 503")
            error.status = 503
            raise error
        return self.inner.order_change(order_id, known)

    def changes(self, cursor: str, known: Any) -> Any:
        """A store that reads its first page (asking what it knows) before it fails."""
        batch = self.inner.changes(cursor, known)
        if self.fail_listing:
            next(iter(batch), None)
            raise StoreError("GET /v2/orders: 500")
        return batch


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Sandbox, Sync, Flaky, list[float]]]:
    with Sandbox(port=0, store_hash="h", token="t") as sb:
        (tmp_path / "rulesync.yaml").write_text("version: 1\nsettings: {push_order_info: true}\n")
        config = configuration.load(tmp_path / "rulesync.yaml", state=tmp_path / "state.sqlite",
                                    environ={"BIGCOMMERCE_API_URL": sb.base_url,
                                             "BIGCOMMERCE_STORE_HASH": "h",
                                             "BIGCOMMERCE_ACCESS_TOKEN": "t"})
        now = [time.time()]
        with open_sync(config) as sync:
            sync.store = store = Flaky(sync.store)  # type: ignore[assignment]
            sync.clock = lambda: now[0]
            yield sb, sync, store, now


def waiting(sync: Sync) -> list[tuple[int, str]]:
    return [(e["order_id"], e["direction"]) for e in sync.retries.entries()]


def test_an_order_that_fails_then_goes_through_in_one_run_leaves_the_retry_set(
        world: tuple[Sandbox, Sync, Flaky, list[float]]) -> None:
    """A failed push waits in the retry set; when it is retried the order is found changed in the
    store and its re-read fails (an inbound entry, written during the run); the change feed then
    reads the order fine in the same run: both entries go."""
    sb, sync, store, now = world
    oid = int(sb.store.create_order({"status_id": 11, "billing_address": BILL,
                                     "products": [LINE]})["id"])
    sync.run()
    sync.ledger.mark_packed(oid, origin="user")
    store.refuse_push = True
    sync.run()
    assert waiting(sync) == [(oid, "outbound")]
    store.refuse_push = False
    time.sleep(1.1)  # the store's date_modified moves on
    sb.store.set_status(oid, 12)  # the merchant changes the order meanwhile
    store.refuse_read = True
    now[0] += 4000  # the push's retry is due
    summary = sync.run()
    assert (oid, "inbound") in [f[:2] for f in summary.failures], summary.failures
    assert waiting(sync) == []
    assert sync._waiting is None  # kept for the run only


def test_rows_read_for_a_failed_listing_are_not_kept_for_later_reads(
        world: tuple[Sandbox, Sync, Flaky, list[float]]) -> None:
    sb, sync, store, _ = world
    sb.store.create_order({"status_id": 11, "billing_address": BILL, "products": [LINE]})
    store.fail_listing = True
    with pytest.raises(StoreError):
        sync.run()
    assert sync._seen is None and sync._waiting is None


def test_each_action_is_handed_over_as_its_first_attempt_and_counted_once(
        world: tuple[Sandbox, Sync, Flaky, list[float]]) -> None:
    """An action's attempt is counted once before its effect: the first ledger write of a
    decision with the decision, the others and every store write on their own."""
    sb, sync, store, _ = world
    oid = int(sb.store.create_order({"status_id": 11, "billing_address": BILL,
                                     "products": [LINE]})["id"])
    handed: list[tuple[str, int]] = []
    oms_execute, store_execute = sync.ledger.execute, store.execute
    sync.ledger.execute = lambda call: (  # type: ignore[method-assign]
        handed.append((call.action, call.attempts)) or oms_execute(call))
    store.execute = lambda call, oms, state: (  # type: ignore[method-assign]
        handed.append((call.action, call.attempts)) or store_execute(call, oms, state))
    sync.run()
    sync.ledger.ship(oid, "1Z-1", "ups", origin="user")
    sync.run()
    assert [a for a, _ in handed] == ["import_order", "mark_paid", "create_store_shipment"]
    assert {attempts for _, attempts in handed} == {1}
    rows = [a for d in sync.state.decisions(oid) for a in d["action_outcomes"]]
    assert sorted((a["action"], a["attempts"]) for a in rows) == sorted(handed)


def test_a_pages_oms_orders_are_one_read_and_each_is_used_once(
        world: tuple[Sandbox, Sync, Flaky, list[float]]) -> None:
    """Where the OMS reads several orders at once (`get_many`, as the ledger does), the page's
    orders are read with its last-seen rows, and store_change uses them instead of reading
    each; a later run reads its own page again, so it sees what the first one did."""
    sb, sync, _, _ = world
    made = [int(sb.store.create_order({"status_id": 11, "billing_address": BILL,
                                       "products": [LINE]})["id"]) for _ in range(3)]
    ledger, reads = sync.ledger, list[list[int]]()
    one, many = ledger.get, ledger.get_many  # type: ignore[attr-defined]
    ledger.get = lambda oid: reads.append([oid]) or one(oid)  # type: ignore[method-assign]
    ledger.get_many = lambda ids: reads.append(list(ids)) or many(ids)  # type: ignore[attr-defined]
    summary = sync.run()
    assert summary.counts["imported"] == 3
    assert reads == [made]  # one read for the page, none for each order
    time.sleep(1.1)  # the store's date_modified moves on
    sb.store.set_status(made[0], 5)  # cancelled in the store: the ledger's order is voided
    reads.clear()
    summary = sync.run()
    assert reads == [sorted(summary.read)] and made[0] in summary.read
    assert [ledger.state_of(oid)["void"] for oid in made] == [True, False, False]
    ledger.get, ledger.get_many = one, many  # type: ignore[method-assign,attr-defined]


def test_a_pages_last_seen_rows_are_one_read_and_each_is_used_once(
        world: tuple[Sandbox, Sync, Flaky, list[float]]) -> None:
    """The feed asks what the sync last saw of a page's orders in one question; store_change
    then uses those rows instead of reading each again: one read of the state per page."""
    sb, sync, _, _ = world
    made = [int(sb.store.create_order({"status_id": 11, "billing_address": BILL,
                                       "products": [LINE]})["id"]) for _ in range(3)]
    sync.run()
    time.sleep(1.1)  # the store's date_modified moves on
    for oid in made[:2]:
        sb.store.set_status(oid, 12)
    reads: list[list[int]] = []
    state = sync.state
    one, many = state.store_order, state.store_orders
    state.store_order = lambda oid: reads.append([oid]) or one(oid)  # type: ignore[method-assign]
    state.store_orders = lambda ids: reads.append(list(ids)) or many(ids)  # type: ignore[method-assign]
    summary = sync.run()
    assert set(made[:2]) <= summary.read  # (and the third, if listed again within the overlap)
    assert reads == [sorted(summary.read)]
    state.store_order, state.store_orders = one, many  # type: ignore[method-assign]
    assert [state.store_order(oid)["status_id"] for oid in made] == [12, 12, 11]  # type: ignore[index]
