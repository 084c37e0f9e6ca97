"""Connectors are found through entry points: a package installed beside rulesync is used by
name from rulesync.yaml, the same way as the built-ins.

The example package (tests/plugins/rulesync-journal-oms, its own pyproject.toml) is installed
with pip, as a user would install a connector (into a folder on the path, see the fixture);
it passes the conformance kit (engine/conformance) as any OMS connector should.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.conformance import Conformance
from engine.conformance.rows import RowsRun
from tests.support.acceptance_world import World, order_body

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "rulesync-journal-oms"
PIP_BOUND = 600  # seconds: building a wheel on a busy machine


def pip(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                       timeout=PIP_BOUND)
    assert r.returncode == 0, f"pip {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"


# Installed into a folder of this process's own (pip --target), put on sys.path for the in-process
# reads and on PYTHONPATH for the `rulesync` subprocesses: entry points are found on either the
# same way as in site-packages. Installing into the shared virtual environment instead let one
# test process's uninstall race another pip in it (CI once failed at teardown on a vanished
# dist-info). Session-scoped: under pytest-xdist a process may run this module's tests between
# others', and a module-scoped fixture would be made again in between.
@pytest.fixture(scope="session")
def journal_connector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    work = tmp_path_factory.mktemp("plugin")
    copy, site = work / PACKAGE.name, work / "site"  # builds leave files beside the copy
    shutil.copytree(PACKAGE, copy)
    pip("install", "-q", "--no-deps", "--target", str(site), str(copy))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), saved) if p)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
        for name in [m for m in sys.modules if m.split(".")[0] == "rulesync_journal_oms"]:
            del sys.modules[name]
        importlib.invalidate_caches()


def write_config(w: World, text: str) -> Path:
    path = w.dir / "rulesync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.usefixtures("journal_connector")
class TestJournalConformance(Conformance):
    oms = {"connector": "journal", "journal": "journal.jsonl"}

    def test_the_kit_went_through_the_connector(self, seed_rows: RowsRun) -> None:
        journal = (seed_rows.world.dir / "journal.jsonl").read_text(encoding="utf-8")
        actions = {json.loads(line)["action"] for line in journal.splitlines()}
        assert actions == {"import_order", "mark_paid", "mark_packed", "record_shipment",
                           "void_order", "close_order"}, actions


def test_an_installed_connector_is_listed_with_its_package(journal_connector: None,
                                                           world: World) -> None:
    r = world.run("connectors", "--json")
    assert r.returncode == 0, r.stderr
    found = {(c["kind"], c["name"]): c for c in json.loads(r.stdout)}
    assert found[("oms", "journal")] == {
        "kind": "oms", "name": "journal", "default": False,
        "package": "rulesync-journal-oms 0.1.0", "object": "rulesync_journal_oms:PLUGIN",
        "summary": "the ledger, with a journal of every action (an example)"}
    assert found[("oms", "ledger")]["default"] and found[("store", "bigcommerce")]["default"]
    text = world.run("connectors").stdout
    assert "journal" in text and "rulesync-journal-oms 0.1.0" in text


def test_a_sync_goes_through_the_configured_connector(journal_connector: None,
                                                      world: World) -> None:
    paid, unpaid = world.create(order_body(11)), world.create(order_body(7))
    world.tick()
    config = write_config(world, "version: 1\noms: {connector: journal, journal: journal.jsonl}\n")
    plan = world.plan(config=config)
    assert not (world.dir / "journal.jsonl").exists()  # plan journals on its own copy
    summary = world.apply(config=config)
    assert summary["imported"] == 2 and summary["errors"] == 0, summary
    journal = [json.loads(line) for line in
               (world.dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()]
    done = {(j["order_id"], j["action"]) for j in journal}
    assert {(paid, "import_order"), (paid, "mark_paid"), (unpaid, "import_order")} <= done
    assert len(journal) == len({j["key"] for j in journal})  # each action once
    assert [(a["order_id"], a["action"]) for a in plan["actions"]] == [
        (a["order_id"], a["action"]) for a in summary["actions"]]
    order = world.ledger_get(paid)
    assert order is not None and order["state"]["paid"] is True
    world.tick()
    assert world.plan(config=config)["actions"] == []


@pytest.mark.parametrize("text, kind, name", [
    ("version: 1\noms: {connector: nope}\n", "oms connector", "nope"),
    ("version: 1\nstore: {connector: shopify}\n", "store connector", "shopify"),
], ids=["oms", "store"])
def test_an_unknown_connector_is_an_error_listing_the_known_ones(world: World, text: str,
                                                                 kind: str, name: str) -> None:
    world.create(order_body(11))
    world.tick()
    config = write_config(world, text)
    r = world.run("apply", "--state", str(world.state), config=config)
    assert r.returncode == 1, r.stderr
    line, = r.stderr.splitlines()
    assert line.startswith(f"error: {config}: ") and f"unknown {kind} '{name}' (installed: " \
        in line and "see `rulesync connectors`" in line, line
    assert ("ledger" if kind.startswith("oms") else "bigcommerce") in line
    assert not world.state_exists() and world.writes() == {}


@pytest.mark.parametrize("verb", ["apply", "plan"])
def test_with_several_stores_an_unknown_connector_is_one_error_before_any_store(
        world: World, verb: str) -> None:
    world.create(order_body(11))
    world.tick()
    config = write_config(world, "version: 1\noms: {connector: nope}\nstores:\n"
                                 "  - {name: eu, store_hash: abc}\n  - {name: us, store_hash: def}\n")
    r = world.run(verb, "--state", str(world.state), config=config)
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    line, = r.stderr.splitlines()
    assert "unknown oms connector 'nope' (installed: " in line and "store(s) failed" not in line
    assert not world.state_exists() and world.writes() == {}


def test_an_unknown_state_backend_is_an_error_listing_the_known_ones(world: World) -> None:
    r = world.run("apply", "--state", "mysql://db.example/rulesync")
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == (
        "error: state mysql://db.example/rulesync: unknown state backend 'mysql' (installed: "
        "postgres, postgresql, sqlite; see `rulesync connectors`)")
