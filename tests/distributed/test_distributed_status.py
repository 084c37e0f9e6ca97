"""`rulesync status` and Celery's own tools against a real worker on RabbitMQ."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from engine.storage.state import SqlState
from tests.support.acceptance_world import order_body
from tests.support.distributed_world import Cluster, wait_for

NAMES = ("eu", "us")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(tmp_path, NAMES, stack)


def status(cluster: Cluster, *args: str) -> dict:
    r = cluster.run("status", "--json", *args)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def test_status_shows_workers_queues_and_each_stores_work(cluster: Cluster) -> None:
    before = status(cluster)
    assert before["workers"] == [] and set(before["stores"]) == set(NAMES)
    assert before["stores"]["eu"]["last_sync"] is None
    text = cluster.run("status")
    assert "workers alive, by their heartbeats in the state: 0 (start `rulesync worker`)" \
        in text.stdout, text.stdout
    for sb in cluster.sandboxes.values():
        sb.store.create_order(order_body(11))
    node = f"test-{uuid.uuid4().hex[:8]}@localhost"
    state = SqlState(cluster.state, "eu")
    try:  # a worker killed two days ago: its row goes when a worker starts
        state.db.write("INSERT INTO sync_meta (key, value) VALUES (?, ?)",
                       ("workers:killed@old", str(time.time() - 2 * 86400)))
    finally:
        state.close()
    cluster.start_worker("--name", node)
    wait_for("the worker's heartbeat", lambda: status(cluster)["workers"] == [node])
    assert cluster.query("SELECT key FROM sync_meta WHERE key LIKE 'workers:%'") == [
        (f"workers:{node}",)]
    cluster.apply_queue()
    after = status(cluster, "--store", "us")
    assert list(after["stores"]) == ["us"]
    us = after["stores"]["us"]
    assert us["last_sync"] and (us["queue_depth"], us["retry_set"], us["run"]) == (0, 0, None)
    assert us["quota"]["requests"] == 1_000_000  # the shared bucket, as the headers say it
    # As it is now, not as the last request left it: at that rate, refilled at once.
    assert us["quota"]["tokens_left"] == us["quota"]["tokens_at_most"] == 20, us["quota"]
    queues = after["broker"]["queues"]
    assert queues[f"{cluster.prefix}.orders"]["consumers"] == 1
    assert queues[f"{cluster.prefix}.feed"]["messages"] == 0
    celery = str(Path(sys.executable).parent / "celery")
    ping = subprocess.run([celery, "-A", "engine.distributed.app", "-b", cluster.broker,
                           "inspect", "ping", "-d", node, "--timeout", "10"],
                          capture_output=True, text=True, timeout=60, cwd=cluster.folder)
    assert ping.returncode == 0 and "pong" in ping.stdout, ping.stdout + ping.stderr
    worker = cluster.workers[-1]
    worker.send_signal(signal.SIGTERM)  # a clean stop takes the worker out at once
    assert worker.wait(timeout=60) == 0
    assert status(cluster)["workers"] == []


def test_status_without_the_broker_says_so_and_exits_1(cluster: Cluster) -> None:
    r = cluster.run("status", RULESYNC_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    assert r.returncode == 1
    assert r.stdout.startswith("broker amqp://guest@127.0.0.1:1//: unreachable: "), r.stdout
