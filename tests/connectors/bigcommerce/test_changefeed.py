"""ChangeFeed and Cursor against an in-memory order source: no miss, no repeat, flat memory."""
from __future__ import annotations

import math
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from test_normalize import raw_order

from connectors.bigcommerce.changefeed import ChangeFeed, Cursor, rfc2822
from connectors.bigcommerce.slices import plan

T0 = 1_800_000_000


class FakeSource:
    """Orders with an epoch `date_modified`; filters like GET /v2/orders (min/max inclusive)."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.orders: dict[int, dict[str, Any]] = {}
        self.pages: list[dict[str, Any]] = []
        self.shipment_calls: list[int] = []
        self.on_page: Callable[[int], None] = lambda n: None

    def put(self, order_id: int, modified: int, items_shipped: int = 0,
            status_id: int = 11) -> None:
        self.orders[order_id] = {"modified": modified, "items_shipped": items_shipped,
                                 "status_id": status_id}

    def server_time(self) -> int:
        return self.now

    def order_statuses(self) -> list[dict[str, Any]]:
        return [{"id": 11, "name": "Awaiting Fulfillment", "custom_label": "Paid"}]

    def list_orders_page(self, **f: Any) -> list[dict[str, Any]]:
        self.pages.append(f)
        low = parsedate_to_datetime(f["min_date_modified"]).timestamp()
        high = parsedate_to_datetime(f["max_date_modified"]).timestamp()
        assert f["sort"] == "id:asc" and "page" not in f
        ids = sorted(i for i, o in self.orders.items()
                     if low <= o["modified"] <= high and i >= f.get("min_id", 0))
        page = [self.render(i) for i in ids[: f["limit"]]]
        self.on_page(len(self.pages))
        return page

    def render(self, order_id: int) -> dict[str, Any]:
        o = self.orders[order_id]
        return raw_order(id=order_id, date_modified=rfc2822(o["modified"]),
                         items_shipped=o["items_shipped"], status_id=o["status_id"])

    def list_shipments(self, order_id: int) -> list[dict[str, Any]]:
        self.shipment_calls.append(order_id)
        return [{"id": 1, "order_id": order_id, "order_address_id": 7, "tracking_number": "1Z",
                 "items": [{"order_product_id": 5, "product_id": 77, "quantity": 1}]}]


def rfc2822_iso(epoch: int) -> str:
    return parsedate_to_datetime(rfc2822(epoch)).isoformat()


def run(feed: ChangeFeed, cursor: Cursor) -> tuple[list[tuple[int, str]], Cursor]:
    batch = feed.changes(cursor)
    keys = [(c.order_id, c.order["date_modified"]) for c in batch if c.order]
    return keys, batch.cursor


def test_the_current_second_is_taken_and_read_again_by_the_next_run() -> None:
    src = FakeSource(now=T0)
    src.put(1, T0 - 100)
    src.put(2, T0 - 1)
    src.put(3, T0)  # changed in the second the run starts in
    feed = ChangeFeed(src)
    keys, cursor = run(feed, Cursor())
    assert [k[0] for k in keys] == [1, 2, 3]
    assert cursor.watermark == T0
    assert {k[0] for k in cursor.seen} == {2}  # 3's second is still open: not remembered
    # changed again later in the same second: same (id, date_modified), new content
    src.put(3, T0, status_id=11, items_shipped=1)
    batch = feed.changes(cursor)
    again = [c for c in batch if c.order]
    assert [(c.order_id, c.order["items_shipped"]) for c in again] == [(3, 1)]
    src.now = T0 + 1  # the second closed: read once more, then remembered
    keys, cursor = run(feed, batch.cursor)
    assert [k[0] for k in keys] == [3] and {k[0] for k in cursor.seen} == {2, 3}
    src.now = T0 + 2
    assert run(feed, cursor)[0] == []
    src.now = T0 + 30
    assert run(feed, cursor)[0] == []


def test_the_overlap_is_relisted_but_nothing_is_processed_twice() -> None:
    src = FakeSource(now=T0)
    for i in range(1, 6):
        src.put(i, T0 - i)  # all inside the 5-second overlap
    feed = ChangeFeed(src, overlap=5)
    first, cursor = run(feed, Cursor())
    assert len(first) == 5 and len(cursor.seen) == 5
    src.now = T0 + 2
    src.put(9, T0 - 3)  # written late with an older stamp (another server's clock)
    src.put(4, T0 + 1)  # modified again
    keys, cursor = run(feed, cursor)
    assert sorted(k[0] for k in keys) == [4, 9]
    assert parsedate_to_datetime(src.pages[-1]["min_date_modified"]).timestamp() == T0 - 5
    assert parsedate_to_datetime(src.pages[-1]["max_date_modified"]).timestamp() == T0 + 2


def test_many_orders_sharing_one_second_are_paged_by_id() -> None:
    src = FakeSource(now=T0)
    for i in range(1, 601):
        src.put(i, T0 - 10)
    keys, _ = run(ChangeFeed(src), Cursor())
    assert [k[0] for k in keys] == list(range(1, 601))
    assert len(src.pages) == math.ceil(600 / 249)  # min_id re-fetches the last id of a page


def test_orders_modified_while_paging_are_neither_missed_nor_repeated() -> None:
    src = FakeSource(now=T0)
    for i in range(1, 1001):
        src.put(i, T0 - 20 + i % 7)

    def modify(page_number: int) -> None:
        if page_number == 1:
            src.put(3, T0)          # already yielded on page 1
            src.put(900, T0)        # not reached yet: leaves the window
            src.put(1001, T0 - 1)   # new, stamped in a closed second (late writer)
    src.on_page = modify
    feed = ChangeFeed(src)
    first, cursor = run(feed, Cursor())
    src.now = T0 + 3
    second, cursor = run(feed, cursor)
    src.now = T0 + 60
    third, _ = run(feed, cursor)
    seen_ids = [k[0] for k in first + second + third]
    assert sorted(set(seen_ids)) == list(range(1, 1002))
    everything = first + second + third
    repeated = {k for k in everything if everything.count(k) > 1}
    # only what the first run read in its own, still open, second is read twice
    assert repeated == {(900, rfc2822_iso(T0))}
    assert seen_ids.count(3) == 2 and seen_ids.count(900) == 2
    assert third == []


def test_cursor_round_trips_and_keeps_only_the_overlap() -> None:
    src = FakeSource(now=T0)
    src.put(1, T0 - 100)
    src.put(2, T0 - 2)
    _, cursor = run(ChangeFeed(src, overlap=5), Cursor())
    assert {k[0] for k in cursor.seen} == {2}
    assert Cursor.from_json(cursor.to_json()) == cursor
    src.now = T0 + 10
    _, later = run(ChangeFeed(src, overlap=5), cursor)
    assert later.seen == frozenset() and later.watermark == T0 + 10


def test_watermark_is_the_server_clock_and_never_goes_back() -> None:
    src = FakeSource(now=1_000)  # far from the local clock
    _, cursor = run(ChangeFeed(src), Cursor(watermark=5_000))
    assert cursor.watermark == 5_000 and src.pages == []


def test_shipments_only_when_items_shipped_changed() -> None:
    src = FakeSource(now=T0)
    src.put(1, T0 - 9, items_shipped=0)  # unknown, nothing shipped: no call
    src.put(2, T0 - 9, items_shipped=2)  # unknown, something shipped: call
    src.put(3, T0 - 9, items_shipped=2)  # known 2: no call
    src.put(4, T0 - 9, items_shipped=1)  # known 2 -> 1 (a shipment deleted): call
    feed = ChangeFeed(src, known_items_shipped={3: 2, 4: 2})
    changes = list(feed.changes(Cursor()))
    assert src.shipment_calls == [2, 4]
    by_id = {c.order_id: c for c in changes}
    assert by_id[1].shipments is None and by_id[3].shipments is None
    assert by_id[2].shipments and by_id[2].shipments[0]["items"][0]["sku"] == "MUG-1"
    assert by_id[2].order and by_id[2].order["status"] == "Paid"


def test_known_items_shipped_may_be_a_callback() -> None:
    src = FakeSource(now=T0)
    src.put(1, T0 - 9, items_shipped=2)
    list(ChangeFeed(src, known_items_shipped=lambda order_id: 2).changes(Cursor()))
    assert src.shipment_calls == []


def test_a_bad_order_is_an_error_record_and_the_feed_goes_on() -> None:
    src = FakeSource(now=T0)
    src.put(1, T0 - 9, status_id=42)
    src.put(2, T0 - 9)
    changes = list(ChangeFeed(src).changes(Cursor()))
    assert changes[0].order is None and changes[0].error is not None
    assert "unknown status id 42" in changes[0].error.message
    assert changes[1].order is not None


class UndatedSource(FakeSource):
    """Lists the orders in `undated` with `date_modified: null`."""

    undated: frozenset[int] = frozenset()

    def render(self, order_id: int) -> dict[str, Any]:
        order = super().render(order_id)
        return {**order, "date_modified": None} if order_id in self.undated else order


def test_an_order_whose_date_cannot_be_read_fails_once_while_it_is_listed_so() -> None:
    """It waits in the retry set; the runs whose overlap lists it again skip it, and once the
    store sends a readable date it is a change again."""
    src = UndatedSource(now=T0)
    src.put(1, T0 - 2)
    src.put(2, T0 - 2)
    src.undated = frozenset({1})
    batch = ChangeFeed(src).changes(Cursor())
    changes = list(batch)
    assert [(c.order_id, c.error is not None) for c in changes] == [(1, True), (2, False)]
    assert changes[0].error and "date_modified: missing" in changes[0].error.message
    cursor = batch.cursor
    for _ in range(2):
        src.now += 1  # still inside the overlap: listed again, skipped
        batch = ChangeFeed(src).changes(cursor)
        assert list(batch) == []
        cursor = batch.cursor
    src.undated = frozenset()
    assert run(ChangeFeed(src), cursor)[0] == [(1, rfc2822_iso(T0 - 2))]


def test_pages_are_streamed_not_collected() -> None:
    src = FakeSource(now=T0)
    for i in range(1, 1001):
        src.put(i, T0 - 9)
    batch = ChangeFeed(src).changes(Cursor())
    iterator = iter(batch)
    next(iterator)
    assert len(src.pages) == 1
    with pytest.raises(RuntimeError):
        _ = batch.cursor
    with pytest.raises(RuntimeError):
        iter(batch)


def test_a_distributed_listing_cuts_slices_from_bare_pages() -> None:
    """The listing that cuts a run into slices needs ids and dates only: its pages are asked
    without consignments; each slice reads its orders whole when it runs."""
    src = FakeSource(now=T0)
    for i in range(1, 301):
        src.put(i, T0 - 10)
    cut = plan(ChangeFeed(src), Cursor(), 100)
    assert cut.slices == ((1, 100), (101, 200), (201, 300))
    assert src.pages and all(p["include"] is None and p["consignment_structure"] is None
                             for p in src.pages)
