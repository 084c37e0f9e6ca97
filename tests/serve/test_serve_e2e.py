"""`rulesync serve` end to end: the real command, a real sandbox store, real webhooks.

Each test starts its own store and its own `serve` on a fresh state file. Ledger checks poll with
a deadline. The catch-up poll runs when `serve` starts and then once an hour (`--poll-seconds`),
so changes made after the start come in through webhook deliveries only; where a test needs store
timestamps it can control, the store clock is frozen.
"""
from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from engine.serve.webhooks import MAX_BODY, SCOPES
from tests.support.serve_world import (
    BILLED,
    PACKED,
    PAID,
    SECRET,
    T0,
    Serve,
    api,
    control,
    holding_sync_lock,
    ledger_dump,
    ledger_get,
    order_body,
    order_delivery,
    run,
    sandbox,
    ship,
    shipment_delivery,
    state_of,
    status_delivery,
    wait_for,
    wait_state,
)


@pytest.fixture
def live_sb() -> Iterator[Sandbox]:
    """A store on the real clock (BigCommerce-like webhook hashes and timestamps)."""
    with sandbox() as sb:
        yield sb


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def frozen_sb(clock: FrozenClock) -> Iterator[Sandbox]:
    """A store whose clock only moves when the test says so."""
    with sandbox(clock=clock) as sb:
        yield sb


@pytest.fixture
def serves(tmp_path: Path) -> Iterator[list[Serve]]:
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


def comparable(order: dict[str, Any] | None) -> dict[str, Any]:
    """A ledger order without what differs between two orders built the same way."""
    assert order is not None
    return {"state": order["state"], "warnings": order["warnings"],
            "line_items": [(li["sku"], li["quantity"]) for li in order["line_items"]],
            "shipments": sorted((s["tracking_number"], tuple(sorted(
                (i["sku"], i["quantity"]) for i in s["items"]))) for s in order["shipments"]),
            "history": Counter(order["history"])}


# -- every inbound row of the seed, through webhooks the store delivers ----------------------

STAGE1 = {  # name -> status the store order is created with
    "awaiting_payment": 7, "awaiting_fulfillment_new": 11, "awaiting_shipment_new": 9,
    "to_fulfillment": 7, "to_shipment": 7, "shipments": 9, "bare_shipped": 11, "cancel": 7,
    "completed_new": 10, "completed_prev": 7, "pickup": 7, "verification": 7, "pickup_new": 8,
    "verification_new": 12,
}
STAGE2_STATUS = {"to_fulfillment": 11, "to_shipment": 9, "bare_shipped": 2, "cancel": 5,
                 "completed_prev": 10, "pickup": 8, "verification": 12}
AFTER_STAGE1 = {
    "awaiting_payment": BILLED, "awaiting_fulfillment_new": PAID, "awaiting_shipment_new": PACKED,
    "to_fulfillment": BILLED, "to_shipment": BILLED, "shipments": PACKED, "bare_shipped": PAID,
    "cancel": BILLED, "completed_new": PACKED, "completed_prev": BILLED, "pickup": BILLED,
    "verification": BILLED, "pickup_new": None, "verification_new": None,
}
AFTER_STAGE2 = {
    **AFTER_STAGE1, "to_fulfillment": PAID, "to_shipment": PACKED,
    "shipments": {**PACKED, "shipped": "partial"}, "cancel": {**BILLED, "void": True},
}


def test_every_inbound_seed_row_arrives_through_a_webhook(live_sb: Sandbox, tmp_path: Path,
                                                          serves: list[Serve]) -> None:
    sb = live_sb
    s = start(serves, sb, tmp_path)
    r = run(sb, s.dir, "webhooks", "register", s.url)
    assert r.returncode == 0, r.stderr
    ids = {name: create(sb, status) for name, status in STAGE1.items()}

    def states() -> dict[str, Any]:
        return {name: state_of(s.state, oid) for name, oid in ids.items()}

    wait_for("stage 1 in the ledger", lambda: states() == AFTER_STAGE1 or None)

    for name, status in STAGE2_STATUS.items():
        sb.store.set_status(ids[name], status)
    first = ship(sb, ids["shipments"], {"MUG-1": 1, "CAP-1": 1}, "1ZPART0001")
    wait_for("stage 2 in the ledger", lambda: states() == AFTER_STAGE2 or None)
    order = ledger_get(s.state, ids["shipments"])
    assert order is not None
    assert [(x["tracking_number"], x["id"]) for x in order["shipments"]] == \
        [("1ZPART0001", str(first["id"]))]

    ship(sb, ids["shipments"], {"MUG-1": 1}, "1ZREST0002")
    complete = {**PACKED, "shipped": "complete"}
    wait_state(s.state, ids["shipments"], complete)
    order = ledger_get(s.state, ids["shipments"])
    assert order is not None
    assert sorted(x["tracking_number"] for x in order["shipments"]) == ["1ZPART0001", "1ZREST0002"]
    assert {(i["sku"], i["quantity"]) for x in order["shipments"] for i in x["items"]} == \
        {("MUG-1", 1), ("CAP-1", 1)}

    # Everything came through the webhooks (the catch-up poll runs once an hour here).
    wait_for("an empty queue", lambda: s.health()["queue_depth"] == 0)
    assert states() == {**AFTER_STAGE2, "shipments": complete}
    log = sb.webhook_log()
    assert log and all(entry["ok"] for entry in log)
    assert {"store/order/created", "store/order/statusUpdated",
            "store/shipment/created"} <= set(s.health()["last_received"])
    # The same dict the real command prints.
    shown = run(sb, s.dir, "orders", "show", str(ids["cancel"]), "--json", "--state",
                str(s.state))
    assert shown.returncode == 0 and '"void": true' in shown.stdout
    # Nothing was imported twice, and the order not previously imported never was.
    for name in ("pickup_new", "verification_new"):
        assert ledger_get(s.state, ids[name]) is None
    for oid in ids.values():
        found = ledger_get(s.state, oid)
        if found is not None:
            assert [k for k, _ in found["history"]].count("imported") == 1, found["history"]


# -- duplicated and reordered deliveries -----------------------------------------------------

def test_duplicated_and_reordered_deliveries_give_the_same_state_as_clean_ones(
        frozen_sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    sb = frozen_sb
    s = start(serves, sb, tmp_path)  # no hooks: the test is the store's webhook sender
    clean, messy = create(sb, 7), create(sb, 7)

    def ok(payload: dict[str, Any]) -> None:
        assert s.post(payload) == (200, "")

    # Clean: each change delivered once, in order, after the store made it.
    ok(order_delivery("created", clean))
    wait_state(s.state, clean, BILLED)
    sb.store.set_status(clean, 11)
    ok(order_delivery("updated", clean))
    ok(status_delivery(clean, 7, 11))
    wait_state(s.state, clean, PAID)
    sb.store.set_status(clean, 9)
    ok(status_delivery(clean, 11, 9))
    wait_state(s.state, clean, PACKED)
    one = ship(sb, clean, {"MUG-1": 1}, "TRACK-A1")
    ok(shipment_delivery(clean, one["id"]))
    ok(status_delivery(clean, 9, 3))
    wait_state(s.state, clean, {**PACKED, "shipped": "partial"})
    two = ship(sb, clean, {"MUG-1": 1, "CAP-1": 1}, "TRACK-A2")
    ok(shipment_delivery(clean, two["id"]))
    ok(status_delivery(clean, 3, 2))
    wait_state(s.state, clean, {**PACKED, "shipped": "complete"})

    # Messy: the same store changes; deliveries late, newest first, each one twice.
    sb.store.set_status(messy, 11)
    sb.store.set_status(messy, 9)
    for payload in (status_delivery(messy, 11, 9), status_delivery(messy, 11, 9),
                    order_delivery("updated", messy), status_delivery(messy, 7, 11),
                    order_delivery("created", messy), order_delivery("created", messy),
                    status_delivery(messy, 7, 11)):
        ok(payload)
    wait_state(s.state, messy, PACKED)
    before = ledger_get(s.state, messy)
    # A stale event arriving after the newer state was applied changes nothing.
    ok(order_delivery("created", messy) | {"hash": "late-retry-of-created"})
    wait_for("an empty queue", lambda: s.health()["queue_depth"] == 0)
    assert ledger_get(s.state, messy) == before
    one = ship(sb, messy, {"MUG-1": 1}, "TRACK-A1")
    two = ship(sb, messy, {"MUG-1": 1, "CAP-1": 1}, "TRACK-A2")
    for payload in (status_delivery(messy, 3, 2), shipment_delivery(messy, two["id"]),
                    shipment_delivery(messy, one["id"]), shipment_delivery(messy, two["id"]),
                    status_delivery(messy, 9, 3), shipment_delivery(messy, one["id"])):
        ok(payload)
    wait_state(s.state, messy, {**PACKED, "shipped": "complete"})
    wait_for("an empty queue", lambda: s.health()["queue_depth"] == 0)

    assert comparable(ledger_get(s.state, messy)) == comparable(ledger_get(s.state, clean))
    history = Counter(k for k, _ in ledger_get(s.state, messy)["history"])  # type: ignore[index]
    assert history["imported"] == 1
    assert len(ledger_get(s.state, messy)["shipments"]) == 2  # type: ignore[index]
    # Each duplicate was kept once in the inbox (same hash, one row).
    hashes = [row["hash"] for row in s.inbox()]
    assert len(hashes) == len(set(hashes))
    assert all(row["done"] for row in s.inbox())


def test_many_deliveries_of_one_order_are_coalesced_into_one_refetch(
        frozen_sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    sb = frozen_sb
    s = start(serves, sb, tmp_path)
    busy = create(sb, 11)
    sb.reset_counts()
    with holding_sync_lock(s.state):  # the worker waits, however long the deliveries take
        for n in range(20):
            assert s.post(order_delivery("updated", busy) | {"hash": f"busy-{n}"}) == (200, "")
        assert s.health()["queue_depth"] == 20
    wait_state(s.state, busy, PAID)
    wait_for("an empty queue", lambda: s.health()["queue_depth"] == 0)
    assert sb.api_calls().get("GET /v2/orders/{id}", 0) == 1, sb.api_calls()


# -- outbound in the same loop ---------------------------------------------------------------

def test_a_ledger_change_is_pushed_by_serve_without_ping_pong(
        live_sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    sb = live_sb
    s = start(serves, sb, tmp_path, args=("--set", "push_order_info=true"))
    assert run(sb, s.dir, "webhooks", "register", s.url).returncode == 0
    oid = create(sb, 7)
    wait_state(s.state, oid, BILLED)
    sb.reset_counts()
    delivered = len(sb.webhook_log())
    paid = run(sb, s.dir, "orders", "pay", str(oid), "--state", str(s.state))
    assert paid.returncode == 0, paid.stderr
    wait_for("the store to show 11 Awaiting Fulfillment",
             lambda: sb.store.order(oid)["status_id"] == 11)
    wait_for("the echo webhooks of the push, acknowledged", lambda: {
        "store/order/updated", "store/order/statusUpdated"} <= {
        e["scope"] for e in sb.webhook_log()[delivered:] if e["ok"]})
    wait_for("an empty queue", lambda: s.health()["queue_depth"] == 0)
    s.worker_turn()  # the turn that applied the echoes has ended: a ping-pong push is made
    order = ledger_get(s.state, oid)
    assert order is not None and order["state"] == PAID
    assert Counter(k for k, _ in order["history"])["paid"] == 1
    writes = {k: v for k, v in sb.api_calls().items() if not k.startswith("GET ")}
    assert writes == {"PUT /v2/orders/{id}": 1}, writes


# -- SIGKILL after acknowledging: nothing acknowledged is lost -------------------------------

def test_sigkill_after_acknowledging_loses_nothing(frozen_sb: Sandbox, tmp_path: Path,
                                                  serves: list[Serve]) -> None:
    sb = frozen_sb
    s = start(serves, sb, tmp_path)
    expected = {create(sb, 7): BILLED, create(sb, 11): PAID, create(sb, 9): PACKED,
                create(sb, 10): PACKED}
    # The worker is held and the store answers only after a minute: a delivery is acknowledged
    # without either (a post gives up after 10 s).
    control(sb, "faults", {"latency_ms": 60_000})
    try:
        with holding_sync_lock(s.state):
            for oid in expected:
                assert s.post(order_delivery("created", oid)) == (200, "")
            assert s.post(order_delivery("created", next(iter(expected)))) == (200, "")  # dup
            assert s.health()["queue_depth"] == len(expected)
            assert [r["done"] for r in s.inbox()] == [0] * len(expected)
            assert s.kill() == -signal.SIGKILL
    finally:
        control(sb, "faults", {"latency_ms": 0})
    assert ledger_dump(s.state) == {}  # killed before applying anything

    s.start(wait_first_sync=False)  # same state file
    for oid, state in expected.items():
        wait_state(s.state, oid, state)
    wait_for("an empty queue", lambda: s.health()["queue_depth"] == 0)
    for oid in expected:
        history = [k for k, _ in ledger_get(s.state, oid)["history"]]  # type: ignore[index]
        assert history.count("imported") == 1


# -- webhooks off: the catch-up poll converges -----------------------------------------------

def test_without_hooks_the_catch_up_poll_converges(frozen_sb: Sandbox, clock: FrozenClock,
                                                   tmp_path: Path, serves: list[Serve]) -> None:
    sb = frozen_sb
    s = start(serves, sb, tmp_path, poll_seconds=1)
    a, b, c, d = create(sb, 7), create(sb, 11), create(sb, 9), create(sb, 7)
    clock.advance(2)  # the changes are now in a closed second
    wait_state(s.state, a, BILLED)
    wait_state(s.state, b, PAID)
    wait_state(s.state, c, PACKED)
    sb.store.set_status(a, 9)
    ship(sb, c, {"MUG-1": 2, "CAP-1": 1}, "1ZPOLL")
    sb.store.set_status(d, 5)
    clock.advance(2)
    wait_state(s.state, a, PACKED)
    wait_state(s.state, c, {**PACKED, "shipped": "complete"})
    wait_state(s.state, d, {**BILLED, "void": True})
    assert api(sb, "GET", "/v3/hooks")["data"] == []
    assert s.inbox() == []
    assert s.health()["queue_depth"] == 0


# -- bad input -------------------------------------------------------------------------------

def test_bad_input_is_refused_and_neither_stops_the_service_nor_reaches_the_ledger(
        frozen_sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    sb = frozen_sb
    s = start(serves, sb, tmp_path)
    oid = create(sb, 11)
    good = order_delivery("created", oid)
    before = ledger_dump(s.state)

    assert s.post(good, secret=None)[0] == 401
    assert s.post(good, secret="wrong-secret-0123456789")[0] == 401
    assert s.post(good, secret=SECRET[:-1])[0] == 401
    assert s.post(good, secret="")[0] == 401
    assert s.post(None, raw=b'{"scope": "store/order/created", "data": {"id": ')[0] == 400
    assert s.post(None, raw=b"\xff\xfe not json")[0] == 400
    assert s.post(None, raw=b"")[0] == 400
    for wrong in ([good], "text", 42, {"data": good["data"], "hash": "h1"},
                  {"scope": "store/order/created", "hash": "h2"},
                  {"scope": "store/order/created", "hash": "h3", "data": "101"},
                  {"scope": "store/order/created", "hash": "", "data": good["data"]},
                  {"scope": "store/order/created", "hash": "h4", "data": {"type": "order"}},
                  {"scope": "store/order/created", "hash": "h5", "data": {"id": "x1"}},
                  {"scope": "store/order/created", "hash": "h6", "data": {"id": True}},
                  {"scope": "store/shipment/created", "hash": "h7", "data": {"id": oid}},
                  {"scope": 7, "hash": "h8", "data": good["data"]}):
        assert s.post(wrong)[0] == 400, wrong
    assert s.post(None, raw=b"{" + b" " * MAX_BODY + b"}")[0] == 413
    unknown = order_delivery("refund/created", oid, refund={"refund_id": 3})
    assert s.post(unknown) == (200, "")
    assert s.post(good | {"scope": "store/product/updated"}) == (200, "")
    assert s.post(good, method="GET")[0] == 405
    assert s.post(good, path="/elsewhere")[0] == 404

    health = s.health()
    assert health["queue_depth"] == 0
    assert s.inbox() == []
    s.worker_turn()  # anything the worker would do about them, it has done
    assert ledger_dump(s.state) == before == {}
    assert s.proc is not None and s.proc.poll() is None
    wait_for("the log line of the last delivery logged",
             lambda: "store/product/updated" in s.stderr())
    assert SECRET not in s.stderr()

    # Still serving: a good delivery goes all the way through.
    assert s.post(good) == (200, "")
    wait_state(s.state, oid, PAID)


def test_unknown_order_in_a_delivery_is_acknowledged_and_ignored(
        frozen_sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    s = start(serves, frozen_sb, tmp_path)
    assert s.post(order_delivery("created", 987654)) == (200, "")
    wait_for("the warning naming the order", lambda: "987654" in s.stderr())
    wait_for("an empty queue", lambda: s.health()["queue_depth"] == 0)
    assert ledger_dump(s.state) == {}
    oid = create(frozen_sb, 7)
    assert s.post(order_delivery("created", oid)) == (200, "")
    wait_state(s.state, oid, BILLED)


def test_pathological_payloads_are_400_not_500(frozen_sb: Sandbox, tmp_path: Path,
                                              serves: list[Serve]) -> None:
    s = start(serves, frozen_sb, tmp_path)
    answers = [s.post(None, raw=b"[" * 40_000)[0],
               s.post({"scope": "store/order/created", "hash": "h1", "data": {"id": "²"}})[0],
               s.post({"scope": "store/order/created", "hash": "h2", "data": {"id": 10**30}})[0]]
    assert s.proc is not None and s.proc.poll() is None  # still up, whatever it answered
    assert s.health()["queue_depth"] == 0
    assert answers == [400, 400, 400]


def test_a_poison_order_id_does_not_stop_the_worker(frozen_sb: Sandbox, tmp_path: Path,
                                                    serves: list[Serve]) -> None:
    s = start(serves, frozen_sb, tmp_path)
    assert s.post(order_delivery("created", 0))[0] == 400  # refused before the queue
    oid = create(frozen_sb, 7)
    assert s.post(order_delivery("created", oid)) == (200, "")
    wait_state(s.state, oid, BILLED)


def test_unknown_scope_leaves_a_log_line(frozen_sb: Sandbox, tmp_path: Path,
                                         serves: list[Serve]) -> None:
    s = start(serves, frozen_sb, tmp_path)
    assert s.post(order_delivery("refund/created", 5, refund={"refund_id": 3})) == (200, "")
    wait_for("a log line about the ignored scope",
             lambda: "store/order/refund/created" in s.stderr())


# -- SIGTERM ---------------------------------------------------------------------------------

def test_sigterm_stops_cleanly_and_keeps_what_it_acknowledged(
        frozen_sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    sb = frozen_sb
    s = start(serves, sb, tmp_path)
    a = create(sb, 9)
    assert s.post(order_delivery("created", a)) == (200, "")
    wait_state(s.state, a, PACKED)
    assert s.signal(signal.SIGTERM) == 0
    assert "Traceback" not in s.stderr() and "internal error" not in s.stderr()

    # Also while the worker is busy with a slow store: it finishes the order in hand, starts no
    # other, exits cleanly, and what was acknowledged but not applied is applied after a restart.
    s.start()
    b, c = create(sb, 11), create(sb, 7)
    fetches = sb.api_calls().get("GET /v2/orders/{id}", 0)
    control(sb, "faults", {"latency_ms": 2000})
    try:
        assert s.post(order_delivery("created", b)) == (200, "")
        assert s.post(order_delivery("created", c)) == (200, "")
        wait_for("the worker to be fetching order b from the slow store",
                 lambda: sb.api_calls().get("GET /v2/orders/{id}", 0) > fetches)
        assert s.signal(signal.SIGTERM, timeout=60) == 0
    finally:
        control(sb, "faults", {"latency_ms": 0})
    assert "Traceback" not in s.stderr()
    assert state_of(s.state, b) == PAID  # the order in hand was finished
    assert state_of(s.state, c) is None  # the next one was left for after the restart
    s.start(wait_first_sync=False)
    wait_state(s.state, b, PAID)
    wait_state(s.state, c, BILLED)


def test_serve_refuses_to_start_without_a_proper_secret(frozen_sb: Sandbox,
                                                        tmp_path: Path) -> None:
    r = run(frozen_sb, tmp_path, "serve", "--port", "0", "--state", str(tmp_path / "st.sqlite"),
            RULESYNC_WEBHOOK_SECRET="short")
    assert r.returncode != 0
    assert "RULESYNC_WEBHOOK_SECRET" in r.stderr and "short" not in r.stderr


# -- health ----------------------------------------------------------------------------------

def test_health_reports_the_hooks_once_registered(live_sb: Sandbox, tmp_path: Path,
                                                  serves: list[Serve]) -> None:
    s = start(serves, live_sb, tmp_path)
    assert run(live_sb, s.dir, "webhooks", "register", s.url).returncode == 0
    oid = create(live_sb, 7)
    wait_state(s.state, oid, BILLED)
    wait_for("the hooks in /healthz", lambda: len(s.health()["hooks"] or []) == len(SCOPES))


def test_health_reports_queue_depth_and_last_sync(frozen_sb: Sandbox, tmp_path: Path,
                                                  serves: list[Serve]) -> None:
    s = start(serves, frozen_sb, tmp_path)
    health = s.health()
    assert set(health) >= {"queue_depth", "last_sync", "hooks", "last_received"}
    assert health["queue_depth"] == 0 and health["last_sync"]
    oid = create(frozen_sb, 7)
    assert s.post(status_delivery(oid, 0, 7)) == (200, "")
    wait_state(s.state, oid, BILLED)
    assert "store/order/statusUpdated" in s.health()["last_received"]


# -- rulesync webhooks register | status | remove --------------------------------------------

def test_webhooks_register_status_reactivate_remove(live_sb: Sandbox, tmp_path: Path) -> None:
    sb = live_sb
    url = "http://127.0.0.1:9/webhooks"

    def hooks() -> list[dict[str, Any]]:
        return api(sb, "GET", "/v3/hooks")["data"]  # type: ignore[no-any-return]

    r = run(sb, tmp_path, "webhooks", "register", url)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    found = hooks()
    assert sorted(h["scope"] for h in found) == sorted(SCOPES)
    for h in found:
        assert h["destination"] == url and h["is_active"] is True
        assert h["headers"] == {"X-Rulesync-Secret": SECRET}

    r = run(sb, tmp_path, "webhooks", "status", "--json")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert sorted(h["scope"] for h in status) == sorted(SCOPES)
    assert all(h["is_active"] and h["destination"] == url for h in status)
    assert SECRET not in r.stdout
    r = run(sb, tmp_path, "webhooks", "status")
    assert r.returncode == 0 and "NO" not in r.stdout and SECRET not in r.stdout

    victim = next(h for h in found if h["scope"] == "store/order/statusUpdated")
    api(sb, "PUT", f"/v3/hooks/{victim['id']}", {"is_active": False})
    r = run(sb, tmp_path, "webhooks", "status")
    assert "NO" in r.stdout
    r = run(sb, tmp_path, "webhooks", "register", url)
    assert r.returncode == 0, r.stderr
    assert "re-activated" in next(line for line in r.stdout.splitlines()
                                  if "store/order/statusUpdated" in line)
    again = hooks()
    assert len(again) == len(SCOPES)  # re-register made no duplicates
    assert all(h["is_active"] for h in again)
    assert {h["id"] for h in again} == {h["id"] for h in found}

    r = run(sb, tmp_path, "webhooks", "remove")
    assert r.returncode == 0, r.stderr
    assert f"removed {len(SCOPES)}" in r.stdout
    assert hooks() == []
    r = run(sb, tmp_path, "webhooks", "status")
    assert r.returncode == 0 and "no rulesync hooks" in r.stdout
