"""Distributed mode's settings and its place in the package: no service needed."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine import config as configuration
from engine.distributed.runs import dump, merged
from engine.distributed.settings import settings, shown
from engine.errors import ConfigError, RulesyncError
from engine.sync.summary import Summary
from tests.support.distributed_world import store_entries

PG = "postgresql://u@127.0.0.1:5432/db"


def load(tmp_path: Path, text: str, **env: str) -> configuration.Config:
    path = tmp_path / "rulesync.yaml"
    path.write_text(text)
    return configuration.load(path, environ={"RULESYNC_DATABASE_URL": PG, **env})


def test_single_process_mode_never_imports_celery() -> None:
    code = "import sys, engine.cli.main; print(sorted(m for m in sys.modules if 'celery' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_broker_comes_from_the_environment_over_the_file(tmp_path: Path) -> None:
    config = load(tmp_path, "version: 1\nbroker: {url: 'amqp://a:secret1@h//', "
                            "queue_prefix: eu1, slice_orders: 20}\n")
    found = settings(config)
    assert (found.url, found.orders_queue, found.feed_queue, found.slice_orders) == (
        "amqp://a:secret1@h//", "eu1.orders", "eu1.feed", 20)
    over = load(tmp_path, "version: 1\nbroker: {url: 'amqp://h//'}\n",
                RULESYNC_BROKER_URL="redis://127.0.0.1:6379/0", RULESYNC_QUEUE_PREFIX="t")
    assert (settings(over).url, settings(over).prefix) == ("redis://127.0.0.1:6379/0", "t")


def test_no_broker_or_no_postgresql_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no broker: set RULESYNC_BROKER_URL or broker.url"):
        settings(load(tmp_path, "version: 1\n"))
    with pytest.raises(ConfigError, match="not a broker URL"):
        settings(load(tmp_path, "version: 1\nbroker: {url: 'http://x'}\n"))
    sqlite = configuration.load(None, environ={"RULESYNC_BROKER_URL": "amqp://h//"},
                                state=str(tmp_path / "s.sqlite"))
    with pytest.raises(ConfigError, match="keeps the state in PostgreSQL"):
        settings(sqlite)


def test_an_unknown_broker_key_is_refused_by_the_schema(tmp_path: Path) -> None:
    with pytest.raises(RulesyncError, match="prefetch"):
        load(tmp_path, "version: 1\nbroker: {prefetch: 4}\n")


def test_a_broker_password_is_never_shown() -> None:
    assert shown("amqp://user:pw@host:5672/vh") == "amqp://user@host:5672/vh"
    assert shown("redis://host:6379/0") == "redis://host:6379/0"


def test_summaries_of_a_runs_parts_add_up() -> None:
    first, second = Summary(), Summary()
    first.counts.update(imported=2, skipped=1)
    first.fail(7, "inbound", "boom")
    second.counts.update(imported=1)
    second.actions.append({"order_id": 3})
    second.retries = {"waiting": 1, "due": 0}
    total = merged([dump(first), dump(second)])
    assert (total.counts["imported"], total.counts["skipped"], total.counts["errors"]) == (3, 1, 1)
    assert total.failures == [(7, "inbound", "boom")] and total.actions == [{"order_id": 3}]
    assert total.retries == {"waiting": 1, "due": 0}


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_worker_and_beat_refuse_a_stores_unknown_setting_before_any_connection(
        tmp_path: Path, command: str) -> None:
    """Checked at start like `apply` checks it, with the line: nothing is reachable here, so
    getting the error proves neither the broker nor the database was waited for."""
    stores = store_entries({f"s{n}": "http://127.0.0.1:9" for n in (1, 2)})
    (tmp_path / "rulesync.yaml").write_text(
        f"version: 1\nstores:\n{stores}    settings: {{auto_clos: true}}\n")
    rulesync = str(Path(sys.executable).parent / "rulesync")
    done = subprocess.run([rulesync, command], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "S1_TOKEN": "t",
                                            "S2_TOKEN": "t", "RULESYNC_DATABASE_URL": PG,
                                            "RULESYNC_BROKER_URL": "amqp://g:g@127.0.0.1:9//"})
    assert done.returncode == 1, done.stderr
    assert "rulesync.yaml:11:" in done.stderr and "unknown setting 'auto_clos'" in done.stderr


def test_a_worker_warns_that_a_per_process_quota_is_not_shared(tmp_path: Path) -> None:
    stores = store_entries({"s1": "http://127.0.0.1:9"})
    (tmp_path / "rulesync.yaml").write_text(
        f"version: 1\nstores:\n{stores}    quota: {{backend: process}}\n")
    rulesync = str(Path(sys.executable).parent / "rulesync")
    # Said in its checks, before it finds that the database is not there and stops.
    proc = subprocess.Popen([rulesync, "worker"], cwd=tmp_path, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, env={
                                "PATH": "/usr/bin:/bin", "S1_TOKEN": "t",
                                "RULESYNC_DATABASE_URL": PG,
                                "RULESYNC_BROKER_URL": "amqp://g:g@127.0.0.1:9//"})
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stderr is not None
        seen = next((line for line in proc.stderr if "store.quota" in line), "")
    finally:
        watchdog.cancel()
        proc.kill()
        proc.communicate()  # closes its stderr
    assert "store s1: store.quota.backend: process gives each worker process" in seen, seen
