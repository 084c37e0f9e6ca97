"""The status page of `rulesync serve` with a big ledger and a full retry set.

Builds a state file the way a merchant gets one: a sandbox store (in this process) with
`--orders` orders in Awaiting Fulfillment, imported by `rulesync apply` (so the ledger, the
decision log and the outbox hold them all). Then every one of those orders is put in the retry set
(one SQL transaction; next attempts a day away, so the worker leaves them alone), and
`rulesync serve` starts on that file with an admin token. Each page is then fetched `--runs` times
with the bearer token, one new connection per request as a browser's first visit makes it:
the first page of the retry set, the page at its middle and at its end (keyset cursors as the
page's own links carry them), and one order's explain view. Prints the p50/p95/max latency
(request sent -> whole page read) per page.

Target: p95 under 100 ms for every page; the exit status is 1 when one is MISSED.

    python bench/status_page.py [--orders 10000] [--runs 50]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from connectors.bigcommerce.sandbox import Sandbox
from engine.serve.status_data import cursor

RULESYNC = str(Path(sys.executable).parent / "rulesync")
TOKEN, SECRET = "bench-token", "bench-webhook-secret-0123456789"
ADMIN = "bench-admin-token-0123456789"
P95_MS = 100.0
ADDRESS = {"first_name": "Jo", "last_name": "Doe", "company": "", "street_1": "1 Main St",
           "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
           "country": "United States", "country_iso2": "US", "phone": "555-0100",
           "email": "jo@example.com"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def environment(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
    return {**env, "BIGCOMMERCE_API_URL": sb.base_url, "BIGCOMMERCE_STORE_HASH": "sandbox",
            "BIGCOMMERCE_ACCESS_TOKEN": TOKEN, "RULESYNC_WEBHOOK_SECRET": SECRET,
            "RULESYNC_ADMIN_TOKEN": ADMIN, "NO_PROXY": "127.0.0.1,localhost"}


def build_state(sb: Sandbox, orders: int, state: Path) -> list[int]:
    for i in range(orders):
        sb.store.create_order({
            "status_id": 11, "billing_address": ADDRESS, "shipping_addresses": [ADDRESS],
            "products": [{"name": f"Item {i}", "sku": f"SKU-{i}", "quantity": 1,
                          "price_inc_tax": "9.50", "price_ex_tax": "9.50"}]})
    time.sleep(1.1)  # the change feed reads closed seconds only
    started = time.monotonic()
    done = subprocess.run([RULESYNC, "apply", "--json", "--state", str(state)],
                          env=environment(sb), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"rulesync apply failed: {done.stderr}")
    print(f"rulesync apply imported {json.loads(done.stdout)['imported']:,} orders in "
          f"{time.monotonic() - started:.1f} s")
    conn = sqlite3.connect(state)
    ids = [r[0] for r in conn.execute("SELECT order_id FROM ledger_orders ORDER BY order_id")]
    later, at = time.time() + 86400, "2026-01-01T00:00:00+00:00"
    with conn:  # every order waits for a retry, each at its own time
        conn.executemany(
            "INSERT INTO sync_retries (order_id, direction, reason, attempts, first_failed_at, "
            "last_failed_at, next_attempt_at) VALUES (?, 'inbound', ?, 3, ?, ?, ?)",
            [(i, f"GET /v2/orders/{i}: 503 Service Unavailable (after 4 attempts)", at, at,
              later + n) for n, i in enumerate(ids)])
    conn.close()
    return ids


def start_serve(sb: Sandbox, state: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([RULESYNC, "serve", "--port", "0", "--state", str(state),
                             "--poll-seconds", "3600"], env=environment(sb),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if found:
            threading.Thread(target=lambda: [None for _ in proc.stderr or []], daemon=True).start()
            port = int(found.group(1))
            deadline = time.monotonic() + 120
            while not health(port).get("last_sync"):  # its start-up poll is over
                if time.monotonic() > deadline:
                    raise SystemExit("rulesync serve did not finish its first sync")
                time.sleep(0.2)
            return proc, port
    raise SystemExit("rulesync serve did not start")


def health(port: int) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/healthz", headers={"X-Rulesync-Secret": SECRET})
    found: dict[str, object] = json.loads(conn.getresponse().read())
    conn.close()
    return found


def fetch(port: int, path: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {ADMIN}"})
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return (time.perf_counter() - started) * 1000, reply.status, body


def pages(state: Path, ids: list[int]) -> dict[str, str]:
    conn = sqlite3.connect(state)
    keys = conn.execute("SELECT next_attempt_at, order_id, direction FROM sync_retries "
                        "ORDER BY next_attempt_at, order_id, direction").fetchall()
    conn.close()
    middle, end = keys[len(keys) // 2 - 1], keys[max(0, len(keys) - 51)]
    return {"status page, first page": "/",
            f"status page, rows {len(keys) // 2 + 1:,}+": "/?after=" + quote(cursor(middle)),
            f"status page, last rows of {len(keys):,}": "/?after=" + quote(cursor(end)),
            "an order's explain view": f"/orders/{ids[len(ids) // 2]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    missed = False
    with tempfile.TemporaryDirectory() as tmp, Sandbox(port=0, store_hash="sandbox", token=TOKEN,
                                                       quota=None) as sb:
        state = Path(tmp) / "state.sqlite"
        ids = build_state(sb, args.orders, state)
        proc, port = start_serve(sb, state)
        try:
            print(f"{len(ids):,} orders in the ledger, {len(ids):,} in the retry set; "
                  f"{args.runs} requests per page, a new connection each")
            for name, path in pages(state, ids).items():
                for _ in range(8):  # each of serve's 8 threads opens its SQLite connection once
                    fetch(port, path)
                timings = []
                for _ in range(args.runs):
                    ms, status, body = fetch(port, path)
                    if status != 200:
                        raise SystemExit(f"{path}: HTTP {status}: {body[:200]!r}")
                    timings.append(ms)
                p95 = percentile(timings, 95)
                verdict = "met" if p95 < P95_MS else "MISSED"
                missed |= verdict == "MISSED"
                print(f"{name:38} p50 {percentile(timings, 50):6.1f} ms  p95 {p95:6.1f} ms  "
                      f"max {max(timings):6.1f} ms  ({len(body):,} bytes)  "
                      f"target p95 < {P95_MS:.0f} ms: {verdict}")
        finally:
            proc.terminate()
            proc.wait(30)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
