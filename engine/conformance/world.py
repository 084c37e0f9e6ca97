"""One sandbox store and one rulesync state, driven by the real `rulesync` command.

Nothing is mocked. Each `World` is a sandbox store (connectors/bigcommerce/sandbox, on loopback,
with a frozen clock the caller moves by hand) plus one state, a SQLite file, a fresh schema of
a PostgreSQL server or a new state of another backend (engine/conformance/databases.py), driven
through the installed `rulesync` command in a subprocess, the way a merchant runs it. The store
side is read in-process from the sandbox (`sb.store`), so reading it never counts as an API
call. With `oms`, the world's rulesync.yaml names the OMS connector (and its options) that every
command uses.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from engine.conformance import databases
from engine.conformance.databases import SQLITE, Database, new_location, rows
from engine.conformance.store_side import StoreSide
from engine.storage import db

T0 = 1_790_000_000  # any whole second works; the store clock only moves when a test says so
TOKEN = "sandbox-token"
STORE_HASH = "sandbox"


def rulesync_command() -> str:
    found = Path(sys.executable).parent / "rulesync"
    if found.exists():
        return str(found)
    which = shutil.which("rulesync")
    if not which:
        raise RuntimeError("the rulesync command is not installed next to the interpreter "
                           "nor on PATH")
    return which


RULESYNC = rulesync_command()


class World(StoreSide):
    """One sandbox store + one rulesync state, driven by the real command."""

    def __init__(self, workdir: Path, *, seed_orders: int = 0, start: int = T0,
                 fault_rate: float = 0.0, fault_seed: int = 0, database: Database = SQLITE,
                 oms: Mapping[str, Any] | None = None) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.database = database
        self._cleanup = ExitStack()
        self.state: Path | str = self.new_state("state")
        self.clock = FrozenClock(start)
        self.sb = Sandbox(port=0, store_hash=STORE_HASH, token=TOKEN, seed_orders=seed_orders,
                          quota=None, fault_rate=fault_rate, fault_seed=fault_seed,
                          clock=self.clock)
        self.config: Path | None = None
        if oms is not None:  # picked up by every command, which runs in this folder
            self.config = self.dir / "rulesync.yaml"
            self.config.write_text(yaml.safe_dump({"version": 1, "oms": dict(oms)}),
                                   encoding="utf-8")

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> World:
        self.sb.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sb.stop()
        self._cleanup.close()

    # -- the state database (query, execute, tables: a SQLite or PostgreSQL state only) -------
    def new_state(self, name: str) -> Path | str:
        """A new, empty state location: `name`.sqlite in the folder, a new schema's URL, or
        what the world's state factory makes."""
        return new_location(self.database, self.dir, name, self._cleanup)

    def state_exists(self) -> bool:
        """Whether anything was written to the state: the file, or any table in the schema."""
        if isinstance(self.state, Path):
            return self.state.exists()
        return bool(self.tables())

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows read straight from the state database (SQL as the state writes it)."""
        return rows(self.state, sql, params)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Change the state database behind rulesync's back (a test's own fault injection)."""
        conn = db.connect(databases.sql(self.state), "test")
        try:
            with conn.transaction():
                conn.execute(sql, params)
        finally:
            conn.close()

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table of the state, sorted: equal means nothing was written."""
        if isinstance(self.state, Path) and not self.state.exists():
            return {}
        conn = db.connect(databases.sql(self.state), "test")
        try:
            names = [n for (n,) in conn.rows(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                if conn.dialect == "sqlite" else "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name")]
            return {n: sorted(conn.rows(f"SELECT * FROM {n}"), key=repr) for n in names}
        finally:
            conn.close()

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
        return self.run_with(args, extra_env, config=config, timeout=timeout)

    def run_with(self, args: Sequence[str], extra_env: Mapping[str, str], *,
                 config: Path | None = None, timeout: float = 120
                 ) -> subprocess.CompletedProcess[str]:
        root = ["--config", str(config)] if config else []
        return self.invoke([*root, *args], self.env(**extra_env), timeout)

    def invoke(self, args: list[str], env: dict[str, str], timeout: float
               ) -> subprocess.CompletedProcess[str]:
        """`rulesync ARGS` in a subprocess, in the world's folder."""
        return subprocess.run([RULESYNC, *args], cwd=self.dir, env=env, capture_output=True,
                              text=True, timeout=timeout)

    def apply(self, *sets: str, expect_rc: int | None = 0, config: Path | None = None,
              **extra_env: str) -> dict[str, Any]:
        flags = [a for s in sets for a in ("--set", s)]
        r = self.run_with(["apply", "--json", "--state", str(self.state), *flags], extra_env,
                          config=config)
        if expect_rc is not None:
            assert r.returncode == expect_rc, f"apply exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return json.loads(r.stdout) if r.stdout.strip() else {"_rc": r.returncode,
                                                              "_stderr": r.stderr}

    def plan(self, *sets: str, config: Path | None = None) -> dict[str, Any]:
        flags = [a for s in sets for a in ("--set", s)]
        r = self.run("plan", "--json", "--state", str(self.state), *flags, config=config)
        assert r.returncode == 0, f"plan exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        result: dict[str, Any] = json.loads(r.stdout)
        return result

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
        shown: dict[str, Any] = json.loads(r.stdout)
        return shown
