"""`rulesync serve --queue` and `rulesync worker --beat` on real RabbitMQ, PostgreSQL and
sandbox stores: webhooks (duplicated, reordered, some sent while no worker runs) end in the
state one `apply` gives; beat's catch-up poll syncs a change no webhook announced."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

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
    assert (health["stores"]["eu"]["slices_waiting"], health["stores"]["eu"]["run"]) == (0, None)
    with databases.fresh_schema() as elsewhere:
        single = cluster.run("apply", "--json", RULESYNC_DATABASE_URL=elsewhere)
        assert single.returncode == 0, single.stderr
        for name in NAMES:
            assert cluster.ledger(name) == _ledger(elsewhere, name)
    for name in NAMES:
        assert cluster.plan(name)["actions"] == []


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



