"""One store's backfill against its API quota: wall time beside the quota floor.

A sandbox store (its own process) with N seeded orders, a share of them shipped, a request quota
and a latency on every request, like a real store; `rulesync apply` (a fresh process, SQLite
state) imports them all, once per `--concurrency` value: 1 reads one request at a time (the
path of before), more reads the shipments of a page that many at a time under the store's token
bucket. The quota floor is the least time the store's quota allows for the requests made: calls
/ (quota / window). Prints, per run, the wall time, the requests, the floor and their ratio, and
the 429s the sandbox answered. Target: the overlapped run within 1.25x the floor, with no 429;
the exit status is 1 when it is MISSED.

    python bench/scale.py [--orders 5000] [--shipped 0.3] [--quota 450] [--window-ms 30000]
                          [--latency-ms 100] [--concurrency 1,8] [--state postgresql://...]

With `--state postgresql://...` the state (in a new schema, dropped afterwards) and so the
store's token bucket are in PostgreSQL: every request then takes its token there.

(The several-store, several-worker part of this benchmark is bench/scale_workers.py: orders/s
across 10 stores with 1, 2 and 4 `rulesync worker` processes.)
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
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from processes import fresh_schema, start_sandbox

TARGET = 1.25  # the overlapped backfill may take at most this times the quota floor
TOKEN = "bench-token"


def control(base: str, path: str) -> Any:
    with urllib.request.urlopen(f"{base}/_sandbox{path}") as reply:
        return json.load(reply)


def backfill(args: argparse.Namespace, concurrency: int) -> dict[str, Any]:
    sandbox, base = start_sandbox(
        "--token", TOKEN, "--seed", str(args.orders), "--seed-shipped", str(args.shipped),
        "--quota", str(args.quota), "--window-ms", str(args.window_ms),
        "--latency-ms", str(args.latency_ms))
    database = fresh_schema(args.state) if args.state else nullcontext("")
    try:
        with tempfile.TemporaryDirectory() as tmp, database as url:
            config = Path(tmp) / "rulesync.yaml"
            config.write_text(
                f"version: 1\nstore: {{concurrency: {concurrency}, quota: {{requests: "
                f"{args.quota}, window_seconds: {args.window_ms / 1000:g}}}}}\n",
                encoding="utf-8")
            env = {**os.environ, "BIGCOMMERCE_API_URL": base, "BIGCOMMERCE_STORE_HASH": "sandbox",
                   "BIGCOMMERCE_ACCESS_TOKEN": TOKEN}
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "engine.cli.main", "--config", str(config), "apply", "--json",
                 "-q", "--state", url or str(Path(tmp) / "state.sqlite")],
                env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode not in (0, 1):
                raise SystemExit(f"apply failed:\n{done.stderr}")
            summary = json.loads(done.stdout)
            calls = sum(control(base, "/calls").values())
            quota = control(base, "/quota")
    finally:
        sandbox.terminate()
        sandbox.wait()
    floor = calls / (args.quota / (args.window_ms / 1000))
    return {"concurrency": concurrency, "seconds": seconds, "calls": calls, "floor": floor,
            "ratio": seconds / floor, "refused": quota["refused"],
            "imported": summary["imported"], "errors": summary["errors"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--shipped", type=float, default=0.3)
    parser.add_argument("--quota", type=int, default=450)
    parser.add_argument("--window-ms", type=int, default=30_000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", default="1,8",
                        help="comma-separated; 1 is one request at a time")
    parser.add_argument("--state", default="", help="a postgresql:// database for the state "
                        "and the bucket (default: a SQLite file, the bucket in the process)")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    print(f"{args.orders} orders, {args.shipped:.0%} shipped; quota {args.quota} per "
          f"{args.window_ms} ms, {args.latency_ms} ms latency; state and bucket in "
          f"{'PostgreSQL' if args.state else 'SQLite and the process'}", flush=True)
    print(f"{'concurrency':>11} {'seconds':>8} {'calls':>6} {'floor s':>8} {'x floor':>8} "
          f"{'429s':>5} {'imported':>9} {'errors':>7}", flush=True)
    runs = []
    for level in levels:
        r = backfill(args, level)
        runs.append(r)
        print(f"{r['concurrency']:>11} {r['seconds']:>8.1f} {r['calls']:>6} {r['floor']:>8.1f} "
              f"{r['ratio']:>8.2f} {r['refused']:>5} {r['imported']:>9} {r['errors']:>7}",
              flush=True)
    best = min((r for r in runs if r["concurrency"] > 1), key=lambda r: r["ratio"], default=None)
    met = best is not None and best["ratio"] <= TARGET and all(r["refused"] == 0 for r in runs)
    if best is not None:
        print(f"target overlapped backfill <= {TARGET:g}x the quota floor, no 429: "
              f"{'met' if met else 'MISSED'} ({best['ratio']:.2f}x)")
    return 0 if met or best is None else 1


if __name__ == "__main__":
    sys.exit(main())
