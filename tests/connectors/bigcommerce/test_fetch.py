"""The change feed reading shipments several at a time against the sandbox over HTTP: the same
changes in the same order as one at a time, one order's failed read kept to that order, and
never more requests in flight than asked for."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.bigcommerce.changefeed import ChangeFeed, OrderChange
from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.errors import FatalApiError, RetriableApiError
from connectors.bigcommerce.quota import SINGLE, current_kind, work
from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sessions import Sessions

TOKEN = "fetch-token"


class Watched(BigCommerceClient):
    """Counts shipment reads in flight and the kind of work each served; `fail` maps an order
    id to the error reading its shipments raises."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail: dict[int, Exception] = {}
        self.in_flight = self.most_in_flight = 0
        self.kinds: set[str] = set()
        self._lock = threading.Lock()

    def list_shipments(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.kinds.add(current_kind())
        try:
            if order_id in self.fail:
                raise self.fail[order_id]
            return super().list_shipments(order_id)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def store() -> Iterator[Sandbox]:
    with Sandbox(token=TOKEN, seed_orders=90, latency_ms=15) as sb:
        yield sb


def client(sb: Sandbox, concurrency: int) -> Watched:
    return Watched(sb.store.store_hash, TOKEN, sb.base_url, concurrency=concurrency)


def changes(c: BigCommerceClient) -> list[OrderChange]:
    return list(ChangeFeed(c, concurrency=c.concurrency).changes())


def shipped(found: list[OrderChange]) -> list[int]:
    return [c.order_id for c in found if c.shipments]


def test_several_at_a_time_give_the_same_changes_in_the_same_order(store: Sandbox) -> None:
    one, four = client(store, 1), client(store, 4)
    alone, together = changes(one), changes(four)
    assert len(alone) == 90 and len(shipped(alone)) >= 5
    assert together == alone
    assert one.most_in_flight == 1
    assert 1 < four.most_in_flight <= 4
    one.close()
    four.close()


def test_a_failed_read_is_that_orders_error_and_the_others_go_on(store: Sandbox) -> None:
    c = client(store, 4)
    alone = changes(client(store, 1))
    broken = shipped(alone)[2]
    c.fail[broken] = RetriableApiError("GET", "/v2/orders/{order_id}/shipments", 503, "down")
    found = changes(c)
    assert [x.order_id for x in found] == [x.order_id for x in alone]
    failed = [x for x in found if x.error is not None and x.order_id == broken]
    assert len(failed) == 1 and "cannot read its shipments: " in failed[0].error.message
    assert failed[0].order is None
    assert [x for x in found if x.order_id != broken] == \
        [x for x in alone if x.order_id != broken]
    c.close()


def test_a_refused_token_stops_the_feed_at_that_order(store: Sandbox) -> None:
    c = client(store, 4)
    alone = changes(client(store, 1))
    refused = shipped(alone)[3]
    c.fail[refused] = FatalApiError("GET", "/v2/orders/{order_id}/shipments", 401, "no")
    given: list[int] = []
    with pytest.raises(FatalApiError):
        for change in ChangeFeed(c, concurrency=4).changes():
            given.append(change.order_id)
    assert given == [x.order_id for x in alone[:[x.order_id for x in alone].index(refused)]]
    c.close()


def test_the_callers_kind_of_work_holds_in_the_fetching_threads(store: Sandbox) -> None:
    c = client(store, 4)
    changes(c)
    with work(SINGLE):
        changes(c)
    assert c.kinds == {"bulk", "single"}
    c.close()


def test_a_session_is_never_lent_to_two_requests_at_once() -> None:
    made: list[object] = []

    class Fake:
        def close(self) -> None:
            pass

    def make() -> Any:
        made.append(Fake())
        return made[-1]

    sessions = Sessions(make(), make)
    with sessions.borrowed() as a, sessions.borrowed() as b:
        assert a is not b
    with sessions.borrowed() as c:
        assert c in (a, b)
    assert len(made) == 2


def test_the_store_says_single_order_work_and_leaves_the_feed_bulk(store: Sandbox) -> None:
    from connectors.bigcommerce.store import BigCommerceStore

    c = client(store, 4)
    bc = BigCommerceStore(c)
    list(bc.changes("", lambda order_id: None))
    assert c.kinds == {"bulk"}
    shipped_id = shipped(changes(client(store, 1)))[0]
    c.kinds.clear()
    bc.order_change(shipped_id, lambda order_id: None)
    bc.shipments(shipped_id, [])
    assert c.kinds == {"single"}
    c.kinds.clear()
    with work("bulk"):  # a task layer that says what it does is heard
        bc.order_change(shipped_id, lambda order_id: None)
    assert c.kinds == {"bulk"}
    c.close()
