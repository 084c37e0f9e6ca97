"""`plan` predicts `apply` and writes nothing.

1. On a quiet store, the actions `plan --json` lists are the actions the next `apply --json`
   performs, outcome by outcome: pushes, no-ops, a conflict in each direction (with its reason),
   and an order the merchant changed in the second the change feed has not closed yet.
2. `plan` changes nothing: not the state file (byte for byte, every table), not its folder, not
   the store; on a missing state file it creates neither the file nor its folder.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.secrets import redact_urls
from tests.support import databases
from tests.support.acceptance_world import RULESYNC, World, order_body

STATE_BACKENDS = databases.BACKENDS  # the tests taking `backend` run on SQLite and PostgreSQL

PUSH = "push_order_info=true"
CRASH_ENV = "RULESYNC_TEST_CRASH_AT"
FIELDS = ("direction", "order_id", "event", "event_id", "rule", "action", "params", "key",
          "outcome")


def outcomes(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each action with what became of it; the message where it says why (not the new store
    shipment's id, which only apply knows)."""
    return [{**{k: a[k] for k in FIELDS},
             "message": a["message"] if a["outcome"] in ("conflict", "failed") else None}
            for a in summary["actions"]]


@pytest.fixture(scope="module")
def predicted(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Any:
    with World(tmp_path_factory.mktemp("plan"), backend=backend) as w:
        ids = {name: w.create(order_body(status)) for name, status in (
            ("pay", 7), ("pack", 11), ("completed", 11), ("shipped", 11), ("same", 7),
            ("stale", 7), ("cancelled", 9), ("ship_pack", 11))}
        w.tick()
        w.apply(PUSH)  # imports them all
        w.orders("ship", str(ids["cancelled"]), "--tracking", "1ZCANCEL", "--carrier", "ups")
        w.tick()
        w.apply(PUSH)  # pushes that shipment
        # The ledger user's changes ...
        w.orders("pay", str(ids["pay"]))
        w.orders("pack", str(ids["pack"]))
        w.orders("ship", str(ids["completed"]), "--tracking", "1ZDONE", "--carrier", "ups")
        w.orders("pack", str(ids["shipped"]))
        w.orders("pay", str(ids["same"]))
        w.orders("pay", str(ids["stale"]))
        w.orders("ship", str(ids["ship_pack"]), "--tracking", "1ZBOTH", "--carrier", "ups")
        w.orders("pack", str(ids["ship_pack"]))  # after the shipment: the store is Shipped
        # ... and the merchant's, each making one of them a conflict or a no-op.
        w.sb.store.set_status(ids["completed"], 10)  # ledger shipment: conflict, Completed
        w.ship_in_store(ids["shipped"], {"MUG-1": 2, "CAP-1": 1}, "1ZSTORE")  # pack: downgrade
        w.sb.store.set_status(ids["same"], 11)  # paid both sides: no change either way
        w.sb.store.set_status(ids["cancelled"], 5)  # the ledger refuses to void a shipped order
        ids["new"] = w.create(order_body(11))
        w.tick()
        # In the current second: the change feed leaves it for the next run, the push finds it.
        w.sb.store.set_status(ids["stale"], 9)
        w.sb.reset_counts()
        plan = w.plan(PUSH)
        plan_writes = w.writes()
        apply = w.apply(PUSH, expect_rc=0)
        w.tick()
        after = w.plan(PUSH)
        yield {"ids": ids, "plan": plan, "apply": apply, "plan_writes": plan_writes,
               "after": after}


def test_plan_lists_the_actions_apply_performs_outcome_by_outcome(predicted: Any) -> None:
    plan, apply = outcomes(predicted["plan"]), outcomes(predicted["apply"])
    assert len(plan) == len(apply) >= 10
    for n, (planned, done) in enumerate(zip(plan, apply)):
        assert planned == done, f"action {n}: plan {planned} != apply {done}"
    keys = ("imported", "updated", "pushed", "skipped", "conflicts", "errors", "problems")
    assert {k: predicted["plan"][k] for k in keys} == {k: predicted["apply"][k] for k in keys}


def test_the_conflicts_are_shown_with_their_reasons(predicted: Any) -> None:
    ids = predicted["ids"]
    conflicts = {(a["order_id"], a["action"]): a["message"]
                 for a in predicted["plan"]["actions"] if a["outcome"] == "conflict"}
    assert set(conflicts) == {(ids["completed"], "create_store_shipment"),
                              (ids["shipped"], "set_store_status"),
                              (ids["stale"], "set_store_status"),
                              (ids["cancelled"], "void_order"),
                              (ids["ship_pack"], "set_store_status")}
    assert "10 Completed" in conflicts[(ids["completed"], "create_store_shipment")]
    assert "2 Shipped" in conflicts[(ids["shipped"], "set_store_status")]
    assert "9 Awaiting Shipment" in conflicts[(ids["stale"], "set_store_status")]
    assert "shipped" in conflicts[(ids["cancelled"], "void_order")]
    # the shipment planned just before moved the store order to Shipped, as it will in apply
    assert "2 Shipped" in conflicts[(ids["ship_pack"], "set_store_status")]
    assert predicted["plan"]["conflicts"] == 5


def test_plan_reads_the_live_store_status_like_apply(predicted: Any) -> None:
    """The stale order's change is not in the change feed yet: only reading the live status
    before the push shows it, in plan as in apply (synced in, then the push is a conflict)."""
    stale = predicted["ids"]["stale"]
    for summary in (predicted["plan"], predicted["apply"]):
        mine = [(a["direction"], a["action"], a["outcome"])
                for a in summary["actions"] if a["order_id"] == stale]
        assert mine == [("inbound", "import_order", "noop"), ("inbound", "mark_paid", "noop"),
                        ("inbound", "mark_packed", "done"),
                        ("outbound", "set_store_status", "conflict")]


def test_plan_changes_nothing_in_the_store_and_then_nothing_is_left(predicted: Any) -> None:
    assert predicted["plan_writes"] == {}
    ids = predicted["ids"]
    pushed = {a["order_id"] for a in predicted["apply"]["actions"]
              if a["direction"] == "outbound" and a["outcome"] == "done"}
    assert pushed == {ids["pay"], ids["pack"], ids["ship_pack"]}
    assert predicted["after"]["actions"] == [] and predicted["after"]["problems"] == []


def test_plan_text_shows_each_outcome(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        oid = w.create(order_body(11))
        w.tick()
        w.apply(PUSH)
        w.orders("ship", str(oid), "--tracking", "1ZTEXT", "--carrier", "ups")
        w.sb.store.set_status(oid, 10)
        w.tick()
        r = w.run("plan", "--state", str(w.state), "--set", PUSH)
    assert r.returncode == 0, r.stderr
    assert "conflict: not sent: the store order is 10 Completed" in r.stdout
    assert "1 action(s) planned: 1 conflict" in r.stdout


# -- plan writes nothing -------------------------------------------------------------------


def _raw(w: World) -> bytes | None:
    """The state file's bytes (None for a state in PostgreSQL, compared by its rows)."""
    return w.state.read_bytes() if isinstance(w.state, Path) else None


def folder(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*"))}


def test_plan_writes_nothing_with_work_pending_everywhere(tmp_path: Path, backend: str) -> None:
    with World(tmp_path / "w", seed_orders=6, backend=backend) as w:
        first, second = w.create(order_body(7)), w.create(order_body(7))
        w.tick()
        w.apply(PUSH)
        w.orders("pay", str(first))
        w.tick()
        killed = w.run("apply", "--state", str(w.state), "--set", PUSH, **{CRASH_ENV: "1"})
        assert killed.returncode < 0  # SIGKILLed with the push decided, not done
        w.orders("pay", str(second))  # outbound, not read yet
        new = w.create(order_body(11))  # inbound, not read yet
        w.tick()
        before = w.tables()  # (reading folds the killed run's log into the file)
        assert [r for r in before["sync_outbox"] if "pending" in r], "no pending outbox row"
        files, raw = folder(w.dir), _raw(w)
        plans = [w.plan(PUSH), w.plan(), w.plan(PUSH, "auto_close=true")]
        r = w.run("plan", "--state", str(w.state), "--set", PUSH, "--push-current")
        assert r.returncode == 0, r.stderr
        assert folder(w.dir) == files
        assert _raw(w) == raw
        assert w.tables() == before
        assert w.writes() == {}
        planned = plans[0]["actions"]
        assert {(a["direction"], a["order_id"]) for a in planned} >= {
            ("outbound", first), ("outbound", second), ("inbound", new)}
        assert [a["order_id"] for a in planned if "pending_since" in a] == [first]
        # and the changes plan saw are still there for apply
        summary = w.apply(PUSH)
        assert outcomes(summary) == outcomes(plans[0])
        assert w.ledger_get(new) is not None
        assert w.store_order(second)["status_id"] == 11


def test_plan_on_a_missing_state_file_creates_nothing(tmp_path: Path) -> None:
    with World(tmp_path / "w", seed_orders=3) as w:
        w.tick()
        missing = tmp_path / "not" / "there" / "state.sqlite"
        r = w.run("plan", "--json", "--state", str(missing))
        assert r.returncode == 0, r.stderr
        assert '"import_order"' in r.stdout
        assert not (tmp_path / "not").exists()
        r = w.run("plan")  # the default state file, .rulesync/state.sqlite
        assert r.returncode == 0, r.stderr
        assert not (w.dir / ".rulesync").exists()
        assert w.writes() == {}


def test_plan_errors_name_the_users_state_not_its_copy(tmp_path: Path, backend: str) -> None:
    with World(tmp_path / "w", seed_orders=1, backend=backend) as w:
        w.tick()
        w.apply()
        w.execute("UPDATE sync_meta SET value = '99' WHERE key = 'schema_version'")
        raw, before = _raw(w), w.tables()
        r = w.run("plan", "--state", str(w.state))
        assert r.returncode == 1
        noun = "file" if backend == "sqlite" else "database"
        shown = redact_urls(str(w.state))  # a URL's user is never shown
        assert f"the state {noun} {shown} was written by a newer rulesync" in r.stderr
        assert "rulesync-plan-" not in r.stderr
        assert _raw(w) == raw and w.tables() == before


@pytest.mark.parametrize("existing, seeded, limit", [
    (True, 8, 64 * 1024),  # a state file over the limit: the copy itself cannot be made
    (False, 0, 40 * 1024),  # none: the empty copy's tables cannot be made
    (False, 40, 160 * 1024),  # none: the copy outgrows the limit while the run writes to it
], ids=["copying", "opening", "running"])
def test_no_room_for_plans_copy_is_one_clear_error_naming_the_temporary_folder(
        tmp_path: Path, existing: bool, seeded: int, limit: int) -> None:
    """`plan` works on a copy in the temporary folder. A copy that does not fit there (a file size
    limit stands in for a full disk or a quota: SQLite meets EFBIG as it would ENOSPC or EDQUOT)
    is the user's to fix, not a bug; it names that folder, not the state file."""
    with World(tmp_path / "w", seed_orders=seeded) as w:
        w.sb.store.create_order(order_body(7))
        w.tick()
        if existing:
            w.apply()
        raw = w.state.read_bytes() if existing else None
        temp = tmp_path / "tmp"
        temp.mkdir()

        def limited() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        r = subprocess.run([RULESYNC, "plan", "--state", str(w.state)], cwd=w.dir,
                           env=w.env(TMPDIR=str(temp)), capture_output=True, text=True,
                           timeout=120, preexec_fn=limited)
        assert r.returncode == 1, r.stderr
        assert r.stderr.splitlines() == [
            f"error: plan works on a copy of the state file in {temp} and could not write it "
            "there (disk I/O error): set TMPDIR to a folder with room for it"], r.stderr
        assert list(temp.iterdir()) == []  # the partial copy is gone
        assert (w.state.read_bytes() if existing else w.state.exists()) == (raw or False)
        assert w.writes() == {}


def unwritable(path: Path) -> list[str]:
    """Make the folder `path` read-only; returns the prefix under which a command meets that as a
    user does: nothing for a user, and for root (whom permissions do not stop) the same root
    without the capabilities that override them."""
    path.chmod(0o555)
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        path.chmod(0o755)
        pytest.skip("running as root, and no setpriv to drop the permission override")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_plan_reads_a_state_file_in_a_folder_it_cannot_write(tmp_path: Path) -> None:
    """Someone allowed to read the state but not to write its folder (another user than the one
    `serve` runs as, a read-only volume) can still plan: SQLite cannot open a WAL file there (it
    needs to make the `-shm` beside it), so plan copies the file itself."""
    with World(tmp_path / "w", seed_orders=4) as w:
        w.tick()
        w.apply()
        new = w.create(order_body(11))
        w.tick()
        files, raw = folder(w.dir), w.state.read_bytes()
        prefix = unwritable(w.dir)
        try:
            r = subprocess.run([*prefix, RULESYNC, "plan", "--json", "--state", str(w.state)],
                               cwd=tmp_path, env=w.env(), capture_output=True, text=True,
                               timeout=120)
        finally:
            w.dir.chmod(0o755)
        assert r.returncode == 0, r.stderr
        planned = json.loads(r.stdout)
        assert {(a["order_id"], a["action"]) for a in planned["actions"]} == {
            (new, "import_order"), (new, "mark_paid")}
        assert folder(w.dir) == files and w.state.read_bytes() == raw
        assert outcomes(w.apply()) == outcomes(planned)
