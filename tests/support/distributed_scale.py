"""The scale scenario of distributed mode, shared by its acceptance test (scaled down to fit CI)
and bench/scale_workers.py (full size): stores with orders, 30% shipped in the store, then some
shipped in the ledger; `apply --queue` through real workers, optionally under chaos (workers
killed by SIGKILL at random moments and replaced, the broker connection cut once); then the
checks that every store converged with nothing lost and nothing doubled."""
from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from connectors.ledger import Ledger
from tests.support.acceptance_world import order_body
from tests.support.distributed_world import Cluster
from tests.support.tcp_proxy import TcpProxy


def fill(cluster: Cluster, orders: int) -> dict[str, list[int]]:
    """`orders` paid orders per store (Awaiting Fulfillment); their ids by store."""
    return {name: [int(sb.store.create_order(order_body(11))["id"]) for _ in range(orders)]
            for name, sb in cluster.sandboxes.items()}


def ship_in_store(cluster: Cluster, ids: dict[str, list[int]], fraction: float,
                  rng: random.Random) -> dict[str, list[int]]:
    """Ship a fraction of each store's orders whole in the store; returns those left."""
    left: dict[str, list[int]] = {}
    for name, sb in cluster.sandboxes.items():
        ship = set(rng.sample(ids[name], int(len(ids[name]) * fraction)))
        for order_id in sorted(ship):
            lines = sb.store.sub_resources(order_id, "products")
            sb.store.create_shipment(order_id, {
                "order_address_id": lines[0]["order_address_id"],
                "items": [{"order_product_id": p["id"], "quantity": p["quantity"]}
                          for p in lines],
                "tracking_number": f"S-{name}-{order_id}", "tracking_carrier": "ups"})
        left[name] = [i for i in ids[name] if i not in ship]
    return left


def ship_in_ledger(cluster: Cluster, unshipped: dict[str, list[int]], count: int,
                   rng: random.Random) -> dict[str, list[int]]:
    """Ship `count` of each store's unshipped orders in the ledger (as a user would)."""
    picked = {}
    for name, ids in unshipped.items():
        picked[name] = sorted(rng.sample(ids, min(count, len(ids))))
        with Ledger(cluster.state, name) as ledger:
            for order_id in picked[name]:
                ledger.ship(order_id, f"L-{name}-{order_id}", "ups")
    return picked


@dataclass
class Chaos:
    """Kill a random worker (SIGKILL) at `kills` random moments, starting a new one each time,
    and cut the broker connections once. A victim is one that has run for a few seconds (up
    and connected, so likely in the middle of a task), and the cut waits for connections."""

    cluster: Cluster
    proxy: TcpProxy
    kills: int
    rng: random.Random
    worker_args: tuple[str, ...]
    worker_env: dict[str, str] = field(default_factory=dict)
    done_kills: int = 0
    cut: bool = False
    log: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _born: dict[int, float] = field(default_factory=dict)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    @property
    def finished(self) -> bool:
        return self.done_kills >= self.kills and self.cut

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        cut_after = self.rng.randrange(self.kills)
        while not self.finished and not self._stop.wait(self.rng.uniform(1.0, 3.0)):
            now = time.monotonic()
            for p in self.cluster.workers:
                self._born.setdefault(p.pid, now)
            ready = [p for p in self.cluster.workers
                     if p.poll() is None and now - self._born[p.pid] > 4.0]
            if ready and self.done_kills < self.kills:
                victim = self.rng.choice(ready)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                self.done_kills += 1
                self.log.append(f"{now:.1f} killed worker pid {victim.pid}")
                self.cluster.start_worker(*self.worker_args, **self.worker_env)
            if not self.cut and self.done_kills > cut_after:
                cut = self.proxy.cut()
                self.cut = cut > 0
                self.log.append(f"{now:.1f} cut {cut} broker connection(s)")


def apply_in_background(cluster: Cluster, **env: str) -> subprocess.Popen[str]:
    from tests.support.acceptance_world import RULESYNC

    return subprocess.Popen([RULESYNC, "apply", "--queue", "--json"], cwd=cluster.folder,
                            env=cluster.env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def check_converged(cluster: Cluster, ids: dict[str, list[int]],
                    shipped_in_ledger: dict[str, list[int]]) -> None:
    """Every store converged (plan empty), each store order in the ledger with as many shipments
    as in the store (each ledger shipment made once in its store), no store shipment doubled,
    one decision per event, no action left pending."""
    for name, sb in cluster.sandboxes.items():
        with Ledger(cluster.state, name) as ledger:
            for order_id in ids[name]:
                order = ledger.get(order_id)
                assert order is not None, (name, order_id)
                store_side = sb.store.sub_resources(order_id, "shipments")
                assert len(order.shipments) == len(store_side), (name, order_id)
        plan = cluster.plan(name)
        assert plan["actions"] == [] and plan["errors"] == 0, (name, plan)
        for order_id in shipped_in_ledger[name]:
            tracking = [s["tracking_number"] for s in sb.store.sub_resources(order_id,
                                                                             "shipments")]
            assert tracking == [f"L-{name}-{order_id}"], (name, order_id, tracking)
        for order_id in sb.store.order_ids({}):
            numbers = Counter(s["tracking_number"] for s in sb.store.sub_resources(
                order_id, "shipments"))
            assert all(n == 1 for n in numbers.values()), (name, order_id, numbers)
    doubled = cluster.query("SELECT store, direction, event_id FROM sync_decisions GROUP BY "
                            "store, direction, event_id HAVING count(*) > 1")
    assert doubled == []
    pending = cluster.query("SELECT count(*) FROM sync_outbox WHERE status = 'pending'")
    assert pending == [(0,)]


def refused(cluster: Cluster) -> dict[str, int]:
    """429 answers per store (the sandbox counts those it refused for being over the quota)."""
    return {name: sb.limiter.refused for name, sb in cluster.sandboxes.items()}
