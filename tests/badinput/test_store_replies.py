"""Bad store replies, one corpus entry each (tests/badinput/store/*.json), through `rulesync apply`.

Each entry describes how a misbehaving proxy in front of the real sandbox bends the store's
answers (or which environment a user got wrong). For every entry the real command exits 1 with
an error line naming the endpoint (or the setting), never 3 and never a traceback, within a
generous bound, and the state file's tables are exactly what they were before.

Entry keys: `about`; `rules`: proxy rules (`endpoint`, `status`, `headers`, `json`, `text`,
`set`: [{"path": [...], "value": ...}] applied to the real reply, `forward`, `times`);
`expect`: substrings of the error line; optional `env` and `config` (rulesync.yaml text).
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
    """A store synced once, then changed: the next `apply` has orders to read and import."""
    with World(tmp_path_factory.mktemp("badstore")) as w:
        first = [w.create(order_body(s)) for s in (7, 11, 9)]
        w.tick()
        w.apply()
        w.sb.store.set_status(first[0], 11)
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


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.stem for e in ENTRIES])
def test_a_bad_store_reply_stops_apply_naming_the_endpoint_and_changes_nothing(
        entry: Path, store: tuple[World, Path], tmp_path: Path) -> None:
    spec = json.loads(entry.read_text(encoding="utf-8"))
    w, template = store
    state = copy_state(template, tmp_path / "run")
    before = tables(state)
    args = ["apply", "--state", str(state)]
    if "config" in spec:
        (tmp_path / "rulesync.yaml").write_text(spec["config"], encoding="utf-8")
        args = ["--config", str(tmp_path / "rulesync.yaml"), *args]
    with StoreProxy(w.sb.base_url) as proxy:
        install(proxy, spec["rules"])
        env = w.env(BIGCOMMERCE_API_URL=proxy.base_url, **spec.get("env", {}))
        try:
            r = subprocess.run([RULESYNC, *args], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{entry.name}: apply still running after {BOUND} s")
        fired = [rule.fired for rule in proxy.rules]
    assert all(fired), f"{entry.name}: a proxy rule never fired, the entry tests nothing"
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    for needle in spec["expect"]:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    assert TOKEN not in r.stdout + r.stderr
    assert tables(state) == before


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
