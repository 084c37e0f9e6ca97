"""Several stores in one configuration (`stores:` in rulesync.yaml), against three real sandbox
stores sharing one state: every store synced on its own key (the same order ids in each), one
store's wrong token, outage or broken rules failing only that store, a store's own rules,
`--store` choosing one, and one store's sync lock not holding up another's. Runs on SQLite and
on PostgreSQL."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.ledger import Ledger
from engine.storage.state import SqlState
from tests.support import databases
from tests.support.acceptance_world import RULESYNC, order_body
from tests.support.web_page import web_page

STATE_BACKENDS = databases.BACKENDS  # these run on SQLite and on PostgreSQL
NAMES = ("eu", "us", "au")
SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules" / "bigcommerce"
WAITING = "waiting for another rulesync sync"


class Stores:
    """Three sandbox stores, one rulesync.yaml naming them, one state."""

    def __init__(self, folder: Path, state: str) -> None:
        self.folder, self.state = folder, state
        self.sandboxes = {name: Sandbox(port=0, store_hash=f"hash-{name}", token=f"token-{name}")
                          for name in NAMES}
        self.tokens = {f"{name.upper()}_TOKEN": f"token-{name}" for name in NAMES}

    def write_config(self, **own: str) -> None:
        """rulesync.yaml naming the three stores; `own` adds lines to a store's entry."""
        own = {"au": "settings: {auto_close: true}", **own}  # au's own, over the defaults
        entries = "".join(
            f"  - name: {name}\n    store_hash: hash-{name}\n    api_url: {sb.base_url}\n"
            f"    token_env: {name.upper()}_TOKEN\n" + (f"    {own[name]}\n" if name in own else "")
            for name, sb in self.sandboxes.items())
        (self.folder / "rulesync.yaml").write_text(
            f"version: 1\nsettings: {{push_order_info: true}}\nstores:\n{entries}")

    def run(self, *args: str, state_flag: bool = True,
            **env: str) -> subprocess.CompletedProcess[str]:
        state = ("--state", self.state) if state_flag else ()
        return subprocess.run([RULESYNC, *args, *state], cwd=self.folder,
                              env=self.env(**env), capture_output=True, text=True, timeout=300)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([RULESYNC, *args, "--state", self.state], cwd=self.folder,
                                env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def env(self, **extra: str) -> dict[str, str]:
        import os

        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
        return {**env, **self.tokens, "NO_PROXY": "127.0.0.1,localhost", **extra}

    def ledger(self, store: str) -> dict[int, dict[str, Any]]:
        with Ledger(self.state, store) as ledger:
            return {o.order_id: o.state() for o in ledger.list_orders(limit=1000)}


@pytest.fixture
def stores(tmp_path: Path, backend: str) -> Iterator[Stores]:
    with ExitStack() as stack:
        state = stack.enter_context(databases.location(backend, tmp_path))
        made = Stores(tmp_path, state)
        for sb in made.sandboxes.values():
            sb.start()
            stack.callback(sb.stop)
        made.write_config()
        yield made


def _fill(stores: Stores) -> dict[str, list[int]]:
    """The same three orders in every store (ids alike), in different statuses per store."""
    statuses = {"eu": (11, 7, 10), "us": (9, 11, 5), "au": (7, 7, 10)}
    return {name: [int(sb.store.create_order(order_body(s))["id"]) for s in statuses[name]]
            for name, sb in stores.sandboxes.items()}


def test_apply_syncs_every_store_on_its_own_key(stores: Stores) -> None:
    ids = _fill(stores)
    assert ids["eu"] == ids["us"] == ids["au"]  # the same order ids in each store
    r = stores.run("apply", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["failed"] == []
    assert {name: s["imported"] for name, s in summary["stores"].items()} == {
        "eu": 3, "us": 2, "au": 3}  # 5 Cancelled, never imported, is not imported
    eu, us, au = (stores.ledger(name) for name in NAMES)
    first, third = ids["eu"][0], ids["eu"][2]
    assert (eu[first]["paid"], eu[first]["packed"]) == (True, False)  # 11 Awaiting Fulfillment
    assert (us[first]["paid"], us[first]["packed"]) == (True, True)  # 9 Awaiting Shipment
    assert (au[first]["paid"], eu[third]["closed"], au[third]["closed"]) == (False, False, True)
    assert third not in us
    shown = stores.run("orders", "show", str(ids["us"][1]), "--store", "us", "--json")
    assert json.loads(shown.stdout)["store"] == "us"
    listed = stores.run("orders", "list")
    assert listed.stdout.splitlines()[0].split()[:2] == ["store", "order"]
    assert sum(line.split()[0] in NAMES for line in listed.stdout.splitlines()) == 8
    for name in NAMES:  # each store converged: nothing left to do
        plan = stores.run("plan", "--store", name, "--json")
        assert plan.returncode == 0, plan.stderr
        assert json.loads(plan.stdout)["stores"][name]["actions"] == []
    again = json.loads(stores.run("apply", "--json").stdout)
    assert all(s["imported"] == s["updated"] == s["pushed"] == 0
               for s in again["stores"].values())
    ambiguous = stores.run("orders", "show", str(first))  # every store has an order `first`
    assert ambiguous.returncode == 1 and "say which with --store (eu, us, au)" in ambiguous.stderr
    only_eu = int(stores.sandboxes["eu"].store.create_order(order_body(7))["id"])
    stores.run("apply", "--store", "eu")
    alone = stores.run("orders", "show", str(only_eu), "--json")  # one store has it: no --store
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout)["store"] == "eu"


def only_us_failed(stores: Stores, ids: dict[str, list[int]],
                   r: subprocess.CompletedProcess[str], says: str) -> None:
    """The run exits 1 naming store us, which synced nothing, and eu and au synced all."""
    assert r.returncode == 1
    assert f"store us: {says}" in r.stderr, r.stderr
    assert "1 of 3 store(s) failed: us" in r.stdout
    assert set(stores.ledger("eu")) == set(ids["eu"]) and set(stores.ledger("au")) == set(ids["au"])
    assert stores.ledger("us") == {}


def own_rules(stores: Stores, name: str, actions: str) -> None:
    """A copy of the shipped rules for store `name`, its 11 Awaiting Fulfillment rule doing
    `actions` instead, named in rulesync.yaml as that store's rules."""
    folder = stores.folder / "rules" / name
    shutil.copytree(SHIPPED_RULES, folder)
    inbound = folder / "inbound.yaml"
    inbound.write_text(inbound.read_text().replace("actions: [import_order, mark_paid]\n",
                                                   f"actions: [{actions}]\n", 1))
    stores.write_config(**{name: f"rules: [rules/{name}]"})


def test_a_wrong_token_fails_only_its_store_and_the_run(stores: Stores) -> None:
    ids = _fill(stores)
    r = stores.run("apply", US_TOKEN="not-the-token")
    only_us_failed(stores, ids, r, "")
    assert "401" in r.stderr
    fixed = stores.run("apply", "--store", "us", "--json")
    assert fixed.returncode == 0, fixed.stderr
    assert list(json.loads(fixed.stdout)["stores"]) == ["us"]
    assert set(stores.ledger("us")) == set(ids["us"][:2])


def test_a_store_down_fails_only_that_store(stores: Stores) -> None:
    ids = _fill(stores)
    stores.sandboxes["us"].stop()  # nothing listens on its port any more
    only_us_failed(stores, ids, stores.run("apply"), "BigCommerce GET /v2/time: cannot reach")


def test_a_stores_broken_rules_fail_only_that_store(stores: Stores) -> None:
    ids = _fill(stores)
    own_rules(stores, "us", "import_order, mark_payd")
    r = stores.run("apply")
    only_us_failed(stores, ids, r, "")
    assert "inbound.yaml:23:" in r.stderr, r.stderr
    assert not stores.sandboxes["us"].api_calls()  # its rules are checked before its store is read


def test_a_stores_rule_folder_gone_fails_only_that_store(stores: Stores) -> None:
    ids = _fill(stores)
    own_rules(stores, "us", "import_order, mark_paid")
    shutil.rmtree(stores.folder / "rules" / "us")
    r = stores.run("apply")
    only_us_failed(stores, ids, r, "")
    assert "store us: rule path rules/us does not exist" in r.stderr, r.stderr
    planned = stores.run("plan", "--store", "eu", "--json")  # the others' commands go on
    assert planned.returncode == 0 and json.loads(planned.stdout)["stores"]["eu"]["actions"] == [], \
        planned.stderr


def test_a_store_with_rules_of_its_own_syncs_by_them(stores: Stores) -> None:
    """eu's own rules import 11 Awaiting Fulfillment without marking it paid; the other stores
    keep the top-level (shipped) rules."""
    ids = _fill(stores)
    own_rules(stores, "eu", "import_order")
    r = stores.run("apply")
    assert r.returncode == 0, r.stderr
    first = ids["eu"][0]  # 11 Awaiting Fulfillment in eu, 9 in us, 7 in au
    assert stores.ledger("eu")[first]["paid"] is False
    assert stores.ledger("us")[first]["paid"] is True
    hashes = {name: re.findall(r"rules bigcommerce-inbound v1 sha256 (\w+)",
                               stores.run("explain", str(first), "--store", name).stdout)
              for name in ("eu", "us")}
    assert len(hashes["eu"]) == len(hashes["us"]) == 1 and hashes["eu"] != hashes["us"], hashes
    validated = stores.run("validate", state_flag=False)  # eu's own rules and the shipped ones
    assert validated.returncode == 0, validated.stdout + validated.stderr
    checked = validated.stdout.splitlines()[0]
    assert checked.startswith("checked ") and "rules/eu/inbound.yaml" in checked, checked
    assert checked.endswith("(the rules rulesync.yaml configures)"), checked


def test_the_state_named_by_rulesync_database_url(stores: Stores) -> None:
    """Without --state, RULESYNC_DATABASE_URL names the state (a PostgreSQL URL or a file)."""
    ids = _fill(stores)
    r = stores.run("apply", state_flag=False, RULESYNC_DATABASE_URL=stores.state)
    assert r.returncode == 0, r.stderr
    assert set(stores.ledger("eu")) == set(ids["eu"])
    assert not (stores.folder / ".rulesync").exists()  # nothing went to the default file


def test_an_unknown_store_name_is_refused_naming_the_known_ones(stores: Stores) -> None:
    r = stores.run("apply", "--store", "ca")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "error: --store ca: no such store in rulesync.yaml (configured: eu, us, au)\n"
    assert not any(sb.api_calls() for sb in stores.sandboxes.values())


def test_one_stores_lock_does_not_hold_up_another_store(stores: Stores) -> None:
    """The test holds store eu's sync lock: `apply --store us` runs through without waiting,
    `apply --store eu` waits (it says so) and finishes once the lock is released."""
    ids = _fill(stores)
    held = SqlState(stores.state, "eu")
    try:
        with held.exclusive():
            us = stores.run("apply", "--store", "us", "--json")
            assert us.returncode == 0 and WAITING not in us.stderr, us.stderr
            eu = stores.popen("apply", "--store", "eu", "--json")
            assert eu.stderr is not None
            first = eu.stderr.readline()  # blocks until the waiting line (or the end)
            assert f"{WAITING} of store eu on " in first, first
            assert eu.poll() is None and stores.ledger("eu") == {}
        out, err = eu.communicate(timeout=300)
        assert eu.returncode == 0, err
        assert set(stores.ledger("eu")) == set(ids["eu"])
        assert set(stores.ledger("us")) == set(ids["us"][:2])
    finally:
        held.close()


def test_failures_retry_and_forget_find_the_one_store_an_order_waits_in(stores: Stores) -> None:
    """Order ids repeat across stores; the retry set names the store. Without --store, retry and
    forget take the one store whose retry set holds the order, and say so when none or several
    do."""
    ids = _fill(stores)
    assert stores.run("apply").returncode == 0
    shared = ids["us"][0]
    assert shared in ids["eu"]  # the same id in two stores
    state = SqlState(stores.state)
    try:
        state.for_store("us").retries().failed(shared, "inbound", "a failure", "t", 0.0)
    finally:
        state.close()
    retried = stores.run("failures", "retry", str(shared), "--json")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert json.loads(retried.stdout)["succeeded"] is True
    missing = stores.run("failures", "forget", str(shared))
    assert missing.returncode == 1
    assert f"order {shared} is not in the retry set of any of the 3 stores" in missing.stderr
    state = SqlState(stores.state)
    try:
        for name in ("eu", "au"):
            state.for_store(name).retries().failed(shared, "inbound", "a failure", "t", 0.0)
    finally:
        state.close()
    both = stores.run("failures", "forget", str(shared))
    assert both.returncode == 1
    assert "waits in the retry set of 2 stores: say which with --store (eu, au)" in both.stderr
    one = stores.run("failures", "forget", str(shared), "--store", "au", "--json")
    assert one.returncode == 0, one.stderr
    assert stores.run("failures", "forget", str(shared), "--json").returncode == 0  # eu's, alone
    assert json.loads(stores.run("failures", "list", "--json").stdout)["failures"] == []


def test_a_stores_wrong_hash_or_address_names_its_own_entry(stores: Stores) -> None:
    """With several stores the fields to check are the store's entry's, not the environment
    variables of a one-store setup."""
    with web_page("<html><body>a shop's front page</body></html>") as port:
        config = stores.folder / "rulesync.yaml"
        config.write_text(config.read_text().replace("store_hash: hash-us", "store_hash: hash-typo")
                          .replace(f"api_url: {stores.sandboxes['au'].base_url}",
                                   f"api_url: http://127.0.0.1:{port}"))
        r = stores.run("apply")
    assert r.returncode == 1 and "2 of 3 store(s) failed: us, au" in r.stdout, r.stdout + r.stderr
    assert "store us: " in r.stderr and "404: no store with hash 'hash-typo' " \
           "(stores[us].store_hash)" in r.stderr, r.stderr
    assert "is stores[au].api_url the API address?" in r.stderr, r.stderr
    assert "BIGCOMMERCE_" not in r.stderr, r.stderr
