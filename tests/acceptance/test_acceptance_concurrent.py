"""Two `apply` processes on one state at the same time end exactly as one `apply` would: the
same ledger, the same store, no shipment posted twice, one decision per event.

Both processes are made to overlap for certain: the test holds the state's sync lock first,
starts both, waits until each has logged that it waits, then lets go. They are compared with an
identical store and ledger synced by a single `apply`. On PostgreSQL this is the lock that lets
processes on several machines share one database.
"""
from __future__ import annotations

import json
import subprocess
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from connectors.ledger import Ledger
from engine.storage.state import SqlState
from tests.support import databases
from tests.support.acceptance_world import NOTHING_DONE, RULESYNC, World, counts

STATE_BACKENDS = databases.BACKENDS  # these run on SQLite and on PostgreSQL
PUSH = "push_order_info=true"
WAITING = "waiting for another rulesync sync"
BOUND = 300.0  # seconds: generous, only reached when something is wrong


def ledger_work(w: World) -> list[int]:
    """The same ledger user's changes in either world: ship 12 orders in full, pay 5."""
    done = []
    with Ledger(w.state) as ledger:
        orders = [o for o in ledger.list_orders(limit=1000)
                  if o.line_items and not o.void and not o.closed]
        for order in [o for o in orders if o.state()["shipped"] == "none"][:12]:
            ledger.ship(order.order_id, f"1ZRACE{order.order_id}", "ups", None)
            done.append(order.order_id)
        for order in [o for o in orders if not o.paid][:5]:
            ledger.mark_paid(order.order_id, origin="user")
            done.append(order.order_id)
    return done


def comparable(w: World) -> dict[int, Any]:
    """The ledger without what differs between two separate runs (times, store ids)."""
    out = {}
    for oid, order in w.ledger_dump().items():
        order = {k: v for k, v in order.items() if k != "imported_at"}
        order["shipments"] = sorted(({k: v for k, v in s.items()
                                      if k not in ("date_created", "store_id")}
                                     for s in order["shipments"]), key=repr)
        out[oid] = order
    return out


def wait_for(proc: subprocess.Popen[str], text: str) -> list[str]:
    """Read `proc`'s stderr up to a line containing `text`; the lines read."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"the process ended without saying {text!r}: {seen}")


def racing_applies(w: World) -> list[dict[str, Any]]:
    """Two `apply --json` started while the test holds the lock, then let go at once."""
    command = [RULESYNC, "apply", "--json", "--state", str(w.state), "--set", PUSH]
    with ExitStack() as stack:
        held = stack.enter_context(closing(SqlState(w.state)))
        lock = stack.enter_context(ExitStack())
        lock.enter_context(held.exclusive())
        procs = [stack.enter_context(subprocess.Popen(
            command, cwd=w.dir, env=w.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)) for _ in range(2)]
        try:
            for proc in procs:
                wait_for(proc, WAITING)  # both are running, both blocked on the lock
            lock.close()
            outputs = [proc.communicate(timeout=BOUND) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        assert [p.returncode for p in procs] == [0, 0], outputs
        return [json.loads(out) for out, _ in outputs]


def test_two_applies_at_once_end_as_one_apply(tmp_path: Path, backend: str) -> None:
    with World(tmp_path / "one", seed_orders=80, backend=backend) as one, \
            World(tmp_path / "two", seed_orders=80, backend=backend) as two:
        assert one.store_dump() == two.store_dump()
        changed = []
        for w in (one, two):
            w.tick()
            w.apply(PUSH)
            changed.append(ledger_work(w))
            w.tick()
        assert changed[0] == changed[1] and len(changed[0]) == 17
        single = one.apply(PUSH)
        racing = racing_applies(two)
        # One of the two did the work, the other found nothing left to do.
        assert sorted((counts(s) for s in racing), key=lambda c: c == NOTHING_DONE) == [
            counts(single), NOTHING_DONE]
        assert counts(single)["pushed"] >= 10
        for w in (one, two):  # read back what was pushed: nothing more happens
            w.tick()
            assert counts(w.apply(PUSH)) == NOTHING_DONE
        assert comparable(two) == comparable(one)
        assert two.store_dump() == one.store_dump()
        posts = [w.sb.api_calls().get("POST /v2/orders/{id}/shipments", 0) for w in (one, two)]
        assert posts[1] == posts[0] >= 5
        decisions = [w.query("SELECT count(*) FROM sync_decisions")[0][0] for w in (one, two)]
        assert decisions[1] == decisions[0] > 0
        assert two.query("SELECT direction, event_id FROM sync_decisions "
                         "GROUP BY direction, event_id HAVING count(*) > 1") == []
        assert two.plan(PUSH)["actions"] == []
