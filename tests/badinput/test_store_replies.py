"""Bad store replies, one corpus entry each (tests/badinput/store/*.json), through `rulesync apply`.

Each entry describes how a misbehaving proxy in front of the real sandbox bends the store's
answers (or which environment a user got wrong). For every entry the real command exits 1, never
3 and never with a traceback, within a generous bound. A bad page, endpoint or setting stops the
run with an error line naming it, and the state file's tables are exactly what they were
before. A bad order inside a good page (`"outcome": "retried"`) stops nothing: the rest of the
page is imported, and the order waits in the retry set with its reason, its own rows as they
were.

Entry keys: `about`; `rules`: proxy rules (`endpoint`, `status`, `headers`, `json`, `text`,
`set`: [{"path": [...], "value": ...}] applied to the real reply, `forward`, `times`);
`expect`: substrings of the error line (of the order's reason when retried); optional `env` and
`config` (rulesync.yaml text); with `"outcome": "retried"`, `imported`: how many orders the run
imports all the same.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.acceptance_world import RULESYNC, TOKEN, World, order_body
from tests.support.store_proxy import StoreProxy, set_path

CORPUS = Path(__file__).parent / "store"
ENTRIES = sorted(CORPUS.glob("*.json"))
RETRIED = [e for e in ENTRIES if json.loads(e.read_text(encoding="utf-8")).get("outcome")
           == "retried"]
STOPPING = [e for e in ENTRIES if e not in RETRIED]
BOUND = 20.0  # seconds: far above a normal run, far below a hang or a 30 s stall


def tables(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the state file, in a stable order."""
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
                for n in names}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Path]]:
    """A store synced once, then changed: the next `apply` has orders to read and import, and
    the shipments of one to read (the last order listed is a new one)."""
    with World(tmp_path_factory.mktemp("badstore")) as w:
        first = [w.create(order_body(s)) for s in (7, 11, 9)]
        w.tick()
        w.apply()
        w.sb.store.set_status(first[0], 11)
        w.ship_in_store(first[2], {"MUG-1": 2, "CAP-1": 1}, "1ZCORPUS")
        w.create(order_body(10))
        w.create(order_body(7))
        w.tick()
        yield w, w.state


def copy_state(source: Path, target_dir: Path) -> Path:
    target_dir.mkdir(parents=True)
    for f in source.parent.glob(source.name + "*"):
        if not f.name.endswith(".lock"):
            shutil.copy(f, target_dir / f.name)
    return target_dir / source.name


def patcher(changes: list[dict[str, Any]]) -> Callable[[Any], Any]:
    def patch(doc: Any) -> Any:
        for change in changes:
            doc = set_path(doc, change["path"], change["value"])
        return doc
    return patch


def install(proxy: StoreProxy, rules: list[dict[str, Any]]) -> None:
    for r in rules:
        proxy.on(r["endpoint"], status=r.get("status"), headers=r.get("headers"),
                 json_body=r.get("json"), text=r.get("text"),
                 patch=patcher(r["set"]) if "set" in r else None,
                 forward=bool(r.get("forward")), times=r.get("times"))


def run_entry(entry: Path, store: tuple[World, Path], tmp_path: Path, *extra: str
              ) -> tuple[dict[str, Any], subprocess.CompletedProcess[str], Path,
                         dict[str, list[tuple[Any, ...]]]]:
    """(the entry, the finished `rulesync apply` through its proxy, the state, its tables
    before the run)."""
    spec = json.loads(entry.read_text(encoding="utf-8"))
    w, template = store
    state = copy_state(template, tmp_path / "run")
    before = tables(state)
    args = ["apply", "--state", str(state), *extra]
    if "config" in spec:
        (tmp_path / "rulesync.yaml").write_text(spec["config"], encoding="utf-8")
        args = ["--config", str(tmp_path / "rulesync.yaml"), *args]
    with StoreProxy(w.sb.base_url) as proxy:
        install(proxy, spec["rules"])
        env = w.env(**{"BIGCOMMERCE_API_URL": proxy.base_url, **spec.get("env", {})})
        try:
            r = subprocess.run([RULESYNC, *args], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{entry.name}: apply still running after {BOUND} s")
        fired = [rule.fired for rule in proxy.rules]
    assert all(fired), f"{entry.name}: a proxy rule never fired, the entry tests nothing"
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert TOKEN not in r.stdout + r.stderr
    return spec, r, state, before


@pytest.mark.parametrize("entry", STOPPING, ids=[e.stem for e in STOPPING])
def test_a_bad_store_reply_stops_apply_naming_the_endpoint_and_changes_nothing(
        entry: Path, store: tuple[World, Path], tmp_path: Path) -> None:
    spec, r, state, before = run_entry(entry, store, tmp_path)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    for needle in spec["expect"]:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    assert tables(state) == before


def named_rows(state: Path, table: str, order_id: int | None = None) -> list[dict[str, Any]]:
    """The rows of `table` (those of `order_id`), as dicts by column name."""
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    where, args = ("WHERE order_id = ?", (order_id,)) if order_id is not None else ("", ())
    try:
        rows = conn.execute(f'SELECT * FROM "{table}" {where} ORDER BY 1', args).fetchall()
        return [dict(row) for row in rows]
    finally:
        conn.close()


@pytest.mark.parametrize("entry", RETRIED, ids=[e.stem for e in RETRIED])
def test_a_bad_order_in_a_good_page_waits_for_a_retry_and_the_page_goes_on(
        entry: Path, store: tuple[World, Path], tmp_path: Path) -> None:
    spec, r, state, _ = run_entry(entry, store, tmp_path, "--json")
    assert r.stderr == ""
    summary = json.loads(r.stdout)
    assert (summary["imported"], summary["errors"]) == (spec["imported"], 1), summary
    (waiting,) = named_rows(state, "sync_retries")
    order_id = waiting["order_id"]
    assert (waiting["direction"], waiting["attempts"]) == ("inbound", 1)
    for needle in spec["expect"]:
        assert needle in waiting["reason"], f"{needle!r} not in {waiting['reason']!r}"
    assert [p for p in summary["problems"] if p.startswith(f"order {order_id}:")], summary
    # nothing of the bad order was stored: neither the sync's memory of it nor the ledger's
    for table in ("sync_store_orders", "ledger_orders", "ledger_shipments"):
        assert named_rows(state, table, order_id) == named_rows(store[1], table, order_id)


def test_the_same_run_through_a_well_behaved_proxy_succeeds_and_changes_the_state(
        store: tuple[World, Path], tmp_path: Path) -> None:
    """The control for the corpus: its state comparison can fail, and the proxy alone is
    harmless."""
    w, template = store
    state = copy_state(template, tmp_path / "run")
    before = tables(state)
    with StoreProxy(w.sb.base_url) as proxy:
        env = w.env(BIGCOMMERCE_API_URL=proxy.base_url)
        r = subprocess.run([RULESYNC, "apply", "--json", "--state", str(state)], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
        assert ("GET", "/stores/sandbox/v2/orders") in proxy.hits
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["imported"] == 2
    assert tables(state) != before
