"""Backfill: import N sandbox orders into an empty ledger with `rulesync apply`.

The sandbox runs in its own process (`rulesync sandbox --seed N`) so that the memory measured is
rulesync's alone; each `rulesync apply` also runs in a fresh process, which reports its own peak
resident memory. Prints orders per second, API calls per order and peak memory for N orders, and
peak memory for N/10 orders beside it: the backfill streams, so memory must stay flat. Targets:
no order in error (the seeded statuses 0-14 import only some orders, by the rules), and at most
2x the peak memory for 10x the orders; the exit status is 1 when one is MISSED.

With ``--state postgresql://...`` the N-order backfill also runs with the ledger and sync state
in that PostgreSQL database (in a new schema, dropped afterwards), and the two are printed side
by side; target: PostgreSQL at least half SQLite's orders per second. A shared machine's speed
drifts within minutes, so they run SQLite, PostgreSQL, PostgreSQL, SQLite, and each one's best
time is compared: a slow spell then weighs on both, not on whichever ran through it.

    python bench/backfill.py [--orders 10000] [--state postgresql://postgres@127.0.0.1/test]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from processes import fresh_schema, start_sandbox

MEMORY_RATIO = 2.0  # streaming: 10x the orders may not cost more than 2x the memory
POSTGRES_RATIO = 2.0  # PostgreSQL may take at most twice SQLite's time per order

# Runs `rulesync apply` in this process and writes its peak RSS (KiB on Linux) to a pipe at exit.
APPLY = """
import atexit, os, resource, sys
fd = int(sys.argv[2])
atexit.register(lambda: os.write(fd, str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).encode()))
sys.argv = ["rulesync", "apply", "--state", sys.argv[1], "--json"]
from engine.cli.main import main
main()
"""


def api_calls(base: str) -> int:
    with urllib.request.urlopen(f"{base}/_sandbox/calls") as reply:
        return sum(json.load(reply).values())


def backfill(orders: int, state: str = "") -> dict[str, Any]:
    sandbox, base = start_sandbox("--seed", str(orders), "--token", "bench-token")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BIGCOMMERCE_API_URL": base, "BIGCOMMERCE_STORE_HASH": "sandbox",
                   "BIGCOMMERCE_ACCESS_TOKEN": "bench-token"}
            calls_before = api_calls(base)
            read, write = os.pipe()
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", APPLY,
                                   state or str(Path(tmp) / "state.sqlite"), str(write)],
                                  env=env, capture_output=True, text=True, pass_fds=(write,))
            seconds = time.perf_counter() - started
            os.close(write)
            peak_kib = int(os.read(read, 64) or 0)
            os.close(read)
            if done.returncode not in (0, 1):
                raise SystemExit(f"apply failed:\n{done.stderr}")
            summary = json.loads(done.stdout)
            calls = api_calls(base) - calls_before - 1  # minus the count request itself
    finally:
        sandbox.terminate()
        sandbox.wait()
    return {"state": "PostgreSQL" if state else "SQLite", "orders": orders, "seconds": seconds,
            "orders_per_s": orders / seconds,
            "calls": calls, "calls_per_order": calls / orders, "peak_mib": peak_kib / 1024,
            "imported": summary["imported"], "errors": summary["errors"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--state", default="", help="also run on this postgresql:// database")
    args = parser.parse_args()
    if args.state and not args.state.startswith(("postgresql://", "postgres://")):
        parser.error("--state must be a postgresql:// URL (SQLite always runs)")
    small, large = backfill(args.orders // 10), backfill(args.orders)
    runs = [small, large]
    if args.state:
        for _ in range(2):
            with fresh_schema(args.state) as url:
                runs.append(backfill(args.orders, url))
        runs.append(backfill(args.orders))
    print(f"{'state':>10} {'orders':>8} {'seconds':>8} {'orders/s':>9} {'API calls':>10} "
          f"{'calls/order':>12} {'peak MiB':>9} {'imported':>9}")
    for r in runs:
        print(f"{r['state']:>10} {r['orders']:>8} {r['seconds']:>8.1f} {r['orders_per_s']:>9.0f}"
              f" {r['calls']:>10} {r['calls_per_order']:>12.3f} {r['peak_mib']:>9.1f}"
              f" {r['imported']:>9}")
    print(f"peak memory ratio {large['orders']}/{small['orders']} orders: "
          f"{large['peak_mib'] / small['peak_mib']:.2f}x for {large['orders'] // small['orders']}x"
          " the orders")
    complete = all(r["errors"] == 0 for r in runs)
    flat = large["peak_mib"] <= MEMORY_RATIO * small["peak_mib"]
    print(f"target no order in error: {'met' if complete else 'MISSED'}")
    print(f"target peak memory <= {MEMORY_RATIO:g}x for 10x the orders: {'met' if flat else 'MISSED'}")
    close = True
    if args.state:
        best = {state: min(r["seconds"] for r in runs[1:] if r["state"] == state)
                for state in ("SQLite", "PostgreSQL")}
        ratio = best["PostgreSQL"] / best["SQLite"]
        close = ratio <= POSTGRES_RATIO
        print(f"PostgreSQL / SQLite time for {args.orders} orders, best of two each: "
              f"{best['PostgreSQL']:.1f} s / {best['SQLite']:.1f} s = {ratio:.2f}x")
        print(f"target PostgreSQL within {POSTGRES_RATIO:g}x of SQLite: "
              f"{'met' if close else 'MISSED'}")
    return 0 if complete and flat and close else 1


if __name__ == "__main__":
    sys.exit(main())
