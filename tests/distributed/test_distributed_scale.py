"""Acceptance of distributed mode at scale, on real RabbitMQ, PostgreSQL and sandbox stores
with BigCommerce's quota (150 requests per 30 s): ten stores synced by two `rulesync worker`
processes converge with nothing doubled and no 429 answer; and the same under chaos (a worker
killed by SIGKILL at 10 random moments, each replaced, and the broker connection cut once) ends
the same.

Sizes: the first test runs the issue's full 10 stores x 300 orders; the chaos test runs
10 x 100 to stay inside CI's time budget (bench/scale_workers.py --chaos runs it at 300)."""
from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.distributed_scale import (
    Chaos,
    apply_in_background,
    check_converged,
    fill,
    refused,
    ship_in_ledger,
    ship_in_store,
)
from tests.support.distributed_world import Cluster
from tests.support.tcp_proxy import TcpProxy

NAMES = tuple(f"s{i:02d}" for i in range(10))
QUOTA = {"quota": 150, "window_ms": 30000}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(tmp_path, NAMES, stack, **QUOTA)


@pytest.fixture
def unlimited(tmp_path: Path) -> Iterator[Cluster]:
    """Stores without a quota: the chaos run is about crashes, and waits for no window."""
    with ExitStack() as stack:
        yield Cluster(tmp_path, NAMES, stack)


def seed() -> int:
    found = int(os.environ.get("RULESYNC_TEST_SEED") or random.randrange(1 << 30))
    print(f"seed {found} (RULESYNC_TEST_SEED={found} repeats this run)")
    return found


def test_ten_stores_two_workers_converge_under_the_quota(cluster: Cluster) -> None:
    rng = random.Random(seed())
    ids = fill(cluster, 300)
    for _ in range(2):
        cluster.start_worker("--concurrency", "4")
    first = cluster.apply_queue()
    assert first["failed"] == [], first["failed"]
    assert {n: len(cluster.ledger(n)) for n in NAMES} == dict.fromkeys(NAMES, 300)
    unshipped = ship_in_store(cluster, ids, 0.3, rng)  # 90 shipped in each store
    shipped = ship_in_ledger(cluster, unshipped, 5, rng)  # and 5 others in the ledger
    second = cluster.apply_queue()
    assert second["failed"] == [], second["failed"]
    assert all(s["pushed"] >= 5 and s["updated"] >= 90 for s in second["stores"].values())
    check_converged(cluster, ids, shipped)
    assert set(refused(cluster).values()) == {0}, refused(cluster)
    status = json.loads(cluster.run("status", "--json", "--store", "s00").stdout)
    assert status["stores"]["s00"]["quota"]["requests"] == 150  # the store's shared bucket


def test_killed_workers_and_a_cut_broker_lose_and_double_nothing(unlimited: Cluster) -> None:
    cluster = unlimited
    rng = random.Random(seed())
    ids = fill(cluster, int(os.environ.get("RULESYNC_TEST_CHAOS_ORDERS") or 100))
    proxy, through = TcpProxy.for_url(cluster.broker)
    cluster.stack.callback(proxy.stop)
    fast = {"RULESYNC_STALL_SECONDS": "5"}
    worker_env = {"RULESYNC_BROKER_URL": through, **fast}
    for _ in range(2):
        cluster.start_worker("--concurrency", "4", **worker_env)
    chaos = Chaos(cluster, proxy, 10, rng, ("--concurrency", "4"), worker_env)
    chaos.start()
    shipped = {n: [] for n in NAMES}
    left = ship_in_store(cluster, ids, 0.0, rng)
    phase, deadline = 0, time.monotonic() + 600
    # Work goes on while chaos does (however quickly the runs end: a time limit, not a count).
    while phase < 2 or not chaos.finished and time.monotonic() < deadline:
        if phase == 1:
            left = ship_in_store(cluster, ids, 0.3, rng)
        if phase:
            more = ship_in_ledger(cluster, left, 5, rng)
            left = {n: [i for i in left[n] if i not in more[n]] for n in NAMES}
            shipped = {n: shipped[n] + more[n] for n in NAMES}
        applying = apply_in_background(cluster, **fast)
        out, err = applying.communicate(timeout=600)
        assert applying.returncode in (0, 1), err
        assert json.loads(out)["failed"] in ([], *([n] for n in NAMES)), out
        phase += 1
    chaos.stop()
    print("\n".join(chaos.log))
    assert chaos.done_kills == 10 and chaos.cut, chaos.log
    settled = cluster.apply_queue()  # whatever a failed run left for later is done now
    assert settled["failed"] == [], settled
    check_converged(cluster, ids, shipped)


