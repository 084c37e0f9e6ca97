"""The access token, the webhook secret and a password in the API URL never appear in log lines
(text or `--log-format json`), in error lines, in /healthz or in the state file: on runs that
succeed and on runs that fail (401, timeouts, a wrong scheme, a store that echoes them back).

Every run here logs at DEBUG, so the most there is to print is printed. The store is the real
sandbox (with a token of its own), behind the misbehaving proxy where a run needs it to fail.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from tests.support.acceptance_world import RULESYNC, T0, order_body
from tests.support.store_proxy import StoreProxy

ACCESS_TOKEN = "tok-Zq81-access-5e2f"
WEBHOOK_SECRET = "whsec-Ka7x-0d9c3b1e77f2"
URL_PASSWORD = "pw-Lm4s-9f0e"
WRONG_TOKEN = "tok-wrong-7c1d-aa90"
SECRETS = (ACCESS_TOKEN, WEBHOOK_SECRET, URL_PASSWORD, WRONG_TOKEN)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Shop:
    """A sandbox with its own token, a state file, and the real command pointed at both."""

    def __init__(self, workdir: Path, sb: Sandbox, ids: list[int]) -> None:
        self.dir, self.sb, self.ids = workdir, sb, ids
        self.state = workdir / "state.sqlite"
        self.outputs: list[str] = []

    def url(self, base: str | None = None) -> str:
        """The API URL with a user name and password in it."""
        return (base or self.sb.base_url).replace("http://", f"http://merchant:{URL_PASSWORD}@")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RULESYNC_", "BIGCOMMERCE_"))}
        env.update({"BIGCOMMERCE_API_URL": self.url(), "BIGCOMMERCE_STORE_HASH": "sandbox",
                    "BIGCOMMERCE_ACCESS_TOKEN": ACCESS_TOKEN,
                    "RULESYNC_WEBHOOK_SECRET": WEBHOOK_SECRET, "RULESYNC_LOG_LEVEL": "DEBUG",
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
        env.update(extra)
        return env

    def run(self, fmt: str, *args: str, config: str = "", **extra: str
            ) -> subprocess.CompletedProcess[str]:
        head = ["--log-format", fmt]
        if config:
            (self.dir / "rulesync.yaml").write_text(config, encoding="utf-8")
            head += ["--config", str(self.dir / "rulesync.yaml")]
        r = subprocess.run([RULESYNC, *head, *args], cwd=self.dir, env=self.env(**extra),
                           capture_output=True, text=True, timeout=120)
        self.outputs.append(r.stdout + r.stderr)
        if fmt == "json":  # every stderr line is one JSON object, the final error line too
            for line in r.stderr.splitlines():
                assert isinstance(json.loads(line), dict), line
        return r

    def apply(self, fmt: str, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run(fmt, "apply", "--json", "--state", str(self.state), *args, **kw)

    def state_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in sorted(self.dir.glob("state.sqlite*")))

    def assert_no_secret(self) -> None:
        text = "\n".join(self.outputs)
        data = self.state_bytes()
        for secret in SECRETS:
            assert secret not in text, f"{secret} printed:\n{text}"
            assert secret.encode() not in data, f"{secret} in the state file"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with Sandbox(port=0, store_hash="sandbox", token=ACCESS_TOKEN,
                 clock=FrozenClock(T0)) as sb:
        ids = [int(sb.store.create_order(order_body(status))["id"]) for status in (7, 11, 9)]
        yield Shop(tmp_path, sb, ids)


FORMATS = pytest.mark.parametrize("fmt", ["text", "json"])


@FORMATS
def test_a_run_that_succeeds_after_a_retry_shows_no_secret(shop: Shop, fmt: str) -> None:
    with StoreProxy(shop.sb.base_url) as proxy:
        proxy.on("GET /v2/orders", status=503, json_body=[{"status": 503}], times=1)
        r = shop.apply(fmt, config="version: 1\nstore:\n  retry_floor_seconds: 0.05\n",
                       BIGCOMMERCE_API_URL=shop.url(proxy.base_url))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["imported"] == 3
    assert "HTTP 503; retry 1 of 5" in r.stderr and "DEBUG" in r.stderr  # there were log lines
    shop.assert_no_secret()


@FORMATS
def test_a_wrong_token_401_shows_neither_token(shop: Shop, fmt: str) -> None:
    r = shop.apply(fmt, BIGCOMMERCE_ACCESS_TOKEN=WRONG_TOKEN)
    assert r.returncode == 1
    assert "401 from the store: check BIGCOMMERCE_ACCESS_TOKEN" in r.stderr
    shop.assert_no_secret()


@FORMATS
def test_a_timeout_shows_no_secret(shop: Shop, fmt: str) -> None:
    config = "version: 1\nstore:\n  retry_floor_seconds: 0.05\n  timeout_seconds: 0.5\n"
    with StoreProxy(shop.sb.base_url) as proxy:
        proxy.on("GET /v2/time", stall=3.0)
        r = shop.apply(fmt, config=config, BIGCOMMERCE_API_URL=shop.url(proxy.base_url))
    assert r.returncode == 1, r.stderr
    assert re.search(r"no answer from http://127\.0\.0\.1:\d+ within 0\.5 s", r.stderr), r.stderr
    shop.assert_no_secret()


@FORMATS
def test_a_wrong_scheme_shows_no_password(shop: Shop, fmt: str) -> None:
    r = shop.apply(fmt, BIGCOMMERCE_API_URL=f"ftp://merchant:{URL_PASSWORD}@127.0.0.1:21/")
    assert r.returncode == 1
    assert "ftp://***@127.0.0.1:21/" in r.stderr and "must start with https://" in r.stderr
    shop.assert_no_secret()


@FORMATS
def test_a_store_echoing_every_secret_in_an_error_body_has_them_redacted(
        shop: Shop, fmt: str) -> None:
    assert shop.apply(fmt).returncode == 0
    paid = shop.run(fmt, "orders", "pay", str(shop.ids[0]), "--state", str(shop.state))
    assert paid.returncode == 0, paid.stderr
    echo = (f"token {ACCESS_TOKEN} rejected, secret {WEBHOOK_SECRET}, password {URL_PASSWORD}, "
            f"from http://merchant:{URL_PASSWORD}@somewhere/x")
    with StoreProxy(shop.sb.base_url) as proxy:
        proxy.on("PUT /v2/orders/{id}", status=422, json_body=[{"status": 422, "message": echo}])
        r = shop.apply(fmt, "--set", "push_order_info=true",
                       BIGCOMMERCE_API_URL=shop.url(proxy.base_url))
    assert r.returncode == 1, r.stderr
    summary = json.loads(r.stdout)
    assert summary["errors"] == 1 and "HTTP 422" in summary["problems"][0]
    assert "token *** rejected, secret ***, password ***" in summary["problems"][0]
    outcomes = shop.state_bytes()
    assert b"token *** rejected" in outcomes  # the failed push's outcome, kept in the state
    shop.assert_no_secret()


def test_serve_logs_and_health_show_no_secret(shop: Shop) -> None:
    # a hook whose destination carries a password: /healthz and the state show the hooks
    shop.sb.store.hooks().create({"scope": "store/order/statusUpdated", "is_active": True,
                                  "destination": f"https://hook:{URL_PASSWORD}@example.com/h",
                                  "headers": {"X-Rulesync-Secret": WEBHOOK_SECRET}})
    proc = subprocess.Popen(
        [RULESYNC, "--log-format", "json", "serve", "--port", "0", "--state", str(shop.state)],
        cwd=shop.dir, env=shop.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        with proc.stderr:
            lines.extend(proc.stderr)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        port = wait_for_port(lines, proc)
        base = f"http://127.0.0.1:{port}"
        # an authenticated delivery whose scope carries every secret: logged as ignored
        hostile = {"scope": f"store/{ACCESS_TOKEN}/{WEBHOOK_SECRET}/{URL_PASSWORD}",
                   "hash": "h1", "data": {"id": 1}}
        assert post(base, hostile, WEBHOOK_SECRET) == 200
        assert post(base, hostile, WRONG_TOKEN) == 401
        deadline = time.monotonic() + 60
        while True:  # the full view, once the worker has read the store's hooks
            req = urllib.request.Request(f"{base}/healthz",
                                         headers={"X-Rulesync-Secret": WEBHOOK_SECRET})
            with _OPENER.open(req, timeout=10) as resp:
                health = resp.read().decode()
            if json.loads(health)["hooks"]:
                break
            assert time.monotonic() < deadline, health
            time.sleep(0.05)
        assert "https://***@example.com/h" in health
        shop.outputs.append(health)
        deadline = time.monotonic() + 30
        while not any("is not one rulesync handles" in line for line in lines):
            assert time.monotonic() < deadline, "serve never logged the ignored delivery"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(20)
        reader.join(5)
    shop.outputs.append("".join(lines))
    assert any("store/***/***/***" in line for line in lines), lines
    shop.assert_no_secret()


def wait_for_port(lines: list[str], proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in list(lines):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                return int(m.group(1))
        assert proc.poll() is None, "".join(lines)
        time.sleep(0.05)
    raise AssertionError(f"serve did not start: {''.join(lines)}")


def post(base: str, payload: dict[str, Any], secret: str) -> int:
    req = urllib.request.Request(f"{base}/webhooks", data=json.dumps(payload).encode(),
                                 method="POST", headers={"Content-Type": "application/json",
                                                         "X-Rulesync-Secret": secret})
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        with e:
            return int(e.code)


def test_redaction_keeps_the_words_of_a_message(shop: Shop) -> None:
    """The words "token", "secret" and what follows them in a message are not secrets."""
    r = shop.apply("text", BIGCOMMERCE_ACCESS_TOKEN="")
    assert "error: no store access token: set the environment variable " \
           "BIGCOMMERCE_ACCESS_TOKEN" in r.stderr, r.stderr
    r = shop.apply("text", config="version: 1\nstore:\n  token: abc\n")
    assert re.search(r"rulesync\.yaml:3:3: .*unknown key 'token'", r.stderr), r.stderr
    assert "***" not in r.stderr
