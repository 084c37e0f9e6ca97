"""Harness of the `rulesync serve` end-to-end tests: a real sandbox store, the real command.

Nothing is mocked. `rulesync serve` runs as a subprocess against a sandbox store on loopback;
deliveries come either from the sandbox's own webhook dispatcher (hooks registered with
`rulesync webhooks register`) or are POSTed by the test, shaped like BigCommerce's samples. The
ledger is read in-process with `connectors.ledger.Ledger` (the dict `orders show --json` prints).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from connectors.bigcommerce.sandbox import Sandbox
from connectors.ledger import Ledger
from engine.storage.state import SqlState

RULESYNC = str(Path(sys.executable).parent / "rulesync")
TOKEN = "sandbox-token"
STORE_HASH = "sandbox"
SECRET = "s3cret-for-tests-0123456789"  # 16+ characters, as `serve` requires
SECRET_HEADER = "X-Rulesync-Secret"
T0 = 1_790_000_000
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
T = TypeVar("T")

ADDRESS = {
    "first_name": "Jo", "last_name": "Doe", "company": "", "street_1": "1 Main St",
    "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
    "country": "United States", "country_iso2": "US", "phone": "555-0100",
    "email": "jo@example.com",
}
THREE_ITEMS = (("MUG-1", "Mug", 2, "12.00"), ("CAP-1", "Cap", 1, "5.00"))  # 2 mugs, 1 cap

BILLED = {"billed": True, "paid": False, "packed": False, "shipped": "none", "closed": False,
          "void": False, "refunded": False}
PAID = {**BILLED, "paid": True}
PACKED = {**PAID, "packed": True}


def order_body(status_id: int) -> dict[str, Any]:
    return {
        "status_id": status_id,
        "billing_address": dict(ADDRESS),
        "shipping_addresses": [dict(ADDRESS)],
        "products": [{"name": name, "sku": sku, "quantity": qty, "price_inc_tax": price,
                      "price_ex_tax": price} for sku, name, qty, price in THREE_ITEMS],
    }


def sandbox(**kw: Any) -> Sandbox:
    return Sandbox(port=0, store_hash=STORE_HASH, token=TOKEN,
                   webhook_retry_delays=(0.2, 0.5, 1.0), **kw)


@contextmanager
def named_sandboxes(*names: str) -> Iterator[dict[str, Sandbox]]:
    """One started sandbox store per name: store hash `hash-NAME`, token `token-NAME`."""
    made = {name: Sandbox(port=0, store_hash=f"hash-{name}", token=f"token-{name}")
            for name in names}
    for sb in made.values():
        sb.start()
    try:
        yield made
    finally:
        for sb in made.values():
            sb.stop()


def env_for(sb: Sandbox, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
    env.update({"BIGCOMMERCE_API_URL": sb.base_url, "BIGCOMMERCE_STORE_HASH": STORE_HASH,
                "BIGCOMMERCE_ACCESS_TOKEN": TOKEN, "RULESYNC_WEBHOOK_SECRET": SECRET,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    env.update(extra)
    return env


def run(sb: Sandbox, cwd: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RULESYNC, *args], cwd=cwd, env=env_for(sb, **extra_env),
                          capture_output=True, text=True, timeout=60)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0,
             every: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def delivery(scope: str, data: dict[str, Any], created_at: int = T0) -> dict[str, Any]:
    """A callback body shaped like webhook-samples/*.json; `hash` is a SHA-1 of the rest."""
    body = {"scope": scope, "store_id": "1025646", "data": data, "created_at": created_at,
            "producer": f"stores/{STORE_HASH}"}
    body["hash"] = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return body


def order_delivery(scope: str, order_id: int, **extra: Any) -> dict[str, Any]:
    return delivery(f"store/order/{scope}", {"type": "order", "id": order_id, **extra})


def status_delivery(order_id: int, previous: int, new: int) -> dict[str, Any]:
    return order_delivery("statusUpdated", order_id,
                          status={"previous_status_id": previous, "new_status_id": new})


def shipment_delivery(order_id: int, shipment_id: int) -> dict[str, Any]:
    return delivery("store/shipment/created",
                    {"type": "shipment", "id": shipment_id, "orderId": order_id})


class Serve:
    """`rulesync serve` in a subprocess; stderr is collected by a thread."""

    def __init__(self, sb: Sandbox, workdir: Path, state: Path, *, poll_seconds: float = 3600,
                 extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.sb, self.dir, self.state = sb, workdir, state
        self.dir.mkdir(parents=True, exist_ok=True)
        self.poll_seconds = poll_seconds
        self.extra_env = extra_env or {}
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.port = 0
        self.reader = threading.Thread()

    def start(self, wait_first_sync: bool = True) -> Serve:
        self.lines = []
        polls = self.sb.api_calls().get("GET /v3/hooks", 0)  # each catch-up poll ends with one
        self.proc = subprocess.Popen(
            [RULESYNC, "serve", "--port", "0", "--state", str(self.state),
             "--poll-seconds", str(self.poll_seconds), *self.args],
            cwd=self.dir, env=env_for(self.sb, **self.extra_env), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        listening = threading.Event()

        def read(stream: Any) -> None:
            with stream:
                for line in stream:
                    self.lines.append(line)
                    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/webhooks", line)
                    if m:
                        self.port = int(m.group(1))
                        listening.set()

        self.reader = threading.Thread(target=read, args=(self.proc.stderr,), daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 60  # generous: only reached when it cannot start
        while not listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start (rc {self.proc.poll()}): "
                                     f"{self.stderr()}")
        if wait_first_sync:  # the start-up catch-up poll is over: later changes are webhooks'
            wait_for("the first catch-up poll of serve",
                     lambda: self.sb.api_calls().get("GET /v3/hooks", 0) > polls)
            wait_for("the first sync of serve", lambda: self.health()["last_sync"])
        return self

    # -- HTTP ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def post(self, payload: Any, *, secret: str | None = SECRET, raw: bytes | None = None,
             header: str = SECRET_HEADER, path: str = "/webhooks",
             method: str = "POST") -> tuple[int, str]:
        data = raw if raw is not None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[header] = secret
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     data=data if method == "POST" else None,
                                     method=method, headers=headers)
        try:
            with _OPENER.open(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.read().decode()

    def health(self, secret: str | None = SECRET) -> dict[str, Any]:
        """GET /healthz, by default with the secret header (the full view)."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/healthz",
                                     headers={SECRET_HEADER: secret} if secret is not None else {})
        with _OPENER.open(req, timeout=10) as r:
            assert r.status == 200
            return json.loads(r.read())  # type: ignore[no-any-return]

    def worker_turn(self) -> None:
        """Wait until the worker has done one whole turn that began after this call: whatever
        it would do about what happened before the call, it has done (no fixed sleep)."""
        since, seen = time.time(), set()

        def two_new_heartbeats() -> bool:  # the second starts only after the first turn ended
            beat = float(self.meta("worker_heartbeat") or 0)
            if beat > since:
                seen.add(beat)
            return len(seen) >= 2

        wait_for("a whole turn of the serve worker", two_new_heartbeats)

    # -- lifecycle ----------------------------------------------------------------------
    def signal(self, sig: int, timeout: float = 10.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.reader.join(5)  # the last lines, and the pipe closed
        return rc

    def kill(self) -> int:
        return self.signal(signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            self.reader.join(5)

    def stderr(self) -> str:
        return "".join(self.lines)

    # -- the state file -----------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        conn = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute("SELECT value FROM sync_meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])
        finally:
            conn.close()

    def inbox(self) -> list[dict[str, Any]]:
        """The durable inbox rows (read-only)."""
        conn = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(
                "SELECT id, hash, order_id, scope, done FROM sync_inbox ORDER BY id")]
        finally:
            conn.close()


@contextmanager
def holding_sync_lock(state: Path) -> Iterator[None]:
    """Hold the state file's sync lock as a running `apply` would: serve's worker finishes the
    turn in hand, then waits. The HTTP side needs no lock and goes on acknowledging."""
    with closing(SqlState(state)) as held, held.exclusive():
        yield


def ledger_get(state: Path, order_id: int) -> dict[str, Any] | None:
    if not state.exists():
        return None
    with Ledger(state) as ledger:
        order = ledger.get(order_id)
        if order is None:
            return None
        data: dict[str, Any] = json.loads(json.dumps(order.as_dict(), default=str))
        data["history"] = [(h.kind, h.origin) for h in ledger.history(order_id)]
        return data


def ledger_dump(state: Path) -> dict[int, dict[str, Any]]:
    if not state.exists():
        return {}
    with Ledger(state) as ledger:
        ids = [o.order_id for o in ledger.list_orders(limit=10_000)]
    return {i: d for i in ids if (d := ledger_get(state, i)) is not None}


def state_of(state: Path, order_id: int) -> dict[str, Any] | None:
    found = ledger_get(state, order_id)
    return None if found is None else found["state"]  # type: ignore[no-any-return]


def wait_state(state: Path, order_id: int, expected: dict[str, Any],
               timeout: float = 10.0) -> dict[str, Any]:
    return wait_for(f"order {order_id} to be {expected} in the ledger",
                    lambda: (lambda s: s if s == expected else None)(state_of(state, order_id)),
                    timeout)


def ship(sb: Sandbox, order_id: int, items: dict[str, int], tracking: str) -> dict[str, Any]:
    """The store's Ship Items action, through the sandbox store (fires its webhooks)."""
    lines = {p["sku"]: p for p in sb.store.sub_resources(order_id, "products")}
    first = next(iter(lines.values()))
    return sb.store.create_shipment(order_id, {
        "order_address_id": first["order_address_id"],
        "items": [{"order_product_id": lines[sku]["id"], "quantity": qty}
                  for sku, qty in items.items()],
        "tracking_number": tracking, "tracking_carrier": "ups"})


def api(sb: Sandbox, method: str, path: str, body: Any = None) -> Any:
    """A v3 call to the sandbox store with the token (e.g. GET /v3/hooks)."""
    req = urllib.request.Request(
        f"{sb.base_url}/stores/{STORE_HASH}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"X-Auth-Token": TOKEN, "Accept": "application/json",
                 "Content-Type": "application/json"})
    with _OPENER.open(req, timeout=10) as r:
        text = r.read()
        return json.loads(text) if text else None


def control(sb: Sandbox, path: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(f"{sb.base_url}/_sandbox/{path}", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with _OPENER.open(req, timeout=10) as r:
        r.read()
