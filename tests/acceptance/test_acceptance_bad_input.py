"""Invariant 5 and friends: bad rule files and configurations stop `apply` before any change,
a store outage in the middle of a run leaves the work for the next run (same final result), and
an unknown status id is reported, never guessed.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import statuses
from tests.support import databases
from tests.support.acceptance_world import NOTHING_DONE, RULESYNC, TOKEN, World, counts, order_body

STATE_BACKENDS = databases.BACKENDS  # these run on SQLite and on PostgreSQL

SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules" / "bigcommerce"
PUSH = "push_order_info=true"


def write_config(w: World, text: str, name: str = "rulesync.yaml") -> Path:
    path = w.dir / name
    path.write_text(text, encoding="utf-8")
    return path


def copy_rules(w: World) -> Path:
    target = w.dir / "rules"
    target.mkdir(exist_ok=True)
    for name in ("inbound.yaml", "outbound.yaml"):
        shutil.copy(SHIPPED_RULES / name, target / name)
    return target


def fingerprint(w: World) -> Any:
    """The bytes of the state/ledger file and its WAL, if any; in PostgreSQL, every row."""
    if not isinstance(w.state, Path):
        return w.tables()
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(w.dir.glob(w.state.name + "*"))}


def line_col(path: Path, needle: str) -> tuple[int, int]:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


def refused(w: World, config: Path, *sets: str) -> str:
    flags = [a for s in sets for a in ("--set", s)]
    r = w.run("apply", "--state", str(w.state), *flags, config=config)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert TOKEN not in r.stdout + r.stderr
    return r.stderr


# -- invalid rule files and configurations ----------------------------------------------------

def test_invalid_rule_file_stops_apply_before_any_change(world: World) -> None:
    world.create(order_body(11))
    world.tick()
    rules = copy_rules(world)
    inbound = rules / "inbound.yaml"
    inbound.write_text(inbound.read_text().replace(
        "actions: [import_order, mark_paid]\n", "actions: [import_order, mark_payed]\n", 1))
    line, col = line_col(inbound, "mark_payed")
    config = write_config(world, "version: 1\nrules: [rules]\n")
    err = refused(world, config)
    assert re.search(rf"inbound\.yaml:{line}:{col}\b", err), err
    assert "mark_payed" in err and "$.rules[" in err  # the path inside the document
    assert not world.state_exists()
    assert world.writes() == {}


def test_rule_file_with_yaml_syntax_error_stops_apply(world: World) -> None:
    world.create(order_body(7))
    world.tick()
    rules = copy_rules(world)
    outbound = rules / "outbound.yaml"
    text = outbound.read_text().replace("set_store_status: {status_id: 11}",
                                        "set_store_status: {status_id: 11", 1)
    outbound.write_text(text)
    config = write_config(world, "version: 1\nrules: [rules]\n")
    err = refused(world, config)
    assert re.search(r"outbound\.yaml:\d+:\d+", err), err
    assert not world.state_exists()
    assert world.writes() == {}


@pytest.mark.parametrize("text,where", [
    ("version: 1\nrules: [rules\nsettings: {auto_close: true}\n", r"rulesync\.yaml:\d+:\d+"),
    ("version: 1\nsetings:\n  auto_close: true\n", r"rulesync\.yaml:2:1\b"),
], ids=["yaml-syntax", "unknown-key"])
def test_broken_config_stops_apply_and_leaves_the_ledger_unchanged(
        world: World, text: str, where: str) -> None:
    first = world.create(order_body(7))
    world.tick()
    world.apply()
    world.orders("pay", str(first))
    later = world.create(order_body(11))
    world.tick()
    before = fingerprint(world)
    world.sb.reset_counts()
    config = write_config(world, text)
    err = refused(world, config)
    assert re.search(where, err), err
    assert fingerprint(world) == before
    assert world.writes() == {}
    assert world.ledger_get(later) is None
    # fixed, the next run does all the work that was waiting (nothing was lost)
    config.write_text("version: 1\nsettings:\n  push_order_info: true\n")
    summary = world.apply(config=config)
    assert world.ledger_get(later)["state"]["paid"] is True
    assert world.store_order(first)["status_id"] == 11
    assert summary["errors"] == 0


BAD_VALUE = "version: 1\nsettings:\n  push_order_info: yes please\n"


def test_bad_setting_value_in_config_is_refused_before_any_change(world: World) -> None:
    first = world.create(order_body(7))
    world.tick()
    world.apply()
    world.orders("pay", str(first))
    world.tick()
    before = fingerprint(world)
    world.sb.reset_counts()
    err = refused(world, write_config(world, BAD_VALUE))
    assert "push_order_info" in err
    assert fingerprint(world) == before
    assert world.writes() == {}


def test_bad_setting_value_in_config_names_file_line_col(world: World) -> None:
    err = refused(world, write_config(world, BAD_VALUE))
    assert re.search(r"rulesync\.yaml:3:\d+", err), err


def test_unknown_setting_is_refused_before_any_change(world: World) -> None:
    world.create(order_body(7))
    world.tick()
    r = world.run("apply", "--state", str(world.state), "--set", "auto_clse=true")
    assert r.returncode == 1, r.stderr
    assert "auto_clse" in r.stderr
    assert not world.state_exists()
    assert world.writes() == {}


def test_an_unknown_store_is_refused_by_plan_and_apply_with_no_stores_configured(
        world: World) -> None:
    """Not ignored: `apply --store eu` would otherwise sync the one store there is."""
    world.create(order_body(7))
    world.tick()
    for command in ("plan", "apply"):
        r = world.run(command, "--state", str(world.state), "--store", "eu")
        assert r.returncode == 1, r.stderr
        assert "--store eu:" in r.stderr and "names no stores" in r.stderr, r.stderr
    assert not world.state_exists()
    assert world.writes() == {}


def test_wrong_token_is_a_clear_error_that_never_shows_the_token(world: World) -> None:
    world.create(order_body(7))
    world.tick()
    secret = "wrong-secret-5f3a9c"
    r = world.run("apply", "--state", str(world.state), BIGCOMMERCE_ACCESS_TOKEN=secret)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "401" in r.stderr or "nauthori" in r.stderr, r.stderr
    assert secret not in r.stdout + r.stderr
    assert world.ledger_dump() == {}
    assert world.writes() == {}


# -- a store outage in the middle of a run ----------------------------------------------------

def outage_when(w: World, trigger: Callable[[str, str], bool], seed: int = 7
                ) -> Callable[[], None]:
    """From the first request that `trigger` picks, every API request fails (500, 503, 429 or
    a dropped connection; writes are half the time applied before the answer is lost)."""
    app = w.sb.app
    original = app.handle
    fired: list[bool] = []

    def handle(method: str, path: str, *rest: Any) -> Any:
        if not fired and trigger(method, path):
            fired.append(True)
            w.sb.faults.configure(1.0, 0, seed)
        return original(method, path, *rest)

    app.handle = handle  # type: ignore[method-assign]

    def end() -> None:
        app.handle = original  # type: ignore[method-assign]
        w.sb.faults.configure(0.0, 0, 0)
    return end


def fast_retry_config(w: World) -> Path:
    return write_config(w, "version: 1\nstore:\n  retry_floor_seconds: 0.05\n", "fast.yaml")


def comparable(dump: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {oid: {k: v for k, v in o.items() if k != "imported_at"} for oid, o in dump.items()}


def test_store_outage_after_the_first_page_is_finished_by_the_next_run(
        make_world: Callable[..., World]) -> None:
    ref, w = make_world("reference", seed_orders=300), make_world("outage", seed_orders=300)
    for x in (ref, w):
        x.tick()
    ref.apply(config=fast_retry_config(ref))
    pages: list[str] = []

    def second_page(method: str, path: str) -> bool:
        if method == "GET" and path.endswith("/v2/orders"):
            pages.append(path)
        return len(pages) == 2

    end = outage_when(w, second_page)
    config = fast_retry_config(w)
    r = w.run("apply", "--json", "--state", str(w.state), config=config)
    end()
    assert len(pages) >= 2, "the run never asked for a second page"
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    partial = w.ledger_dump()
    assert len(partial) < len(ref.ledger_dump())
    summary = w.apply(config=config)
    assert summary["errors"] == 0
    assert comparable(w.ledger_dump()) == comparable(ref.ledger_dump())
    assert w.plan(config=config)["actions"] == []
    assert w.writes() == {}


@pytest.mark.backends("sqlite")  # a file to delete
def test_a_state_file_deleted_mid_run_stops_apply_naming_it(
        make_world: Callable[..., World]) -> None:
    """`rm state.sqlite*` while the first page's orders are imported: not "N imported" and
    exit 0 with nothing left, but one error naming the file, and no new file in its place."""
    w = make_world("deleted", seed_orders=300)
    w.tick()
    assert isinstance(w.state, Path)
    app, pages = w.sb.app, []
    original = app.handle

    def handle(method: str, path: str, *rest: Any) -> Any:
        if method == "GET" and path.endswith("/v2/orders"):
            pages.append(path)
            if len(pages) == 2:  # the first page's orders are in: delete it all
                for f in w.dir.glob(w.state.name + "*"):
                    f.unlink()
        return original(method, path, *rest)

    app.handle = handle  # type: ignore[method-assign]
    try:
        r = w.run("apply", "--json", "--state", str(w.state))
    finally:
        app.handle = original  # type: ignore[method-assign]
    assert len(pages) >= 2, "the run never asked for a second page"
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: cannot use {w.state}: the file was deleted or replaced while "
                      "rulesync was using it"], r.stderr
    assert not list(w.dir.glob(w.state.name + "*")), "a new state file was made in its place"


# A full disk as the process sees it: no file it writes may grow past 256 KiB (ulimit counts
# 512-byte blocks in sh), and a write that would is refused (EFBIG) instead of killing it.
FULL_DISK = ["sh", "-c", 'trap "" XFSZ; ulimit -f 512; exec "$@"', "sh"]


@pytest.mark.backends("sqlite")  # the disk of a state file
def test_a_full_disk_stops_apply_with_one_line_and_the_next_run_finishes(
        make_world: Callable[..., World]) -> None:
    ref, w = make_world("reference", seed_orders=300), make_world("full", seed_orders=300)
    for x in (ref, w):
        x.tick()
    assert ref.apply()["errors"] == 0
    r = subprocess.run([*FULL_DISK, RULESYNC, "apply", "--state", str(w.state)], cwd=w.dir,
                       env=w.env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    last = r.stderr.splitlines()[-1]
    assert last.startswith(f"error: cannot use {w.state}: ") and "disk" in last, r.stderr
    w.tick()
    assert w.apply()["errors"] == 0  # room again: the next run finishes the work
    assert comparable(w.ledger_dump()) == comparable(ref.ledger_dump())
    assert w.plan()["actions"] == []


def test_store_outage_during_the_pushes_is_finished_by_the_next_run(
        make_world: Callable[..., World]) -> None:
    worlds = [make_world("reference"), make_world("outage")]
    ids: list[list[int]] = []
    for x in worlds:
        ids.append([x.create(order_body(s)) for s in (9, 7, 9, 7)])
        x.tick()
        x.apply(PUSH, config=fast_retry_config(x))
        ship, pay, part, void = ids[-1]
        x.orders("ship", str(ship), "--tracking", "1ZDOWN-A", "--carrier", "ups")
        x.orders("pay", str(pay))
        x.orders("ship", str(part), "--tracking", "1ZDOWN-C", "--carrier", "ups", "--item",
                 "MUG-1=1")
        x.orders("void", str(void))
        x.tick()
    ref, w = worlds
    ref.apply(PUSH, config=fast_retry_config(ref))
    # the first shipment POST is applied by the store, then the connection drops (fault seed 0);
    # from then on the store answers nothing
    end = outage_when(w, lambda method, path: method == "POST", seed=0)
    r = w.run("apply", "--json", "--state", str(w.state), "--set", PUSH,
              config=fast_retry_config(w))
    end()
    assert len(w.store_shipments(ids[1][0])) == 1, "the POST was not applied before the drop"
    assert TOKEN not in r.stdout + r.stderr
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    summary = w.apply(PUSH, config=fast_retry_config(w))
    assert summary["errors"] == 0, summary["problems"]
    for x in worlds:
        x.tick()
        assert counts(x.apply(PUSH, config=fast_retry_config(x))) == NOTHING_DONE
        assert x.plan(PUSH)["actions"] == []
    assert w.store_dump() == ref.store_dump()
    assert comparable_ledger(w) == comparable_ledger(ref)
    assert len(w.store_shipments(ids[1][0])) == 1
    assert len(w.store_shipments(ids[1][2])) == 1
    assert [w.store_order(i)["status_id"] for i in ids[1]] == [2, 11, 3, 5]


def comparable_ledger(w: World) -> dict[int, Any]:
    return {oid: (o["state"], sorted((s["tracking_number"], s["carrier"], repr(s["items"]))
                                     for s in o["shipments"]))
            for oid, o in w.ledger_dump().items()}


# -- an unknown status id -------------------------------------------------------------------------

@pytest.fixture
def status_99(monkeypatch: pytest.MonkeyPatch) -> int:
    """Let the sandbox store hold status id 99, as if BigCommerce added a status."""
    monkeypatch.setitem(statuses.BY_ID, 99, statuses.Status(99, "Mystery", 99, "not in 0-14"))
    return 99


def test_unknown_status_is_reported_not_guessed(world: World, status_99: int) -> None:
    known = world.create(order_body(7))
    world.tick()
    world.apply()
    new = world.create(order_body(7))
    for oid in (known, new):
        with world.sb.store._lock:  # the API refuses 99, so set it inside the store
            record = world.sb.store._state["orders"][oid]
            record["status_id"] = status_99
            record["date_modified"] = world.sb.store.now()
    world.tick()
    before = world.ledger_get(known)
    r = world.run("apply", "--json", "--state", str(world.state))
    assert r.returncode == 1, r.stderr  # an order that cannot be synced: 1, never 3
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    summary = json.loads(r.stdout)
    assert summary["errors"] == 2, summary
    for oid in (known, new):
        assert any(str(oid) in p and "99" in p for p in summary["problems"]), summary["problems"]
    assert world.ledger_get(new) is None
    assert world.ledger_get(known) == before
    assert world.writes() == {}
    # once the store gives a status the rules know, the order is synced normally
    world.sb.store.set_status(new, 11)
    world.tick()
    world.apply()
    assert world.ledger_get(new)["state"]["paid"] is True


def one_fault_on(w: World, nth_post: int, seed: int) -> None:
    """Fault exactly one request: the nth shipment POST (seed 1: dropped before it is applied)."""
    app = w.sb.app
    original = app.handle
    posts: list[str] = []

    def handle(method: str, path: str, *rest: Any) -> Any:
        if method == "POST" and path.endswith("/shipments"):
            posts.append(path)
            if len(posts) == nth_post:
                w.sb.faults.configure(1.0, 0, seed)
                try:
                    return original(method, path, *rest)
                finally:
                    w.sb.faults.configure(0.0, 0, 0)
        return original(method, path, *rest)

    app.handle = handle  # type: ignore[method-assign]


def test_dropped_post_of_a_second_identical_shipment_is_not_lost(world: World) -> None:
    oid = world.create(order_body(9, lines=(("MUG-1", "Mug", 2, "12.00"),)))
    world.tick()
    config = fast_retry_config(world)
    world.apply(PUSH, config=config)
    for _ in range(2):
        world.orders("ship", str(oid), "--tracking", "1ZSAME", "--carrier", "ups", "--item",
                     "MUG-1=1")
    world.tick()
    one_fault_on(world, 2, seed=1)  # seed 1: the connection drops BEFORE the POST is applied
    first = world.apply(PUSH, config=config, expect_rc=None)
    again = world.apply(PUSH, config=config, expect_rc=None)
    assert (first.get("errors"), again.get("errors")) == (0, 0), (
        first.get("problems"), again.get("problems"))
    world.tick()
    world.apply(PUSH, config=config)
    assert len(world.store_shipments(oid)) == 2
    assert world.store_order(oid)["items_shipped"] == 2
