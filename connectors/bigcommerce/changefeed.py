"""Orders changed since a watermark, streamed page by page, each change exactly once.

Semantics (docs/bigcommerce.md "Change feed"):
- The new watermark is the *server* clock (GET /v2/time) read before listing, never the local one.
- A run lists the window [watermark - overlap, server_time], the current second included: a
  change the store shows when a run starts is handled by that run.
- The current second is still open: `date_modified` has one-second precision (FACTS §4), so an
  order changed again later in that second carries the same (id, date_modified) as the version
  just processed. Its pair is therefore *not* remembered as seen: the next run re-reads it. A
  re-read version that nothing changed produces no event (events are differences from what the
  sync last saw, `sync_store_orders`), and one that changed produces a new one, whose
  deterministic id keeps it from being handled twice. Pairs from closed seconds are remembered
  for the overlap and skipped when re-listed, so only the open second is read twice.
- Inside the window orders are paged by id (sort=id:asc, min_id), not by page number over a
  date_modified sort: ids never move, so an order modified while we page can neither shift another
  one off a page boundary nor make the walk loop when hundreds share one second. An order modified
  during the run leaves the window and comes back in the next run with its new date_modified.
- The overlap is re-listed; pairs (id, date_modified) already processed there are skipped.
  An order whose date_modified cannot be read fails (it waits in the retry set) and is
  remembered under that stamp while the store lists it, so it is not failed again by each run.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol

from connectors.bigcommerce.errors import ApiError
from connectors.bigcommerce.fetch import Fetcher
from connectors.bigcommerce.normalize import (
    NormalizeError,
    normalize_order,
    normalize_shipment,
    status_labels,
)
from connectors.bigcommerce.values import InvalidValue, utc_datetime

DEFAULT_OVERLAP = 5  # seconds re-listed to absorb clock differences between store servers
PAGE_LIMIT = 250
Key = tuple[int, str]
KnownShipped = Callable[[int], "int | None"] | Mapping[int, int]


class OrderSource(Protocol):
    def server_time(self) -> int: ...
    def list_orders_page(self, **filters: Any) -> list[dict[str, Any]]: ...
    def count_orders(self, **filters: Any) -> int: ...
    def list_shipments(self, order_id: int) -> list[dict[str, Any]]: ...
    def order_statuses(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Cursor:
    """Where the feed stands: `watermark` is server epoch seconds; `seen` holds the
    (order id, ISO date_modified) pairs already processed inside the next run's overlap, from
    closed seconds only (the second the run started in may still change: it is read again)."""

    watermark: int = 0
    seen: frozenset[Key] = field(default_factory=frozenset)

    def to_json(self) -> str:
        seen = sorted([order_id, stamp] for order_id, stamp in self.seen)
        return json.dumps({"watermark": self.watermark, "seen": seen})

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        doc = json.loads(text)
        return cls(int(doc["watermark"]), frozenset((int(i), str(d)) for i, d in doc["seen"]))


@dataclass(frozen=True)
class OrderChange:
    """One changed order. `shipments` is None when not fetched (items_shipped unchanged)."""

    order_id: int
    order: dict[str, Any] | None
    shipments: tuple[dict[str, Any], ...] | None = None
    error: NormalizeError | None = None


def rfc2822(epoch: int) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC))


def _modified(raw: Mapping[str, Any]) -> tuple[str, int | None]:
    try:
        parsed = utc_datetime(raw.get("date_modified"), "date_modified")
    except InvalidValue:
        parsed = None
    if parsed is None:
        return str(raw.get("date_modified")), None
    return parsed.isoformat(), int(parsed.timestamp())


def _remembered(epoch: int | None, keep_from: int, now: int) -> bool:
    """Whether a listed order is remembered as seen for the next run's overlap: those from
    closed seconds (the open one is read again), and those whose date_modified cannot be read,
    for as long as the store lists them so. Such an order never syncs (it goes to the retry set,
    which reads it again): remembered, it is not failed again by every run that lists it."""
    return epoch is None or keep_from <= epoch < now


def _epoch(stamp: str) -> int:
    return _modified({"date_modified": stamp})[1] or 0


class ChangeBatch:
    """Iterate once over the changes; afterwards `cursor` is the one to store for the next run."""

    def __init__(self, feed: ChangeFeed, start: Cursor) -> None:
        self._feed = feed
        self._start = start
        self._cursor: Cursor | None = None
        self._started = False

    @property
    def cursor(self) -> Cursor:
        if self._cursor is None:
            raise RuntimeError("the new cursor is known only after iterating every change")
        return self._cursor

    def __iter__(self) -> Iterator[OrderChange]:
        if self._started:
            raise RuntimeError("a ChangeBatch can be iterated only once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[OrderChange]:
        feed, start = self._feed, self._start
        now = feed.client.server_time()  # before listing: the next run starts from here
        watermark = max(now, start.watermark)
        keep_from = watermark - feed.overlap
        seen = {key for key in start.seen if _epoch(key[1]) >= keep_from}
        lower, upper = max(0, start.watermark - feed.overlap), now
        if upper >= lower:
            with Fetcher(feed.client, feed.concurrency) as fetcher:
                for page in feed.pages(lower, upper):
                    fresh = []
                    for raw in page:
                        stamp, epoch = _modified(raw)
                        key = (int(raw["id"]), stamp)
                        if _remembered(epoch, keep_from, now):
                            seen.add(key)
                        if key not in start.seen:
                            fresh.append(raw)
                    yield from feed.changes_of(fresh, fetcher)
        self._cursor = Cursor(watermark, frozenset(seen))


class ChangeFeed:
    """`ChangeFeed(client, known_items_shipped).changes(cursor)` -> a `ChangeBatch`.

    `known_items_shipped(order_id)` (or a mapping) gives the items_shipped the caller last saw,
    or None; shipments are fetched only when it differs, as they are never embedded (FACTS §3).
    """

    def __init__(self, client: OrderSource, known_items_shipped: KnownShipped | None = None,
                 overlap: int = DEFAULT_OVERLAP, labels: Mapping[int, str] | None = None,
                 concurrency: int = 1) -> None:
        self.client = client
        self.overlap = overlap
        self.concurrency = concurrency  # shipment reads in flight at once (fetch.py)
        self.known: KnownShipped = known_items_shipped or {}
        self._labels = dict(labels) if labels is not None else None

    def changes(self, cursor: Cursor | None = None) -> ChangeBatch:
        return ChangeBatch(self, cursor or Cursor())

    def count(self, cursor: Cursor) -> int:
        """About how many orders the next window lists (GET /v2/orders/count with its lower
        bound), for a progress total; the listing stays the authority."""
        return self.client.count_orders(
            min_date_modified=rfc2822(max(0, cursor.watermark - self.overlap)))

    def labels(self) -> dict[int, str]:
        """Status labels, read once per feed (they are per store, FACTS §1)."""
        if self._labels is None:
            self._labels = status_labels(self.client.order_statuses())
        return self._labels

    def window(self, lower: int, upper: int) -> Iterator[dict[str, Any]]:
        """Every order with lower <= date_modified <= upper, in id order, one page at a time,
        without its consignments: for a listing that needs only ids and dates (a page of 250
        is a third of the bytes, and the store renders it in less than half the time)."""
        for page in self.pages(lower, upper, include=None, consignment_structure=None):
            yield from page

    def pages(self, lower: int, upper: int, **extra: Any) -> Iterator[list[dict[str, Any]]]:
        """`window`'s orders, a list page by list page (with consignments unless `extra`
        leaves them out)."""
        last_id = 0
        while True:
            filters: dict[str, Any] = {
                "min_date_modified": rfc2822(lower), "max_date_modified": rfc2822(upper),
                "sort": "id:asc", "limit": PAGE_LIMIT, **extra}
            if last_id:
                filters["min_id"] = last_id  # re-fetches last_id if min_id is inclusive: skipped
            page = self.client.list_orders_page(**filters)
            # Outside the closed window: the next run takes it.
            yield [raw for raw in page if int(raw["id"]) > last_id
                   and ((epoch := _modified(raw)[1]) is None or lower <= epoch <= upper)]
            if len(page) < PAGE_LIMIT:
                return
            last_id = max(int(raw["id"]) for raw in page)

    def change(self, raw: Mapping[str, Any], known_items_shipped: KnownShipped | None = None
               ) -> OrderChange:
        """One order's change; `known_items_shipped` for it alone (the feed's own by default,
        which is left as it is: a slice may be half read)."""
        known = self._known_of([int(raw["id"])], known_items_shipped)
        return self._finish(*self._start(raw, known), self.client.list_shipments)

    def changes_of(self, raws: list[dict[str, Any]], fetcher: Fetcher
                   ) -> Iterator[OrderChange]:
        """The changes of these orders, in their order; the shipments of all those that need
        them are read at once (up to `concurrency` at a time) before the first is given."""
        known = self._known_of([int(raw["id"]) for raw in raws])
        started = [self._start(raw, known) for raw in raws]
        read = fetcher.shipments([change.order_id for change, needed in started if needed])
        for change, needed in started:
            yield self._finish(change, needed, read)

    def _known_of(self, order_ids: list[int], known: KnownShipped | None = None
                  ) -> Mapping[int, int | None]:
        """What the caller last saw of these orders: a page's in one question where it can
        answer so (`many`), else one order at a time."""
        known = self.known if known is None else known
        if isinstance(known, Mapping):
            return known
        many = getattr(known, "many", None)
        return many(order_ids) if many is not None else {i: known(i) for i in order_ids}

    def _start(self, raw: Mapping[str, Any], known_shipped: Mapping[int, int | None]
               ) -> tuple[OrderChange, bool]:
        """The change without its shipments, and whether they must be read (only when the
        shipped quantity differs from the one last seen)."""
        order_id = int(raw["id"])
        order = normalize_order(raw, labels=self.labels())
        if isinstance(order, NormalizeError):
            return OrderChange(order_id, None, None, order), False
        shipped = order["items_shipped"]
        known = known_shipped.get(order_id)
        return OrderChange(order_id, order), not ((known is None and shipped == 0)
                                                  or known == shipped)

    def _finish(self, change: OrderChange, needed: bool,
                read: Callable[[int], list[dict[str, Any]]]) -> OrderChange:
        if not needed or change.order is None:
            return change
        order_id, order = change.order_id, change.order
        line_items = order["line_items"]
        try:
            shipments = tuple(normalize_shipment(s, line_items) for s in read(order_id))
        except (ApiError, InvalidValue, KeyError, TypeError) as e:
            # This order's shipments, not the feed: the order is reported and the feed goes on
            # (a 5xx has had the client's retries already). A refused token is the feed's problem.
            if isinstance(e, ApiError) and e.status == 401:
                raise
            return OrderChange(order_id, None, None,
                               NormalizeError(order_id, f"cannot read its shipments: {e}"))
        return OrderChange(order_id, order, shipments)
