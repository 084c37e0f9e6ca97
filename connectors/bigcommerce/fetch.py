"""Reading the shipments of a page's orders several at a time (the change feed's one fan-out).

A backfill reads one list page (250 orders with their products and addresses) and then the
shipments of each order on it whose shipped quantity changed, one request per order: read one
after another, a store's latency, not its quota, sets the pace. Here they are all asked at
once, up to `concurrency` in flight, on a thread pool; the store's token bucket
(connectors/bigcommerce/quota.py) keeps them under the quota. The answers are handed back in the
order the feed asks for them, so the sync sees the orders in the same order as before, and an
error reading one order's shipments surfaces at that order, as it did.

Each task runs in a copy of the caller's context, so the kind of work the caller said it does
(`quota.work`) holds for the requests made on its behalf. The client borrows a session per
request (connectors/bigcommerce/sessions.py): no two threads share one.
"""
from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Protocol

Read = Callable[[int], list[dict[str, Any]]]


class ShipmentSource(Protocol):
    def list_shipments(self, order_id: int) -> list[dict[str, Any]]: ...


class Fetcher:
    """`with Fetcher(client, n) as f: read = f.shipments(order_ids); read(order_id)`.

    With `concurrency` 1 nothing runs ahead: `read` is the client's own call, made when asked,
    exactly as one request at a time always did.
    """

    def __init__(self, client: ShipmentSource, concurrency: int) -> None:
        self._client = client
        self._concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._pool is not None:  # reads nobody will ask for are not sent
            self._pool.shutdown(wait=True, cancel_futures=True)

    def shipments(self, order_ids: list[int]) -> Read:
        """Start reading these orders' shipments; `read(order_id)`, asked in the same order,
        waits for one of them (an order not started here is read when asked). At most
        2 x concurrency reads run ahead of the one asked for: a feed abandoned halfway (an
        error in the sync) leaves only those few to finish."""
        client = self._client
        if self._concurrency == 1 or len(order_ids) < 2:
            return client.list_shipments
        pool = self._pool = self._pool or ThreadPoolExecutor(self._concurrency, "rulesync-fetch")
        waiting = deque(order_ids)
        started: dict[int, Future[list[dict[str, Any]]]] = {}

        def top_up() -> None:
            while waiting and len(started) < 2 * self._concurrency:
                order_id = waiting.popleft()
                started[order_id] = pool.submit(contextvars.copy_context().run,
                                                client.list_shipments, order_id)

        def read(order_id: int) -> list[dict[str, Any]]:
            top_up()
            future = started.pop(order_id, None)
            top_up()
            return client.list_shipments(order_id) if future is None else future.result()

        top_up()
        return read
