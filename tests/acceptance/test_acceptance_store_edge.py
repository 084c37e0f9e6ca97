"""The store-facing edge through the real `rulesync` command: messages that say what to fix,
retries and waits that are logged, rate-limit headers that cannot hang a run.

The store is the real sandbox; where it cannot misbehave the way a test needs, the misbehaving
proxy of tests/support/store_proxy.py stands in front of it.
"""
from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.acceptance_world import RULESYNC, TOKEN, World, order_body
from tests.support.store_proxy import StoreProxy

BOUND = 60.0  # seconds: a generous bound for a run that must not hang
FAST = "version: 1\nstore:\n  retry_floor_seconds: 0.05\n"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rulesync(w: World, *args: str, cwd: Path | None = None, **env: str
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RULESYNC, *args], cwd=cwd or w.dir, env=w.env(**env),
                          capture_output=True, text=True, timeout=BOUND)


def error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def test_an_unreachable_store_fails_within_seconds_with_each_retry_logged(world: World) -> None:
    port = closed_port()
    r = rulesync(world, "apply", "--state", str(world.state),
                 BIGCOMMERCE_API_URL=f"http://127.0.0.1:{port}")
    assert error_line(r) == (f"error: BigCommerce GET /v2/time: cannot reach "
                             f"http://127.0.0.1:{port} (connection refused)")
    retries = [line for line in r.stderr.splitlines() if "retry" in line]
    assert len(retries) == 2, r.stderr
    for n, line in enumerate(retries, 1):
        assert re.search(rf"GET /v2/time: cannot reach http://127\.0\.0\.1:{port} \(connection "
                         rf"refused\); retry {n} of 2 in \d+\.\d s$", line), line


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "api.bigcommerce.com",
                                 "ftp://merchant:hunter2-pw@127.0.0.1:21", "https://"])
def test_an_api_url_without_http_is_a_configuration_error_before_any_request(
        world: World, url: str) -> None:
    r = rulesync(world, "apply", "--state", str(world.state), BIGCOMMERCE_API_URL=url)
    line = error_line(r)
    assert "BIGCOMMERCE_API_URL / store.api_url" in line and "must start with https://" in line
    assert "hunter2-pw" not in r.stdout + r.stderr
    assert world.sb.api_calls() == {}
    assert not world.state.exists()


def test_a_wrong_token_says_which_variable_to_check(world: World) -> None:
    r = rulesync(world, "apply", "--state", str(world.state),
                 BIGCOMMERCE_ACCESS_TOKEN="not-the-token-1234")
    assert error_line(r).startswith(
        "error: BigCommerce GET /v2/time: 401 from the store: check BIGCOMMERCE_ACCESS_TOKEN")
    assert "not-the-token-1234" not in r.stderr + r.stdout


def test_a_wrong_token_names_the_configured_variable(world: World) -> None:
    config = world.dir / "rulesync.yaml"
    config.write_text("version: 1\nstore:\n  token_env: SHOP_TOKEN\n", encoding="utf-8")
    r = rulesync(world, "--config", str(config), "apply", "--state", str(world.state),
                 SHOP_TOKEN="wrong-shop-token-99")
    assert "401 from the store: check SHOP_TOKEN" in error_line(r)
    assert "wrong-shop-token-99" not in r.stderr + r.stdout


def test_the_placeholder_store_hash_says_which_setting_to_fix(world: World) -> None:
    r = rulesync(world, "plan", "--state", str(world.state),
                 BIGCOMMERCE_STORE_HASH="your-store-hash")
    assert ("404: no store with hash 'your-store-hash' (BIGCOMMERCE_STORE_HASH / "
            "store.store_hash)") in error_line(r)


def test_each_retry_is_one_line_and_the_run_then_succeeds(world: World) -> None:
    oid = world.create(order_body(11))
    world.tick()
    config = world.dir / "fast.yaml"
    config.write_text(FAST, encoding="utf-8")
    with StoreProxy(world.sb.base_url) as proxy:
        proxy.on("GET /v2/orders", status=503, json_body=[{"status": 503}], times=2)
        r = rulesync(world, "--config", str(config), "apply", "--state", str(world.state),
                     BIGCOMMERCE_API_URL=proxy.base_url)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if "retry" in line]
    assert len(lines) == 2, r.stderr
    for n, line in enumerate(lines, 1):
        assert re.search(rf"GET /v2/orders: HTTP 503; retry {n} of 5 in \d+\.\d s$", line), line
    assert world.ledger_get(oid)["state"]["paid"] is True


@pytest.mark.parametrize("headers", [
    {"X-Rate-Limit-Time-Reset-Ms": "-5000"},
    {"X-Retry-After": "nan"},
    {"X-Rate-Limit-Time-Reset-Ms": "inf", "X-Retry-After": "-1"},
    {"X-Rate-Limit-Time-Reset-Ms": "abc"},
], ids=["negative", "nan", "inf", "word"])
def test_a_429_with_unusable_headers_is_retried_after_a_short_wait(
        world: World, headers: dict[str, str]) -> None:
    oid = world.create(order_body(7))
    world.tick()
    with StoreProxy(world.sb.base_url) as proxy:
        proxy.on("GET /v2/orders", status=429, json_body=[{"status": 429}], headers=headers,
                 times=1)
        r = rulesync(world, "apply", "--state", str(world.state),
                     BIGCOMMERCE_API_URL=proxy.base_url)
    assert r.returncode == 0, r.stderr
    assert re.search(r"GET /v2/orders: HTTP 429 \(rate limited\); retry 1 of 5 in (0\.\d|1\.0) s",
                     r.stderr), r.stderr
    assert world.ledger_get(oid) is not None


@pytest.mark.parametrize("reset", ["nan", "-1", "", "2000"])
def test_a_200_with_no_requests_left_waits_at_most_the_window(world: World, reset: str) -> None:
    oid = world.create(order_body(7))
    world.tick()
    with StoreProxy(world.sb.base_url) as proxy:
        proxy.on("GET /v2/time", forward=True, times=1, headers={
            "X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": reset})
        r = rulesync(world, "apply", "--state", str(world.state),
                     BIGCOMMERCE_API_URL=proxy.base_url)
    assert r.returncode == 0, r.stderr
    wait = "2.0" if reset == "2000" else "1.0"
    assert (f"GET /v2/orders: the store's rate limit is used up (X-Rate-Limit-Requests-Left: 0);"
            f" waiting {wait} s") in r.stderr, r.stderr
    assert world.ledger_get(oid) is not None
    assert TOKEN not in r.stderr


@pytest.mark.parametrize("window_ms,config,wait,limit", [
    ("3600000", None, "3601 s", "30 s limit"),
    ("1e12", None, "3601 s", "30 s limit"),
    ("5000", "version: 1\nstore:\n  max_wait_seconds: 5\n", "6 s", "5 s limit"),
], ids=["an-hour", "1e12", "over-a-configured-cap"])
def test_a_quota_that_would_pace_requests_past_the_cap_stops_the_run_quoting_it(
        world: World, tmp_path: Path, window_ms: str, config: str | None, wait: str,
        limit: str) -> None:
    """Every reply says 2 requests per `window_ms`: the bucket would let one request out per
    window. Not a sleep of an hour: the next request is not sent, and the error quotes the
    headers and the reply that carried them."""
    oid = world.create(order_body(7))
    world.tick()
    args = ["apply", "--state", str(world.state)]
    if config is not None:
        (tmp_path / "rulesync.yaml").write_text(config, encoding="utf-8")
        args = ["--config", str(tmp_path / "rulesync.yaml"), *args]
    with StoreProxy(world.sb.base_url) as proxy:
        for endpoint in ("GET /v2/time", "GET /v2/orders", "GET /v2/order_statuses"):
            proxy.on(endpoint, forward=True, headers={
                "X-Rate-Limit-Requests-Quota": "2", "X-Rate-Limit-Time-Window-Ms": window_ms})
        r = rulesync(world, *args, BIGCOMMERCE_API_URL=proxy.base_url)
        assert proxy.hits == [("GET", "/stores/sandbox/v2/time")]
    assert error_line(r) == (
        f"error: BigCommerce GET /v2/orders: not sent: the store asks to wait {wait} "
        f"(X-Rate-Limit-Requests-Quota: 2, X-Rate-Limit-Time-Window-Ms: {window_ms} in its "
        f"reply to GET /v2/time), more than the {limit} (store.max_wait_seconds in "
        "rulesync.yaml)")
    assert "waits" not in r.stderr  # no wait for the quota was even begun
    assert world.ledger_get(oid) is None
