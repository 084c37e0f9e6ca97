"""`rulesync serve --queue` and `rulesync worker --beat` on real RabbitMQ, PostgreSQL and
sandbox stores: webhooks (duplicated, reordered, some sent while no worker runs) end in the
state one `apply` gives; beat's catch-up poll syncs a change no webhook announced."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import databases
from tests.support.acceptance_world import order_body
from tests.support.distributed_world import Cluster, Served, wait_for
from tests.support.serve_world import delivery

NAMES = ("eu", "us")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(tmp_path, NAMES, stack)


def hook(cluster: Cluster, store: str, order_id: int, new: int, previous: int) -> dict:
    body = delivery("store/order/statusUpdated", {
        "type": "order", "id": order_id,
        "status": {"previous_status_id": previous, "new_status_id": new}})
    body["producer"] = f"stores/hash-{store}"
    return body


def waiting(cluster: Cluster) -> int:
    return int(cluster.query("SELECT count(*) FROM sync_inbox WHERE done = 0")[0][0])


def test_webhooks_through_the_queue_end_as_one_apply(cluster: Cluster) -> None:
    served = Served(cluster)
    ids = {n: [int(sb.store.create_order(order_body(s))["id"]) for s in (7, 11, 9)]
           for n, sb in cluster.sandboxes.items()}
    for n, sb in cluster.sandboxes.items():  # status changes the webhooks announce
        sb.store.update_order(ids[n][0], {"status_id": 11})
        sb.store.update_order(ids[n][1], {"status_id": 9})
    deliveries = [hook(cluster, n, oid, 11, 7) for n in NAMES for oid in ids[n]]
    for body in deliveries[::-1] + deliveries:  # reordered, then each again (duplicates)
        assert served.post(body) == 200
    assert waiting(cluster) == len(deliveries)  # acknowledged while no worker runs
    assert served.health()["stores"]["eu"]["status"] == "stalled"  # and /healthz says so
    cluster.start_worker("--concurrency", "2")
    wait_for("the deliveries done", lambda: waiting(cluster) == 0)
    health = served.health()
    assert health["status"] == "ok", health
    assert health["stores"]["eu"]["workers"] == 1
    eu = health["stores"]["eu"]
    assert (eu["slices_waiting"], eu["run"], eu["oldest_pending_seconds"]) == (0, None, 0)
    assert eu["quota"]["requests"] == 1_000_000  # the store's shared bucket, as status shows it
    with databases.fresh_schema() as elsewhere:
        single = cluster.run("apply", "--json", RULESYNC_DATABASE_URL=elsewhere)
        assert single.returncode == 0, single.stderr
        for name in NAMES:
            assert cluster.ledger(name) == _ledger(elsewhere, name)
    for name in NAMES:
        assert cluster.plan(name)["actions"] == []


def test_serve_queue_says_at_start_that_its_broker_refuses_and_keeps_the_deliveries(
        cluster: Cluster) -> None:
    url = urlsplit(cluster.broker)
    wrong = url._replace(netloc=f"{url.username}:not-{url.password}@{url.hostname}:{url.port}")
    served = Served(cluster, RULESYNC_BROKER_URL=wrong.geturl(), RULESYNC_LOG_LEVEL="INFO")
    said = wait_for("the warning", lambda: [line for line in served.lines
                                            if "cannot reach the broker" in line], timeout=30)
    assert "deliveries wait in the inbox until it answers" in said[0], said
    assert f"not-{url.password}" not in "".join(served.lines)
    order_id = int(cluster.sandboxes["eu"].store.create_order(order_body(11))["id"])
    assert served.post(hook(cluster, "eu", order_id, 11, 7)) == 200
    assert waiting(cluster) == 1
    time.sleep(4)  # the relay's passes since, each of which finds the broker still refusing
    assert not [line for line in served.lines if "go to the workers again" in line], served.lines
    assert waiting(cluster) == 1


def test_beat_polls_each_stores_change_feed(cluster: Cluster) -> None:
    cluster.write_config(", poll_seconds: 1, retry_seconds: 1, push_seconds: 1")
    sb = cluster.sandboxes["us"]
    order_id = int(sb.store.create_order(order_body(11))["id"])
    cluster.start_worker("--beat", "--schedule", str(cluster.folder / "beat-schedule"))
    wait_for("beat's poll to import the order", lambda: order_id in cluster.ledger("us"))
    sb.store.update_order(order_id, {"status_id": 9})
    wait_for("the next poll to see it packed",
             lambda: cluster.ledger("us").get(order_id, {}).get("packed"))

    def polled_twice() -> list[str]:  # the run that saw it packed may still be finishing
        runs = cluster.query("SELECT store, count(*) FROM dist_runs WHERE stage = 'done' "
                             "AND error = '' GROUP BY store ORDER BY store")
        return [store for store, n in runs if n >= 2]

    wait_for("two finished polls of each store", lambda: polled_twice() == ["eu", "us"])
    assert cluster.query("SELECT count(*) FROM dist_runs WHERE error <> ''") == [(0,)]


def _ledger(state: str, store: str) -> dict:
    from connectors.ledger import Ledger

    with Ledger(state, store) as ledger:
        return {o.order_id: o.state() for o in ledger.list_orders(limit=100000)}





def test_serve_queue_takes_webhooks_again_after_its_database_connections_were_dropped(
        cluster: Cluster) -> None:
    """A PostgreSQL restart or failover cuts every connection: a delivery is answered 503 (not
    acknowledged, so the store sends it again) while a thread finds its connection gone, and
    200 once it has a new one; the relay queues what was acknowledged."""
    import urllib.error

    import psycopg

    tag = f"rulesync-test-{uuid.uuid4().hex[:12]}"
    cluster.state += f"&application_name={tag}"  # serve's connections, told from the others'
    served = Served(cluster, "--threads", "1")

    def post(order_id: int) -> int:
        try:
            return served.post(hook(cluster, "eu", order_id, 11, 7))
        except urllib.error.HTTPError as e:
            return e.code

    assert post(1) == 200
    with psycopg.connect(databases.server_url(), autocommit=True) as admin:
        wait_for("the HTTP thread's and the relay's connections", lambda: admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (tag,)).fetchone() >= (2,), timeout=30)
        cut = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = %s", (tag,)).fetchone()
    assert cut is not None and cut[0] >= 2  # the HTTP thread's and the relay's at least
    codes = [post(order_id) for order_id in (2, 3, 4)]
    assert codes[-1] == 200 and set(codes) <= {200, 503}, codes
    acknowledged = [1] + [n for n, code in zip((2, 3, 4), codes) if code == 200]
    wait_for("the relay to queue every acknowledged delivery", lambda: sorted(
        n for (n,) in cluster.query("SELECT order_id FROM sync_inbox WHERE retry_at > 0"))
        == acknowledged, timeout=30)
    assert served.proc.poll() is None
