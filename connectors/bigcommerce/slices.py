"""The change feed cut into slices, for distributed mode (engine/distributed): one process lists
the window once (ids and dates: the pages without their consignments) and cuts the orders in it
into id ranges; each range is then read whole and synced by whichever worker takes it. The
cursor a run ends with is computed from the listing, as the single-process ChangeBatch does
(connectors/bigcommerce/changefeed.py), and stored only once every slice is done
(engine/distributed/runs.py).

A slice re-reads its orders when it runs instead of carrying the records listed earlier: an
order modified since then is synced as it is now, or, if it has left the window, by the next run.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from connectors.bigcommerce.changefeed import (
    PAGE_LIMIT,
    ChangeFeed,
    Cursor,
    OrderChange,
    _epoch,
    _modified,
    rfc2822,
)
from connectors.bigcommerce.fetch import Fetcher


@dataclass(frozen=True)
class Plan:
    cursor: Cursor  # where the feed stands once every slice is done
    lower: int  # the window listed, server epoch seconds, both ends included
    upper: int
    slices: tuple[tuple[int, int], ...]  # (first id, last id) of each slice, in id order


def plan(feed: ChangeFeed, start: Cursor, size: int) -> Plan:
    now = feed.client.server_time()  # before listing: the next run starts from here
    watermark = max(now, start.watermark)
    keep_from = watermark - feed.overlap
    seen = {key for key in start.seen if _epoch(key[1]) >= keep_from}
    lower, upper = max(0, start.watermark - feed.overlap), now
    ids: list[int] = []
    if upper >= lower:
        for raw in feed.window(lower, upper):
            stamp, epoch = _modified(raw)
            key = (int(raw["id"]), stamp)
            if key in start.seen:
                continue
            if epoch is not None and keep_from <= epoch < now:  # the open second: re-read
                seen.add(key)
            ids.append(key[0])
    cuts = tuple((ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size))
    return Plan(Cursor(watermark, frozenset(seen)), lower, upper, cuts)


def changes(feed: ChangeFeed, start: Cursor, lower: int, upper: int, first: int, last: int
            ) -> Iterator[OrderChange]:
    """The changed orders with ids first..last in the window, read now; those the run's
    starting cursor had seen are skipped as the single-process feed skips them. A page's
    shipments are read `feed.concurrency` at a time, as in the single-process feed."""
    after = first - 1
    with Fetcher(feed.client, feed.concurrency) as fetcher:
        while True:
            page = feed.client.list_orders_page(
                min_date_modified=rfc2822(lower), max_date_modified=rfc2822(upper),
                sort="id:asc", limit=PAGE_LIMIT, min_id=after + 1, max_id=last)
            fresh = []
            for raw in page:
                order_id = int(raw["id"])
                epoch = _modified(raw)[1]
                if not first <= order_id <= last or order_id <= after or (
                        epoch is not None and not lower <= epoch <= upper):
                    continue
                after = order_id
                if (order_id, _modified(raw)[0]) in start.seen:
                    continue
                fresh.append(raw)
            yield from feed.changes_of(fresh, fetcher)
            if len(page) < PAGE_LIMIT:
                return
            after = max(after, *(int(raw["id"]) for raw in page))
