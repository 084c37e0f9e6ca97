"""`rulesync apply --queue` through real `rulesync worker` processes on RabbitMQ and
PostgreSQL: the same end state and summary as the single-process `apply`."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import databases
from tests.support.acceptance_world import order_body
from tests.support.distributed_world import Cluster

NAMES = ("eu", "us", "au")
STATUSES = (11, 7, 10, 9, 5, 2, 11)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(tmp_path, NAMES, stack)


def test_apply_queue_syncs_every_store_through_the_workers(cluster: Cluster) -> None:
    for sb in cluster.sandboxes.values():
        for status in STATUSES:
            sb.store.create_order(order_body(status))
    cluster.write_config(", slice_orders: 2")  # several slices per store
    cluster.start_worker("--concurrency", "2")
    cluster.start_worker("--concurrency", "2")
    summary = cluster.apply_queue()
    assert summary["failed"] == []
    with databases.fresh_schema() as elsewhere:  # the single-process apply, for comparison
        single = cluster.run("apply", "--json", RULESYNC_DATABASE_URL=elsewhere)
        assert single.returncode == 0, single.stderr
        expected = json.loads(single.stdout)
    assert summary["stores"] == expected["stores"]
    assert {n: s["imported"] for n, s in summary["stores"].items()} == dict.fromkeys(NAMES, 5)
    for name in NAMES:
        assert cluster.plan(name)["actions"] == []
        assert len(cluster.ledger(name)) == 5
    decisions = cluster.query("SELECT store, direction, event_id, count(*) FROM sync_decisions "
                              "GROUP BY store, direction, event_id HAVING count(*) > 1")
    assert decisions == []
    again = cluster.apply_queue("--store", "us")
    assert list(again["stores"]) == ["us"]
    assert again["stores"]["us"]["imported"] == again["stores"]["us"]["updated"] == 0


def test_apply_queue_without_a_broker_is_a_clear_error(cluster: Cluster, tmp_path: Path) -> None:
    r = cluster.run("apply", "--queue", RULESYNC_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: cannot reach the broker amqp://***@127.0.0.1:1//: "), \
        r.stderr


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_a_wrong_broker_password_or_vhost_stops_worker_and_beat_at_once(
        cluster: Cluster, command: str) -> None:
    """The broker answers but refuses: one line and exit 1, not a traceback (exit 3) or a
    worker reconnecting for ever."""
    url = urlsplit(cluster.broker)
    wrong = {"password": url._replace(netloc=f"{url.username}:not-{url.password}@"
                                             f"{url.hostname}:{url.port}").geturl(),
             "vhost": url._replace(path="/no-such-vhost").geturl()}
    for what, broker in wrong.items():
        r = cluster.run(command, "--schedule", str(cluster.folder / "schedule"), timeout=60,
                        RULESYNC_BROKER_URL=broker)
        assert r.returncode == 1, (what, r.stderr)
        assert r.stderr.splitlines()[-1].startswith("error: cannot reach the broker "), r.stderr
        assert "Traceback" not in r.stderr and url.password not in r.stderr


def test_a_worker_whose_database_cannot_be_opened_stops_at_once(cluster: Cluster) -> None:
    """Rather than taking tasks from the broker and failing each (dropped once failed)."""
    missing = urlsplit(cluster.state)._replace(path="/rulesync_no_such_database").geturl()
    r = cluster.run("worker", timeout=60, RULESYNC_DATABASE_URL=missing)
    assert r.returncode == 1, r.stderr
    assert r.stderr.splitlines()[-1].startswith("error: cannot open the state database"), \
        r.stderr


def test_apply_queue_needs_the_state_on_postgresql(cluster: Cluster, tmp_path: Path) -> None:
    r = cluster.run("apply", "--queue", RULESYNC_DATABASE_URL=str(tmp_path / "s.sqlite"))
    assert r.returncode == 1
    assert "distributed mode keeps the state in PostgreSQL" in r.stderr, r.stderr


def test_a_store_whose_token_is_refused_fails_alone(cluster: Cluster) -> None:
    for sb in cluster.sandboxes.values():
        sb.store.create_order(order_body(11))
    cluster.start_worker(US_TOKEN="not-the-token")
    r = cluster.run("apply", "--queue")
    assert r.returncode == 1, r.stderr
    assert "store us:\n  failed: " in r.stdout and "401" in r.stdout, r.stdout
    assert r.stdout.rstrip().endswith("1 of 3 store(s) failed: us"), r.stdout
    assert "not-the-token" not in r.stdout + r.stderr
    assert (len(cluster.ledger("eu")), len(cluster.ledger("us")), len(cluster.ledger("au"))) == (
        1, 0, 1)
    status = cluster.run("status", "--store", "us")
    assert "store us: last run failed: " in status.stdout, status.stdout
