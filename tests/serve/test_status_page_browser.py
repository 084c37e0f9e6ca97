"""The status page of `rulesync serve` in a real browser: headless Chromium through Selenium,
against the real command and a real sandbox store.

The store misbehaves about two orders (tests/support/misbehaving_store.py: their status arrives
as a string), so serve's start-up sync puts both in the retry set. The test signs in, finds the
first on the page, heals the store, presses Retry and sees the order synced; then shows that the
page refuses a visitor without credentials and a cross-site POST, whatever it carries.
"""
from __future__ import annotations

import os
import re
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from tests.support import browser
from tests.support.misbehaving_store import MisbehavingStore, status_as_string
from tests.support.serve_world import PAID, T0, Serve, order_body, sandbox, wait_for, wait_state
from tests.support.web_page import web_page

ADMIN = "admin-token-for-tests-0123456789"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # show the 303 itself


_RAW = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


@pytest.fixture(scope="module", autouse=True)
def needs_browser() -> None:
    why = browser.missing()
    if why and os.environ.get("CI"):
        pytest.fail(f"the browser tests must run in CI: {why}")
    if why:
        pytest.skip(why)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Sandbox, MisbehavingStore, Serve, list[int]]]:
    clock = FrozenClock(T0)
    with sandbox(clock=clock) as sb:
        orders = [int(sb.store.create_order(order_body(11))["id"]) for _ in range(3)]
        store = MisbehavingStore(sb)
        for broken in orders[:2]:
            store.rewrite(broken, status_as_string)
        clock.advance(2)  # the orders are in a closed second: serve's first poll reads them
        serve = Serve(sb, tmp_path, tmp_path / "state.sqlite",
                      extra_env={"RULESYNC_ADMIN_TOKEN": ADMIN})
        try:
            serve.start()
            wait_for("two orders in the retry set", lambda: len(retry_set(serve.state)) == 2)
            yield sb, store, serve, orders
        finally:
            serve.stop()
            store.restore()


def retry_set(state: Path) -> list[int]:
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)
    try:
        return [r[0] for r in conn.execute("SELECT order_id FROM sync_retries ORDER BY order_id")]
    finally:
        conn.close()


def postpone(state: Path) -> None:
    """Every order in the retry set waits a day more, as after many failed attempts."""
    conn = sqlite3.connect(state, timeout=10)
    with conn:
        conn.execute("UPDATE sync_retries SET next_attempt_at = next_attempt_at + 86400")
    conn.close()


def request(url: str, *, data: bytes | None = None, **headers: str) -> tuple[int, Any, str]:
    req = urllib.request.Request(url, data=data, headers=headers,
                                 method="POST" if data is not None else "GET")
    try:
        with _RAW.open(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read().decode()


def shown(driver: Any, by: str, value: str) -> Any:
    """The element once the page that has it is there (a click may return before the next page
    has loaded)."""
    return wait_for(f"{value} on the page", lambda: driver.find_elements(by, value))[0]


def sign_in(driver: Any, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    assert "/login" in driver.current_url  # no session: sent to the sign-in form
    driver.find_element(By.ID, "token").send_keys("not-the-token")
    driver.find_element(By.ID, "sign-in").click()
    assert "wrong admin token" in shown(driver, By.ID, "login-error").text
    driver.find_element(By.ID, "token").send_keys(ADMIN)
    driver.find_element(By.ID, "sign-in").click()
    wait_for("the status page after signing in",
             lambda: driver.find_elements(By.ID, "retry-counts"))


def test_sign_in_find_the_failed_order_retry_it_after_the_store_recovers(world: Any) -> None:
    from selenium.webdriver.common.by import By

    sb, store, serve, (broken, still_broken, fine) = world
    base = f"http://127.0.0.1:{serve.port}"
    wait_state(serve.state, fine, PAID)
    with browser.chromium() as driver:
        sign_in(driver, base)
        cookie = driver.get_cookie("rulesync_session")
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"

        assert "2 order(s)" in driver.find_element(By.ID, "retry-counts").text
        row = driver.find_element(By.ID, f"retry-{broken}-inbound")
        assert "unknown status id '11'" in row.text and "1" in row.text.split()

        row.find_element(By.LINK_TEXT, str(broken)).click()  # its explain view
        assert "Not in the ledger." in shown(driver, By.ID, "ledger-state").text
        assert driver.find_element(By.TAG_NAME, "h2").text.startswith(f"Order {broken}")
        driver.back()

        store.heal()  # the store recovers; its order data never changed
        postpone(serve.state)  # no retry by backoff during the test: only the button can do it
        shown(driver, By.ID, f"retry-{broken}-inbound").find_element(
            By.XPATH, ".//button[text()='Retry']").click()
        notice = wait_for("the outcome of Retry", lambda: driver.find_elements(By.ID, "notice"))
        # The page waits a few seconds for the worker's attempt; on a very busy machine it may
        # answer first that the order is due, and the attempt shows on a later look.
        assert notice[0].text in (
            f"order {broken} went through: it is no longer in the retry set",
            f"order {broken} is due now: the worker retries it at its next turn")
        wait_for("the order to leave the retry set on the page", lambda: not (
            driver.refresh() or driver.find_elements(By.ID, f"retry-{broken}-inbound")))
        assert "1 order(s)" in driver.find_element(By.ID, "retry-counts").text
        wait_state(serve.state, broken, PAID)

        driver.get(f"{base}/orders/{broken}")
        assert "paid yes" in shown(driver, By.ID, "ledger-state").text
        assert "awaiting-fulfillment" in driver.find_element(By.ID, "decisions").find_element(
            By.XPATH, "following-sibling::table").text
        assert "paid store" in driver.find_element(By.ID, "history-table").text
    assert retry_set(serve.state) == [still_broken]


def test_without_credentials_the_page_is_refused(world: Any) -> None:
    _, _, serve, (broken, _, _) = world
    base = f"http://127.0.0.1:{serve.port}"
    for path in ("/", f"/orders/{broken}", "/?after=0:1:inbound"):
        status, headers, _ = request(base + path)
        assert status == 303 and headers["Location"].startswith("/login?next="), (path, status)
    status, headers, body = request(base + "/", Authorization="Bearer wrong-token-0123456789")
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="rulesync"'
    status, _, body = request(base + "/", Authorization=f"Bearer {ADMIN}")
    assert status == 200 and f'id="retry-{broken}-inbound"' in body
    status, _, _ = request(f"{base}/orders/{broken}/forget", data=b"")
    assert status == 303
    assert broken in retry_set(serve.state)


def test_a_cross_site_post_is_refused(world: Any) -> None:
    from selenium.webdriver.common.by import By

    _, _, serve, (broken, _, _) = world
    base = f"http://127.0.0.1:{serve.port}"
    forget = f"{base}/orders/{broken}/forget"
    # Another site, with a form that posts to the status page.
    prize = (f'<form method="post" action="{forget}"><input name="csrf" value="x">'
             '<button id="go">Win a prize</button></form>')
    with web_page(prize) as port, browser.chromium() as driver:
        sign_in(driver, base)
        csrf = driver.find_element(By.NAME, "csrf").get_attribute("value")
        session = driver.get_cookie("rulesync_session")["value"]

        # the signed-in browser on another site (localhost is not 127.0.0.1's site)
        driver.get(f"http://localhost:{port}/")
        shown(driver, By.ID, "go").click()
        wait_for("the refused cross-site post to land",
                 lambda: driver.current_url != f"http://localhost:{port}/")
        assert broken in retry_set(serve.state)

        # the session cookie and the right CSRF token still cannot come from another site
        cookie, form = f"rulesync_session={session}", f"csrf={csrf}".encode()
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
            status, _, body = request(forget, data=form, Cookie=cookie, **headers)
            assert (status, body.split(":")[0]) == (403, "refused"), headers
        for wrong in (b"csrf=not-the-token", b""):
            status, _, body = request(forget, data=wrong, Cookie=cookie,
                                      Origin=base, **{"Sec-Fetch-Site": "same-origin"})
            assert (status, body) == (403, "refused: missing or wrong CSRF token")
        assert broken in retry_set(serve.state)

        # from the page itself, Forget works
        driver.get(base + "/")
        shown(driver, By.ID, f"retry-{broken}-inbound").find_element(
            By.XPATH, ".//button[text()='Forget']").click()
        notice = wait_for("the outcome of Forget",
                          lambda: driver.find_elements(By.ID, "notice"))
        assert re.match(rf"order {broken} forgotten: no longer retried", notice[0].text)
    assert broken not in retry_set(serve.state)
