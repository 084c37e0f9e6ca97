"""`rulesync apply --queue` through real `rulesync worker` processes on RabbitMQ and
PostgreSQL: the same end state and summary as the single-process `apply`."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import databases
from tests.support.acceptance_world import RULESYNC, order_body
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


def test_without_a_worker_apply_queue_gives_up_when_told_and_the_run_waits_for_one(
        cluster: Cluster) -> None:
    """`--timeout` ends the wait with exit 1; Ctrl-C ends it too; either way the run stays
    queued, and the first worker started finishes it (a later `apply --queue` joins it)."""
    for sb in cluster.sandboxes.values():
        sb.store.create_order(order_body(11))
    r = cluster.run("apply", "--queue", "--timeout", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error: the queued sync did not finish in 2 s" in r.stderr, r.stderr
    assert "it goes on in the workers" in r.stderr, r.stderr
    waiting = subprocess.Popen([RULESYNC, "apply", "--queue"], cwd=cluster.folder,
                               env=cluster.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    waiting.send_signal(signal.SIGINT)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 130, out + err
    # It joined the run the first one left (one run per store at a time): that run goes on.
    assert "stopped waiting: the sync in progress goes on in the workers; this apply queued " \
           "nothing" in err, err
    assert "Traceback" not in err
    status = json.loads(cluster.run("status", "--json").stdout)
    assert all(s["run"] is not None for s in status["stores"].values()), status
    cluster.start_worker()
    summary = cluster.apply_queue("--timeout", "120")  # after the waiting run, one of its own
    assert summary["failed"] == [], summary
    for name in NAMES:
        assert len(cluster.ledger(name)) == 1
        assert cluster.plan(name)["actions"] == []
