"""`rulesync demo`: the sandbox store, seeded orders and both directions, with no credentials.

Runs the real engine against the real sandbox over loopback: a first sync imports the store's
orders, a few ledger orders are then paid, packed, shipped, closed, voided and refunded, and a
second sync pushes those changes to the store (push_order_info and auto_close on).
"""
from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

import rules as shipped
from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from connectors.ledger.ledger import Ledger
from engine.cli import report_sync
from engine.config import Config
from engine.connect.session import open_sync, plan
from engine.errors import RulesyncError
from engine.language.catalog import status_label

TOKEN = "demo-token"  # the sandbox's own token, not a secret: it guards only this process
SETTINGS = {"auto_close": True, "push_order_info": True}
MARKER = ".rulesync-demo"  # in the demo's folder: the state files there are the demo's to delete


def fresh_folder(workdir: Path) -> None:
    """Make the demo's folder, and delete the state an earlier demo left there. Only the demo's
    own: `--dir .rulesync` would otherwise delete a project's ledger (the default state file)."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        found = sorted(workdir.glob("state.sqlite*"))
        if found and not (workdir / MARKER).exists():
            raise RulesyncError(f"{found[0]} was not made by rulesync demo, which deletes its "
                                "state on every run: give --dir a folder of its own (or delete "
                                "that file if an earlier demo left it)")
        (workdir / MARKER).write_text("rulesync demo deletes and remakes the state files in this "
                                      "folder on every run.\n", encoding="utf-8")
        for leftover in found:
            leftover.unlink()
    except OSError as e:
        raise RulesyncError(f"rulesync demo: cannot use {workdir}: {e.strerror}") from None


def _config(sandbox: Sandbox, state: Path) -> Config:
    return Config(file=None, rules=(shipped.BIGCOMMERCE,), settings=SETTINGS, state=state,
                  store_hash="demo", api_url=sandbox.base_url, retry_floor_seconds=0.1,
                  environ={"BIGCOMMERCE_ACCESS_TOKEN": TOKEN})


def _sync(config: Config, clock: FrozenClock) -> Any:
    clock.advance(2)  # time passes between runs, as it would in a real store
    with open_sync(config) as sync:
        return sync.run()


def _ledger_changes(ledger: Ledger) -> list[tuple[str, int]]:
    """Pick orders by state and make one change of each kind a ledger user makes."""
    orders = ledger.list_orders(limit=500)
    state = {o.order_id: {**o.state(), "warnings": o.warnings} for o in orders}
    done: list[tuple[str, int]] = []

    def first(test: Callable[[dict[str, Any]], bool]) -> int | None:
        used = {oid for _, oid in done}
        return next((oid for oid in sorted(state) if oid not in used and test(state[oid])), None)

    steps = (("pay", Ledger.mark_paid, lambda s: not s["paid"] and not s["void"]),
             ("pack", Ledger.mark_packed, lambda s: s["paid"] and not s["packed"]
              and not s["void"]),
             ("ship", None, lambda s: s["shipped"] == "none" and not s["void"]
              and not s["closed"] and not s["warnings"]),
             ("close", Ledger.close_order, lambda s: not s["closed"] and not s["void"]),
             ("void", Ledger.void, lambda s: s["shipped"] == "none" and not s["void"]
              and not s["closed"]),
             ("refund", Ledger.refund, lambda s: s["paid"]))
    for name, method, test in steps:
        oid = first(test)
        if oid is None:
            continue
        if method is None:
            ledger.ship(oid, f"1Z{oid:06d}", "ups", origin="user")
        else:
            method(ledger, oid, origin="user", note="changed in the demo")
        done.append((name, oid))
    return done


def _store_view(sandbox: Sandbox, order_id: int) -> tuple[str, str]:
    base = f"{sandbox.base_url}/stores/demo/v2/orders/{order_id}"
    headers = {"X-Auth-Token": TOKEN, "Accept": "application/json"}
    order = requests.get(base, headers=headers, timeout=5).json()
    got = requests.get(f"{base}/shipments", headers=headers, timeout=5)
    shipments = got.json() if got.status_code == 200 else []
    tracking = ", ".join(f"{s['tracking_number']} ({len(s['items'])} line(s))" for s in shipments)
    return status_label(order["status_id"]), tracking or "-"


def run(workdir: Path, orders: int, echo: Callable[[str], None], program: str = "rulesync") -> int:
    """The demo; `program` is how the user runs rulesync, so the closing hints work as printed."""
    clock = FrozenClock(time.time())
    with Sandbox(store_hash="demo", token=TOKEN, seed_orders=orders, seed=7, clock=clock) as sb:
        config = _config(sb, workdir / "state.sqlite")
        echo(f"Sandbox store at {sb.base_url} with {orders} orders; ledger and state in "
             f"{config.state}\nSettings: auto_close on, push_order_info on\n")
        echo("1. First sync (store -> ledger):")
        echo(report_sync.apply_text(_sync(config, clock)))
        with Ledger(config.state) as ledger:
            echo("\nThe ledger now:")
            echo(report_sync.ledger_table(ledger.list_orders(limit=500)))
            echo("\n2. A ledger user changes some orders:")
            changes = _ledger_changes(ledger)
        echo(report_sync.table(("change", "order"), changes))
        echo("\n3. Second sync (ledger -> store):")
        summary = _sync(config, clock)
        echo(report_sync.apply_text(summary))
        echo("\nThe store now, for the changed orders:")
        echo(report_sync.table(("change", "order", "store status", "store shipments"),
                               [(name, oid, *_store_view(sb, oid)) for name, oid in changes]))
        clock.advance(2)
        echo("\n4. Plan after the sync: " + report_sync.plan_text(plan(config)))
        state = shlex.quote(str(config.state))
        if changes:
            echo(f"\nSee why an order looks the way it does: {program} explain {changes[0][1]} "
                 f"--state {state}")
        echo(f"The ledger: {program} orders list --state {state}")
    return 1 if summary.counts["errors"] else 0
