"""`rulesync serve` with an order the store keeps refusing and a store that refuses the token:
the order waits in the retry set while the queue and the catch-up poll go on, `/healthz` says
`degraded` with counts, and everything clears after recovery. Real command, real sandbox; the
store misbehaves through `MisbehavingStore`, which changes replies only.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from engine.serve.app import QUEUE_AGE_LIMIT, health_status
from tests.support.misbehaving_store import MisbehavingStore, status_as_string
from tests.support.serve_world import (
    BILLED,
    PAID,
    T0,
    TOKEN,
    Serve,
    ledger_get,
    order_body,
    order_delivery,
    sandbox,
    wait_for,
    wait_state,
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def sb(clock: FrozenClock) -> Iterator[Sandbox]:
    with sandbox(clock=clock) as store:
        yield store


@pytest.fixture
def store(sb: Sandbox) -> Iterator[MisbehavingStore]:
    proxy = MisbehavingStore(sb)
    yield proxy
    proxy.restore()


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    made: list[Serve] = []
    yield made
    for s in made:
        s.stop()


def start(serves: list[Serve], sb: Sandbox, tmp_path: Path, **kw: Any) -> Serve:
    s = Serve(sb, tmp_path / "work", tmp_path / "state.sqlite", **kw)
    serves.append(s)
    return s.start()


def create(sb: Sandbox, status_id: int) -> int:
    return int(sb.store.create_order(order_body(status_id))["id"])


def status_is(s: Serve, wanted: str) -> dict[str, Any] | None:
    health = s.health()
    return health if health["status"] == wanted else None


def make_due(state: Path) -> None:
    """Let the retry set's wait pass (the backoff is 30 s and more)."""
    conn = sqlite3.connect(state, timeout=30)
    with conn:
        conn.execute("UPDATE sync_retries SET next_attempt_at = 0")
    conn.close()


def test_an_order_the_store_refuses_waits_while_the_queue_and_the_poll_go_on(
        sb: Sandbox, clock: FrozenClock, store: MisbehavingStore, tmp_path: Path,
        serves: list[Serve]) -> None:
    s = start(serves, sb, tmp_path, poll_seconds=1)
    bad, good = create(sb, 11), create(sb, 7)
    store.refuse("GET", f"/v2/orders/{bad}", 403)
    store.rewrite(bad, status_as_string)  # and unreadable in list pages, for the catch-up poll
    assert s.post(order_delivery("created", bad)) == (200, "")
    assert s.post(order_delivery("created", good)) == (200, "")
    wait_state(s.state, good, BILLED)  # queued behind the refused one, applied all the same
    health = wait_for("/healthz to say degraded", lambda: status_is(s, "degraded"))
    assert (health["failing_orders"], health["queue_depth"]) == (1, 0)
    assert health["worker_error"] is None  # one order failing is not the worker failing
    public = s.health(secret=None)
    assert public["status"] == "degraded" and public["failing_orders"] == 1
    assert "worker_error" not in public and "last_sync" not in public
    assert ledger_get(s.state, bad) is None
    assert f"order {bad}" in s.stderr() and "403" in s.stderr()

    # the catch-up poll still runs: a change no webhook announced comes in
    quiet = create(sb, 11)
    clock.advance(2)
    wait_state(s.state, quiet, PAID)
    assert ledger_get(s.state, bad) is None and s.health()["failing_orders"] == 1

    # the store answers again; once the wait is over the worker retries and all is well
    store.heal()
    make_due(s.state)
    wait_state(s.state, bad, PAID)
    health = wait_for("/healthz to say ok", lambda: status_is(s, "ok"))
    assert (health["failing_orders"], health["retries_due"]) == (0, 0)


def test_a_failed_catch_up_poll_waits_for_its_turn_and_stays_on_healthz(
        sb: Sandbox, store: MisbehavingStore, tmp_path: Path, serves: list[Serve]) -> None:
    """A list page the store got wrong fails the whole poll: the next poll waits its
    `--poll-seconds` instead of reading the page again every second, webhooks go on meanwhile,
    and /healthz shows the poll's error (not cleared by the turns between polls)."""
    broken = create(sb, 11)
    store.rewrite(broken, lambda order: order.update(id="abc"))
    s = Serve(sb, tmp_path / "work", tmp_path / "state.sqlite", poll_seconds=3600)
    serves.append(s)
    s.start(wait_first_sync=False)
    health = wait_for("/healthz to show the failed poll",
                      lambda: (h := status_is(s, "degraded")) and h["worker_error"] and h)
    assert "GET /v2/orders" in health["worker_error"] and "'abc'" in health["worker_error"]
    listed = sb.api_calls()["GET /v2/orders"]

    good = create(sb, 7)
    assert s.post(order_delivery("created", good)) == (200, "")
    wait_state(s.state, good, BILLED)
    s.worker_turn()
    s.worker_turn()
    assert sb.api_calls()["GET /v2/orders"] == listed
    health = s.health()
    assert health["status"] == "degraded" and "GET /v2/orders" in health["worker_error"]


def test_a_refused_token_is_degraded_until_the_store_takes_it_again(
        sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    s = start(serves, sb, tmp_path)
    sb.app.token = "another-token"  # the store no longer accepts rulesync's token
    oid = create(sb, 7)
    assert s.post(order_delivery("created", oid)) == (200, "")
    health = wait_for("/healthz to say degraded",
                      lambda: (h := status_is(s, "degraded")) and h["worker_error"] and h)
    assert "401" in health["worker_error"] and TOKEN not in health["worker_error"]
    assert health["queue_depth"] == 1 and health["failing_orders"] == 0  # kept, not failed
    public = s.health(secret=None)
    shown = {k: v for k, v in health.items() if k == "status" or type(v) is int}
    # the queued delivery's age may tick on between the two reads
    assert public.pop("queue_age_seconds") - shown.pop("queue_age_seconds") in (0, 1)
    assert public == shown
    sb.app.token = TOKEN
    wait_state(s.state, oid, BILLED)
    health = wait_for("/healthz to say ok", lambda: status_is(s, "ok"))
    assert health["worker_error"] is None and health["queue_depth"] == 0


def test_a_state_file_deleted_under_serve_fails_healthz_and_acknowledges_nothing(
        sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    """`rm state.sqlite*` while serve runs: /healthz says `failed` and names the file, a
    delivery is refused with 503 (the store sends it again later) instead of acknowledged into a
    new, empty state file that nothing would apply."""
    s = start(serves, sb, tmp_path)
    oid = create(sb, 7)
    assert s.post(order_delivery("created", oid)) == (200, "")
    wait_state(s.state, oid, BILLED)
    for f in tmp_path.glob(s.state.name + "*"):
        f.unlink()

    health = wait_for("/healthz to say failed", lambda: status_is(s, "failed"))
    assert str(s.state) in health["state_error"]
    assert "the file was deleted or replaced while rulesync was using it" in health["state_error"]
    public = s.health(secret=None)
    assert public["status"] == "failed" and "state_error" not in public
    for _ in range(3):  # whichever server thread answers, with or without a connection yet
        status, body = s.post(order_delivery("updated", oid))
        assert status == 503 and "deleted or replaced" in body, (status, body)
    assert not list(tmp_path.glob(s.state.name + "*")), "a new state file was made"
    assert "Traceback" not in s.stderr()


def test_health_status_from_its_counts() -> None:
    calm = {"failing_orders": 0, "worker_error": None, "queue_age_seconds": 0}
    assert health_status(True, calm) == "ok"
    assert health_status(False, calm) == "stalled"
    assert health_status(True, {**calm, "failing_orders": 2}) == "degraded"
    assert health_status(True, {**calm, "worker_error": "t: HTTP 401"}) == "degraded"
    queued = {**calm, "last_run_error": None}  # serve --queue: the workers' last run
    assert health_status(True, queued) == "ok"
    assert health_status(True, {**queued, "last_run_error": "HTTP 401"}) == "degraded"
    assert health_status(True, {**calm, "queue_age_seconds": QUEUE_AGE_LIMIT}) == "ok"
    assert health_status(True, {**calm, "queue_age_seconds": QUEUE_AGE_LIMIT + 1}) == "degraded"
    assert health_status(False, {**calm, "state_error": "cannot use s.sqlite: ..."}) == "failed"
