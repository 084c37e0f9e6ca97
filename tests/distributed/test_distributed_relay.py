"""serve --queue's relay from the PostgreSQL inbox to the broker, on the real PostgreSQL and
RabbitMQ: an acknowledged delivery reaches the queue even when the relay's database connection
was dropped in between (a server restart, a failover), and handled deliveries are pruned."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from engine.config import Config
from engine.distributed import relay as relay_module
from engine.distributed.relay import Relay
from engine.distributed.settings import Settings
from engine.storage.state import SqlState
from tests.support import databases
from tests.support.distributed_world import broker_url, delete_queues


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Relay, SqlState, list[SqlState], Settings]]:
    broker = broker_url()
    settings = Settings(url=broker, prefix=f"relay{uuid.uuid4().hex[:8]}")
    opened: list[SqlState] = []
    real_open = relay_module.open_state

    def spied(location: Any, store: str) -> Any:  # the relay's own states, to cut them
        state = real_open(location, store)
        opened.append(state)
        return state

    monkeypatch.setattr(relay_module, "open_state", spied)
    with databases.fresh_schema() as url:
        web = SqlState(url, "eu")  # what serve's HTTP threads write with
        relay = Relay(Config(None, (), {}, url, store_name="eu", inbox_retention_days=1.0),
                      settings, threading.Event())
        relay.start()
        try:
            yield relay, web, opened, settings
        finally:
            relay.stop.set()
            relay.join(10)
            web.close()
            delete_queues(broker, settings.prefix)


def _deliver(relay: Relay, web: SqlState, n: int) -> None:
    web.inbox().add(f"hash-{n}", 100 + n, "store/order/updated", "{}", "2026-01-01T00:00:00+00:00")
    relay.wake.set()


def _queued(settings: Settings, expected: int) -> list[Any]:
    """The order ids of the sync_order tasks in the orders queue, waiting up to 20 s for them."""
    from kombu import Connection

    found: list[Any] = []
    deadline = time.monotonic() + 20
    with Connection(settings.url, connect_timeout=5) as conn:
        queue = conn.SimpleQueue(settings.orders_queue)
        while len(found) < expected and time.monotonic() < deadline:
            try:
                message = queue.get(timeout=1)
            except queue.Empty:
                continue
            found.append(message.payload[0][1])  # (args, kwargs, embed): args[1] is the order
            message.ack()
        queue.close()
    return found


def test_deliveries_acknowledged_after_the_relays_connection_was_dropped_are_still_queued(
        world: tuple[Relay, SqlState, list[SqlState], Settings]) -> None:
    relay, web, opened, settings = world
    _deliver(relay, web, 1)
    assert _queued(settings, 1) == [101]
    (first,) = opened
    pid = first.db.conn.info.backend_pid  # type: ignore[attr-defined]
    with psycopg.connect(databases.server_url(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    for n in (2, 3, 4):
        _deliver(relay, web, n)
    assert sorted(_queued(settings, 3)) == [102, 103, 104]
    assert len(opened) == 2 and relay.is_alive()
    assert web.inbox().depth() == 4  # queued, not done: the workers mark them done


def test_the_relay_waits_out_a_database_that_is_down_when_it_starts(
        monkeypatch: pytest.MonkeyPatch,
        world: tuple[Relay, SqlState, list[SqlState], Settings]) -> None:
    relay, web, _, settings = world
    relay.stop.set()
    relay.join(10)
    failing = iter([True, True])

    def flaky(location: Any, store: str) -> Any:
        if next(failing, False):
            raise relay_module.DatabaseError(str(location), "the server is starting up")
        return SqlState(location, store)

    monkeypatch.setattr(relay_module, "open_state", flaky)
    again = Relay(relay.config, settings, threading.Event())
    monkeypatch.setattr(relay_module, "BACKOFF_S", 0.1)
    again.start()
    try:
        _deliver(again, web, 5)
        assert _queued(settings, 1) == [105]
    finally:
        again.stop.set()
        again.join(10)


def test_handled_deliveries_older_than_the_retention_are_pruned(
        world: tuple[Relay, SqlState, list[SqlState], Settings]) -> None:
    relay, web, _, settings = world
    inbox = web.inbox()
    for n, at in ((1, "2020-01-01T00:00:00+00:00"), (2, "2020-01-02T00:00:00+00:00")):
        inbox.add(f"old-{n}", 200 + n, "store/order/updated", "{}", at)
    web.db.execute("UPDATE sync_inbox SET done = 1")
    relay.stop.set()
    relay.join(10)
    again = Relay(relay.config, settings, threading.Event())
    again.start()
    try:
        deadline = time.monotonic() + 20
        while web.db.one("SELECT count(*) FROM sync_inbox") != (1,) and time.monotonic() < deadline:
            time.sleep(0.1)
        # The older one goes; the scope's newest delivery stays, as `serve` keeps it.
        assert web.db.rows("SELECT order_id FROM sync_inbox") == [(202,)]
    finally:
        again.stop.set()
        again.join(10)
