"""Two `rulesync apply` processes syncing one store at once, sharing its quota through one
PostgreSQL bucket: together they never send more than the store allows, so it never answers
429. The sandbox counts for itself what it refused and the most it let through in one window.

The quota is small and its window short to keep the test quick (30 requests per 3 s; a real
store has 150 or 450 per 30 s), and each process alone would go fast enough that the two
together overrun it.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from connectors.bigcommerce.sandbox import Sandbox
from tests.support import databases
from tests.support.acceptance_world import RULESYNC, STORE_HASH, TOKEN
from tests.support.sandbox_api import SandboxApi

QUOTA, WINDOW_MS = 30, 3000
BOUND = 300.0  # seconds: generous, only reached when something is wrong


def test_two_processes_sharing_one_postgresql_bucket_get_no_429(tmp_path: Path) -> None:
    with databases.fresh_schema() as url, \
            Sandbox(store_hash=STORE_HASH, token=TOKEN, seed_orders=120, seed_shipped=0.3,
                    quota=QUOTA, window_ms=WINDOW_MS, latency_ms=10) as sb:
        config = tmp_path / "rulesync.yaml"
        config.write_text(
            "version: 1\n"
            f"store: {{quota: {{requests: {QUOTA}, window_seconds: {WINDOW_MS / 1000}, "
            f"backend: postgresql, url: '{url}'}}}}\n", encoding="utf-8")
        env = _env(sb)
        runs = [subprocess.Popen([RULESYNC, "--config", str(config), "apply", "--json",
                                  "--state", str(tmp_path / f"{name}.sqlite")],
                                 cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
                for name in ("first", "second")]
        results = [run.communicate(timeout=BOUND) for run in runs]
        for run, (out, err) in zip(runs, results):
            assert run.returncode == 0, f"apply exit {run.returncode}\n{out}\n{err}"
        summaries = [json.loads(out) for out, _ in results]
        api = SandboxApi(sb)
        seen = api.control("GET", "/quota").json()
        calls = sum(api.control("GET", "/calls").json().values())
        api.close()
    assert summaries[0]["imported"] == summaries[1]["imported"] > 0
    assert calls > 2 * QUOTA  # more than two windows' worth: they had to share
    assert seen["refused"] == 0, seen
    # The shared bucket lets out at most capacity + rate x window = 3 + 6.75 x 3 in a window (22
    # measured); two processes each pacing alone reach the quota itself (30 measured), held
    # back only by the Requests-Left the store reports.
    assert seen["most_in_window"] <= QUOTA - 4


def _env(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
    env.update({"BIGCOMMERCE_API_URL": sb.base_url, "BIGCOMMERCE_STORE_HASH": STORE_HASH,
                "BIGCOMMERCE_ACCESS_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost"})
    return env
