"""Acceptance harness: a real sandbox store, the real `rulesync` command, a real ledger.

Nothing is mocked. Each `World` is one sandbox store (on loopback, with a frozen clock the test
moves by hand) plus one state/ledger database, a SQLite file or a fresh schema of the PostgreSQL
test server (`backend`), driven through the installed `rulesync` command in a
subprocess, the way a merchant runs it. The store side is read in-process from the sandbox
(`sb.store`), so reading it never counts as an API call; the ledger side is read through
`rulesync orders show --json` or, for bulk comparisons, through `connectors.ledger.Ledger`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from connectors.ledger import Ledger
from engine import db
from tests.support import databases, in_process

T0 = 1_790_000_000  # any whole second works; the store clock only moves when a test says so
TOKEN = "sandbox-token"
STORE_HASH = "sandbox"
WRITE_METHODS = ("POST ", "PUT ", "DELETE ")


def rulesync_command() -> str:
    found = Path(sys.executable).parent / "rulesync"
    if found.exists():
        return str(found)
    which = shutil.which("rulesync")
    assert which, "the rulesync command is not installed next to the interpreter nor on PATH"
    return which


RULESYNC = rulesync_command()

ADDRESS = {
    "first_name": "Jo", "last_name": "Doe", "company": "", "street_1": "1 Main St",
    "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
    "country": "United States", "country_iso2": "US", "phone": "555-0100",
    "email": "jo@example.com",
}
SECOND_ADDRESS = {**ADDRESS, "first_name": "Sam", "street_1": "9 Side Rd", "city": "Dallas",
                  "zip": "75201", "email": "sam@example.com"}
# A 3-item order: 2 mugs and 1 cap.
THREE_ITEMS = (("MUG-1", "Mug", 2, "12.00"), ("CAP-1", "Cap", 1, "5.00"))


def order_body(status_id: int, lines: tuple[tuple[str, str, int, str], ...] = THREE_ITEMS,
               addresses: tuple[dict[str, Any], ...] = (ADDRESS,),
               message: str = "Leave at the door") -> dict[str, Any]:
    return {
        "status_id": status_id,
        "billing_address": dict(ADDRESS),
        "shipping_addresses": [dict(a) for a in addresses],
        "products": [{"name": name, "sku": sku, "quantity": qty, "price_inc_tax": price,
                      "price_ex_tax": price} for sku, name, qty, price in lines],
        "customer_message": message,
    }


class World:
    """One sandbox store + one rulesync state, driven by the real command."""

    def __init__(self, workdir: Path, *, seed_orders: int = 0, start: int = T0,
                 fault_rate: float = 0.0, fault_seed: int = 0, backend: str = "sqlite") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self._schemas = ExitStack()
        self.state: Path | str = self.new_state("state")
        self.clock = FrozenClock(start)
        self.sb = Sandbox(port=0, store_hash=STORE_HASH, token=TOKEN, seed_orders=seed_orders,
                          quota=None, fault_rate=fault_rate, fault_seed=fault_seed,
                          clock=self.clock)

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> World:
        self.sb.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sb.stop()
        self._schemas.close()

    # -- the state database ------------------------------------------------------------------
    def new_state(self, name: str) -> Path | str:
        """A new, empty state location: `name`.sqlite in the folder, or a new schema's URL."""
        if self.backend == "sqlite":
            return self.dir / f"{name}.sqlite"
        return self._schemas.enter_context(databases.fresh_schema())

    def state_exists(self) -> bool:
        """Whether anything was written to the state: the file, or any table in the schema."""
        if isinstance(self.state, Path):
            return self.state.exists()
        return bool(self.tables())

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows read straight from the state database (SQL as the state writes it)."""
        conn = db.connect(self.state, "test")
        try:
            return conn.rows(sql, params)
        finally:
            conn.close()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Change the state database behind rulesync's back (a test's own fault injection)."""
        conn = db.connect(self.state, "test")
        try:
            with conn.transaction():
                conn.execute(sql, params)
        finally:
            conn.close()

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table of the state, sorted: equal means nothing was written."""
        if isinstance(self.state, Path) and not self.state.exists():
            return {}
        conn = db.connect(self.state, "test")
        try:
            names = [n for (n,) in conn.rows(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                if conn.dialect == "sqlite" else "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name")]
            return {n: sorted(conn.rows(f"SELECT * FROM {n}"), key=repr) for n in names}
        finally:
            conn.close()

    def tick(self, seconds: int = 2) -> None:
        """Move the store clock on, so that changes made so far are in a closed second."""
        self.clock.advance(seconds)

    # -- the command ----------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
        env.update({"BIGCOMMERCE_API_URL": self.sb.base_url,
                    "BIGCOMMERCE_STORE_HASH": STORE_HASH,
                    "BIGCOMMERCE_ACCESS_TOKEN": TOKEN,
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
        env.update(extra)
        return env

    def run(self, *args: str, config: Path | None = None, timeout: float = 120,
            **extra_env: str) -> subprocess.CompletedProcess[str]:
        root = ["--config", str(config)] if config else []
        env = self.env(**extra_env)
        if in_process.wanted(env):  # only for mutation runs (tests/support/in_process.py)
            return in_process.run([*root, *args], self.dir, env)
        return subprocess.run([RULESYNC, *root, *args], cwd=self.dir, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def apply(self, *sets: str, expect_rc: int | None = 0, config: Path | None = None,
              **extra_env: str) -> dict[str, Any]:
        flags = [a for s in sets for a in ("--set", s)]
        r = self.run("apply", "--json", "--state", str(self.state), *flags, config=config,
                     **extra_env)
        if expect_rc is not None:
            assert r.returncode == expect_rc, f"apply exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return json.loads(r.stdout) if r.stdout.strip() else {"_rc": r.returncode,
                                                              "_stderr": r.stderr}

    def plan(self, *sets: str, config: Path | None = None) -> dict[str, Any]:
        flags = [a for s in sets for a in ("--set", s)]
        r = self.run("plan", "--json", "--state", str(self.state), *flags, config=config)
        assert r.returncode == 0, f"plan exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return json.loads(r.stdout)

    def orders(self, *args: str) -> subprocess.CompletedProcess[str]:
        r = self.run("orders", *args, "--state", str(self.state))
        assert r.returncode == 0, f"orders {args} exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def show(self, order_id: int) -> dict[str, Any] | None:
        """`rulesync orders show ORDER --json`, or None when the ledger does not have it."""
        r = self.run("orders", "show", str(order_id), "--json", "--state", str(self.state))
        if r.returncode != 0:
            assert "not in the ledger" in r.stderr or "no ledger" in r.stderr, r.stderr
            return None
        return json.loads(r.stdout)

    # -- the ledger, read in-process (the same dict `orders show --json` prints) -------------
    def ledger_get(self, order_id: int) -> dict[str, Any] | None:
        if not self.state_exists():
            return None
        with Ledger(self.state) as ledger:
            order = ledger.get(order_id)
        return None if order is None else json.loads(json.dumps(order.as_dict(), default=str))

    def ledger_dump(self) -> dict[int, dict[str, Any]]:
        """Every ledger order (as `orders show --json` prints it) with its history kinds."""
        if not self.state_exists():
            return {}
        out: dict[int, dict[str, Any]] = {}
        with Ledger(self.state) as ledger:
            offset = 0
            while batch := ledger.list_orders(limit=500, offset=offset):
                for order in batch:
                    data = order.as_dict()
                    data["history"] = [(h.kind, h.origin) for h in ledger.history(order.order_id)]
                    out[order.order_id] = data
                offset += len(batch)
        return out

    # -- the store --------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> int:
        return int(self.sb.store.create_order(body)["id"])

    def lines(self, order_id: int) -> dict[str, dict[str, Any]]:
        """The store order's lines by sku."""
        return {p["sku"]: p for p in self.sb.store.sub_resources(order_id, "products")}

    def ship_in_store(self, order_id: int, items: dict[str, int], tracking: str,
                      carrier: str = "ups") -> dict[str, Any]:
        """The store's Ship Items action (a shipment created through the API)."""
        lines = self.lines(order_id)
        first = next(iter(lines.values()))
        return self.sb.store.create_shipment(order_id, {
            "order_address_id": first["order_address_id"],
            "items": [{"order_product_id": lines[sku]["id"], "quantity": qty}
                      for sku, qty in items.items()],
            "tracking_number": tracking, "tracking_carrier": carrier})

    def store_order(self, order_id: int) -> dict[str, Any]:
        return self.sb.store.order(order_id)

    def store_shipments(self, order_id: int) -> list[dict[str, Any]]:
        return self.sb.store.sub_resources(order_id, "shipments")

    def store_dump(self) -> dict[int, dict[str, Any]]:
        """Status and shipments (without ids and times) of every store order."""
        out = {}
        for oid in self.sb.store.order_ids({}):
            order = self.sb.store.order(oid)
            ships = sorted((s["tracking_number"], s["tracking_carrier"], s["order_address_id"],
                            tuple(sorted((i["order_product_id"], i["quantity"])
                                         for i in s["items"])))
                           for s in self.store_shipments(oid))
            out[oid] = {"status_id": order["status_id"], "items_shipped": order["items_shipped"],
                        "shipments": ships}
        return out

    def writes(self) -> dict[str, int]:
        """API calls that could change the store (rulesync's; test set-up goes in-process)."""
        return {k: v for k, v in self.sb.api_calls().items() if k.startswith(WRITE_METHODS)}


def shipment_items(shipment: dict[str, Any]) -> list[tuple[int, int]]:
    return sorted((int(i["order_product_id"]), int(i["quantity"])) for i in shipment["items"])


def only_state(show: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if show is None else show["state"]


NOTHING_DONE = {"imported": 0, "updated": 0, "pushed": 0, "conflicts": 0, "errors": 0}


def counts(summary: dict[str, Any]) -> dict[str, int]:
    return {k: summary[k] for k in NOTHING_DONE}
