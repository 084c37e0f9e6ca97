"""Distributed-mode harness: real sandbox stores, real `rulesync worker` processes, the real
RabbitMQ broker named by RULESYNC_TEST_BROKER_URL and a fresh PostgreSQL schema.

Each test gets its own queue-name prefix (`broker.queue_prefix`), so tests running at once on
one broker never take each other's tasks; its queues are deleted afterwards. Without the
variable the tests skip with one line; with it and no broker reachable they fail.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.ledger import Ledger
from engine.conformance.databases import rows
from tests.support import databases
from tests.support.acceptance_world import RULESYNC

BROKER_ENV = "RULESYNC_TEST_BROKER_URL"


def broker_url() -> str:
    url = os.environ.get(BROKER_ENV, "")
    if not url:
        pytest.skip(f"{BROKER_ENV} is not set: no RabbitMQ broker to test against")
    databases.server_url()  # distributed mode keeps its state in PostgreSQL
    return url


def delete_queues(url: str, prefix: str) -> None:
    from kombu import Connection

    with Connection(url, connect_timeout=5) as conn:
        channel = conn.default_channel
        for name in (f"{prefix}.orders", f"{prefix}.feed"):
            try:
                channel.queue_delete(name)
            except Exception:  # noqa: BLE001 - never declared: nothing to delete
                channel = conn.channel()



def store_entries(urls: dict[str, str]) -> str:
    """rulesync.yaml's `stores:` entries: each name with store hash hash-NAME, its API URL and
    its token in the variable NAME_TOKEN (upper case)."""
    return "".join(f"  - name: {n}\n    store_hash: hash-{n}\n    api_url: {url}\n"
                   f"    token_env: {n.upper()}_TOKEN\n" for n, url in urls.items())


class Cluster:
    """Stores (sandboxes), one rulesync.yaml naming them and the broker, workers started on it."""

    def __init__(self, folder: Path, names: tuple[str, ...], stack: ExitStack,
                 **sandbox: Any) -> None:
        self.folder, self.names, self.stack = folder, names, stack
        self.broker = broker_url()
        self.prefix = f"rulesync_test_{uuid.uuid4().hex[:12]}"
        self.state = stack.enter_context(databases.fresh_schema())
        self.sandboxes = {n: Sandbox(port=0, store_hash=f"hash-{n}", token=f"token-{n}",
                                     **sandbox) for n in names}
        for sb in self.sandboxes.values():
            sb.start()
            stack.callback(sb.stop)
        stack.callback(delete_queues, self.broker, self.prefix)
        self.workers: list[subprocess.Popen[str]] = []
        stack.callback(self.stop_workers)
        self.write_config()

    def write_config(self, extra: str = "") -> None:
        entries = store_entries({n: sb.base_url for n, sb in self.sandboxes.items()})
        (self.folder / "rulesync.yaml").write_text(
            f"version: 1\nsettings: {{push_order_info: true}}\n"
            f"broker: {{queue_prefix: {self.prefix}{extra}}}\nstores:\n{entries}")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
        env.update({f"{n.upper()}_TOKEN": f"token-{n}" for n in self.names})
        env.update({"RULESYNC_BROKER_URL": self.broker, "RULESYNC_DATABASE_URL": self.state,
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 600, **env: str
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([RULESYNC, *args], cwd=self.folder, env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout)

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen[str]:
        log = open(self.folder / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115
        self.stack.callback(log.close)
        proc = subprocess.Popen([RULESYNC, "worker", *args], cwd=self.folder,
                                env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
                                text=True)
        self.workers.append(proc)
        return proc

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)

    def worker_logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.folder.glob("worker-*.log")))

    def apply_queue(self, *args: str, expect_rc: int = 0) -> dict[str, Any]:
        r = self.run("apply", "--queue", "--json", *args)
        assert r.returncode == expect_rc, f"{r.returncode}\n{r.stdout}\n{r.stderr}\n" \
                                          f"{self.worker_logs()[-5000:]}"
        return dict(json.loads(r.stdout))

    def plan(self, store: str) -> dict[str, Any]:
        r = self.run("plan", "--store", store, "--json")
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout)["stores"][store])

    def plans(self) -> dict[str, Any]:
        """Every store's plan, from one `rulesync plan` (one private copy of the state)."""
        r = self.run("plan", "--json")
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout)["stores"])

    def ledger(self, store: str) -> dict[int, dict[str, Any]]:
        with Ledger(self.state, store) as ledger:
            return {o.order_id: o.state() for o in ledger.list_orders(limit=100000)}

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return rows(self.state, sql, params)


SECRET = "s3cret-for-tests-0123456789"


class Served:
    """`rulesync serve --queue` in a subprocess, its stderr kept."""

    def __init__(self, cluster: Cluster, *args: str, **env: str) -> None:
        import re
        import threading
        import time

        self.proc = subprocess.Popen(
            [RULESYNC, "serve", "--queue", "--port", "0", *args], cwd=cluster.folder,
            env=cluster.env(RULESYNC_WEBHOOK_SECRET=SECRET, **env), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        cluster.stack.callback(self.stop)
        self.lines: list[str] = []
        listening = threading.Event()
        self.port = 0

        def read(stream: Any) -> None:
            with stream:
                for line in stream:
                    self.lines.append(line)
                    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/webhooks", line)
                    if m:
                        self.port = int(m.group(1))
                        listening.set()

        threading.Thread(target=read, args=(self.proc.stderr,), daemon=True).start()
        deadline = time.monotonic() + 60
        while not listening.wait(0.05):
            assert self.proc.poll() is None and time.monotonic() < deadline, "".join(self.lines)

    def post(self, payload: dict[str, Any]) -> int:
        import urllib.request

        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/webhooks", data=json.dumps(payload).encode(),
            method="POST", headers={"Content-Type": "application/json",
                                    "X-Rulesync-Secret": SECRET})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as r:
            return int(r.status)

    def health(self) -> dict[str, Any]:
        import urllib.request

        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/healthz",
                                     headers={"X-Rulesync-Secret": SECRET})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as r:
            return dict(json.loads(r.read()))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(what: str, probe: Any, timeout: float = 120.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
