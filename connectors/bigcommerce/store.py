"""BigCommerce as the engine's store (engine/connect/ports.py `Store`), and its registry entry.

Wraps the REST client with what the sync asks of a store: the change feed, one order read now,
an order's shipments, the outbound actions (connectors/bigcommerce/actions.py) and the webhooks
that feed `rulesync serve`. Registered in pyproject.toml under `rulesync.stores` as
`bigcommerce`, the default of `store.connector` in rulesync.yaml.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from connectors.bigcommerce import actions, hooks, slices
from connectors.bigcommerce.changefeed import ChangeBatch, ChangeFeed, Cursor, OrderChange
from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.normalize import normalize_shipment
from connectors.bigcommerce.plan_client import PlanClient
from connectors.bigcommerce.policy import RetryPolicy
from connectors.bigcommerce.quota import SINGLE, work
from connectors.bigcommerce.quota_setup import DEFAULT_CONCURRENCY, bucket_for
from engine.config import Config
from engine.connect.ports import DEFAULT_STORE, KnownShipped, Oms, Plugin, Store, SyncState
from engine.language.effects import ActionCall, Outcome

Known = Callable[[int], "int | None"]


class Changes:
    """A ChangeBatch whose cursor is text, as the sync state keeps it."""

    def __init__(self, batch: ChangeBatch) -> None:
        self._batch = batch

    def __iter__(self) -> Iterator[OrderChange]:
        return iter(self._batch)

    @property
    def cursor(self) -> str:
        return self._batch.cursor.to_json()


class BigCommerceStore:
    def __init__(self, client: BigCommerceClient) -> None:
        self.client = client
        # One change feed for the store's life, so its status labels are read once; each call
        # tells it what the caller knows.
        self._feed = ChangeFeed(client, concurrency=client.concurrency)

    def changes(self, cursor: str, known_items_shipped: KnownShipped) -> Changes:
        self._feed.known = known_items_shipped
        return Changes(self._feed.changes(_cursor(cursor)))

    def count_changes(self, cursor: str) -> int:
        return self._feed.count(_cursor(cursor))

    # Work on one order goes before the change feed's bulk in the store's quota, unless the
    # caller (a task layer) said otherwise (connectors/bigcommerce/quota.py).
    def order_change(self, order_id: int, known_items_shipped: Known) -> OrderChange:
        with work(SINGLE, unless_said=True):
            return self._feed.change(self.client.get_order(order_id), known_items_shipped)

    def shipments(self, order_id: int, line_items: Iterable[Mapping[str, Any]]
                  ) -> list[dict[str, Any]]:
        lines = list(line_items)
        with work(SINGLE, unless_said=True):
            return [normalize_shipment(s, lines) for s in self.client.list_shipments(order_id)]

    def execute(self, call: ActionCall, oms: Oms, state: SyncState) -> Outcome:
        with work(SINGLE, unless_said=True):
            return actions.execute(actions.StoreSide(self.client, oms, state), call)

    # -- distributed mode (engine/distributed/feed.py): the change feed in slices ------------

    def feed_plan(self, cursor: str, size: int) -> dict[str, Any]:
        found = slices.plan(self._feed, _cursor(cursor), size)
        return {"cursor": found.cursor.to_json(), "lower": found.lower, "upper": found.upper,
                "slices": [list(s) for s in found.slices]}

    def feed_slice(self, cursor: str, lower: int, upper: int, first: int, last: int,
                   known_items_shipped: Known) -> Iterator[OrderChange]:
        self._feed.known = known_items_shipped
        return slices.changes(self._feed, _cursor(cursor), lower, upper, first, last)

    # -- the webhooks that feed `rulesync serve` (connectors/bigcommerce/hooks.py) -----------

    def hook_status(self) -> list[dict[str, Any]]:
        return hooks.listed(self.client)

    def register_hooks(self, destination: str, header: str, secret: str
                       ) -> list[tuple[str, str]]:
        return hooks.register(self.client, destination, header, secret)

    def remove_hooks(self, destination: str | None) -> list[str]:
        return hooks.remove(self.client, destination)

    def stats(self) -> dict[str, int]:
        return dict(self.client.stats)


def _cursor(text: str) -> Cursor:
    return Cursor.from_json(text) if text else Cursor()


def client_for(config: Config, kind: type[BigCommerceClient] = BigCommerceClient
               ) -> BigCommerceClient:
    """The REST client for the configured store (its retry policy, timeouts, token, quota)."""
    policy = RetryPolicy()
    if config.retry_floor_seconds is not None:
        floor = config.retry_floor_seconds
        policy = RetryPolicy(server_error_floor=floor, base_delay=min(1.0, floor),
                             max_delay=max(floor, 1.0))
    if config.max_wait_seconds is not None:
        policy = replace(policy, max_wait=float(config.max_wait_seconds))
    read = float(config.timeout_seconds or 30.0)
    timeout = (min(5.0, read), read)
    return kind(config.store_hash, config.token(), config.api_url, timeout=timeout,
                policy=policy, token_name=config.token_env,
                quota=bucket_for(config, read_only=kind is PlanClient),
                concurrency=config.concurrency or DEFAULT_CONCURRENCY,
                entry="" if config.store_name == DEFAULT_STORE else f"stores[{config.store_name}]")


def open_store(config: Config, *, read_only: bool = False) -> BigCommerceStore:
    return BigCommerceStore(client_for(config, PlanClient if read_only else BigCommerceClient))


PLUGIN = Plugin("store", open_store, "BigCommerce, through its REST API (v2 orders, v3 hooks)")

if TYPE_CHECKING:  # mypy holds the class to the protocol it is registered for
    _CHECKED: type[Store] = BigCommerceStore
