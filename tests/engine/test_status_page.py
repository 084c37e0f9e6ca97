"""The status page as a WSGI application over a real state file: sign-in, sessions, the checks
on every POST, paging through the retry set, escaping. (The browser test drives the same page
through `rulesync serve` and Chromium; these run without either.)"""
from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from engine import config as configuration
from engine.errors import ConfigError
from engine.serve import status_data, status_page
from engine.serve.status_auth import Sessions, admin_token
from engine.serve.status_data import parse_cursor, retry_page
from engine.serve.status_page import StatusPage, local_target
from engine.storage.retries import RetrySet
from engine.storage.state import SqlState

TOKEN = "admin-token-for-tests-0123456789"
HOST = "127.0.0.1:8080"


@pytest.fixture
def state(tmp_path: Path) -> Iterator[SqlState]:
    s = SqlState(tmp_path / "state.sqlite")
    yield s
    s.close()


def fill(state: SqlState, orders: range, reason: str = "broken") -> None:
    retries = RetrySet(state)
    for i in orders:  # next attempts spread out, two orders per second, some in both directions
        retries.failed(i, "inbound", f"{reason} {i}", "2026-01-01T00:00:00+00:00", 1000 + i // 2)
        if i % 7 == 0:
            retries.failed(i, "outbound", reason, "2026-01-01T00:00:00+00:00", 1000 + i // 2)


def app(state: SqlState, token: str | None = TOKEN, **health_now: Any) -> StatusPage:
    config = configuration.load(state=state.location, environ={"BIGCOMMERCE_STORE_HASH": "abc123"})

    def health(store: str | None = None) -> dict[str, Any]:  # what App.health reports
        counts = RetrySet(state).counts(time.time())
        return {"status": "ok", "queue_depth": 0, "queue_age_seconds": 0,
                "failing_orders": counts["waiting"], "retries_due": counts["due"],
                "dead_deliveries": 0, "worker_error": None, "last_sync": None, "hooks": None,
                "last_received": {}, **health_now}

    return StatusPage(config, token, lambda store=None: state, health)


def call(page: StatusPage, method: str, path: str, *, form: dict[str, str] | None = None,
         query: str = "", **headers: str) -> tuple[str, dict[str, str], str]:
    body = urlencode(form or {}).encode()
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path,
                               "QUERY_STRING": query, "HTTP_HOST": HOST,
                               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
                               "wsgi.url_scheme": "http"}
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=dict(headers))

    out = b"".join(page(environ, start)).decode()
    return seen["status"], seen["headers"], out


def signed_in(page: StatusPage) -> tuple[str, str]:
    """(cookie header, CSRF token) of a fresh session, through the login form."""
    status, headers, _ = call(page, "POST", "/login", form={"token": TOKEN, "next": "/"},
                              origin=f"http://{HOST}")
    assert status == "303 See Other" and headers["Location"] == "/"
    cookie = headers["Set-Cookie"].split(";")[0]
    _, _, html = call(page, "GET", "/", cookie=cookie)
    csrf = html.split('name="csrf" value="')[1].split('"')[0]
    return cookie, csrf


def test_the_page_is_off_without_an_admin_token(state: SqlState) -> None:
    status, _, body = call(app(state, None), "GET", "/", authorization=f"Bearer {TOKEN}")
    assert status == "404 Not Found" and "RULESYNC_ADMIN_TOKEN" in body
    assert admin_token({}) is None and admin_token({"RULESYNC_ADMIN_TOKEN": " "}) is None
    with pytest.raises(ConfigError, match="16 characters or more"):
        admin_token({"RULESYNC_ADMIN_TOKEN": "short"})


def test_sign_in_sets_a_strict_http_only_session_cookie(state: SqlState) -> None:
    page = app(state)
    assert call(page, "GET", "/")[1]["Location"] == "/login?next=%2F"
    status, _, body = call(page, "POST", "/login", form={"token": "wrong", "next": "/"})
    assert status == "401 Unauthorized" and "wrong admin token" in body
    status, headers, _ = call(page, "POST", "/login", form={"token": TOKEN, "next": "//evil.com"})
    assert headers["Location"] == "/"  # never off to another site
    assert headers["Set-Cookie"].endswith("; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict")
    https = call(page, "POST", "/login", form={"token": TOKEN}, x_forwarded_proto="https")
    assert https[1]["Set-Cookie"].endswith("; Secure")
    cookie = headers["Set-Cookie"].split(";")[0]
    status, headers, body = call(page, "GET", "/", cookie=cookie)
    assert status == "200 OK" and "No order waits for a retry." in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "<script" not in body


def test_signing_out_ends_the_session(state: SqlState) -> None:
    page = app(state)
    cookie, csrf = signed_in(page)
    status, headers, _ = call(page, "POST", "/logout", form={"csrf": csrf}, cookie=cookie)
    assert (status, headers["Location"]) == ("303 See Other", "/login")
    assert "Max-Age=0" in headers["Set-Cookie"]
    assert call(page, "GET", "/", cookie=cookie)[0] == "303 See Other"


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"}, {"origin": "null"}, {"sec_fetch_site": "cross-site"},
    {"sec_fetch_site": "same-site"}, {"sec_fetch_site": "same-origin", "csrf": "wrong"},
    {"csrf": ""}], ids=["origin", "null-origin", "cross-site", "same-site", "wrong-csrf",
                        "no-csrf"])
def test_a_post_from_elsewhere_changes_nothing(state: SqlState, headers: dict[str, str]
                                               ) -> None:
    fill(state, range(1, 3))
    page = app(state)
    cookie, csrf = signed_in(page)
    form = {"csrf": headers.pop("csrf", csrf)}
    status, _, body = call(page, "POST", "/orders/1/forget", form=form, cookie=cookie, **headers)
    assert status == "403 Forbidden" and body.startswith("refused: "), body
    assert [e["order_id"] for e in RetrySet(state).entries()] == [1, 2]


def test_forget_from_the_page_and_with_the_bearer_token(state: SqlState) -> None:
    fill(state, range(1, 3))
    page = app(state)
    cookie, csrf = signed_in(page)
    status, headers, _ = call(page, "POST", "/orders/1/forget", cookie=cookie,
                              form={"csrf": csrf, "back": "/?after=x"}, origin=f"http://{HOST}",
                              sec_fetch_site="same-origin")
    assert (status, headers["Location"]) == ("303 See Other", "/?after=x")
    _, _, html = call(page, "GET", "/", cookie=cookie)
    assert "order 1 forgotten: no longer retried" in html  # shown once
    assert "order 1 forgotten" not in call(page, "GET", "/", cookie=cookie)[2]
    # behind a proxy that rewrites Host, the forwarded host is the page's own
    status, _, text = call(page, "POST", "/orders/2/forget", authorization=f"Bearer {TOKEN}",
                           origin="https://sync.example.com", x_forwarded_host="sync.example.com")
    assert (status, text.split(":")[0]) == ("200 OK", "order 2 forgotten")
    assert RetrySet(state).entries() == []


def test_retry_makes_the_order_due_and_says_so_when_no_worker_answers(
        state: SqlState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_page, "RETRY_WAIT", 0.2)
    fill(state, range(5, 6))
    status, _, text = call(app(state), "POST", "/orders/5/retry",
                           authorization=f"Bearer {TOKEN}")
    assert text == "order 5 is due now: the worker retries it at its next turn"
    assert RetrySet(state).counts(time.time()) == {"waiting": 1, "due": 1}
    assert call(app(state), "POST", "/orders/6/retry", authorization=f"Bearer {TOKEN}")[2] == \
        "order 6 is not in the retry set"


def test_the_retry_set_pages_through_every_row_once_both_ways(state: SqlState) -> None:
    fill(state, range(1, 121))
    expected = [(e["order_id"], e["direction"]) for e in RetrySet(state).entries()]
    assert len(expected) == 120 + 17
    pages, after = [], None
    while True:
        page = retry_page(state, after=parse_cursor(after), size=25, now=0)
        assert page.entries == len(expected) and page.waiting == 120
        assert page.start == sum(len(p.rows) for p in pages)
        pages.append(page)
        if page.older is None:
            break
        after = page.older
    assert [(r["order_id"], r["direction"]) for p in pages for r in p.rows] == expected
    assert [len(p.rows) for p in pages] == [25, 25, 25, 25, 25, 12]
    assert pages[0].newer is None and all(p.newer for p in pages[1:])
    back = retry_page(state, before=parse_cursor(pages[-1].newer), size=25, now=0)
    assert back.rows == pages[-2].rows and back.start == 100 and back.older == pages[-2].older
    first = retry_page(state, before=parse_cursor(pages[1].newer), size=25, now=0)
    assert first.rows == pages[0].rows and first.newer is None


def test_the_page_shows_each_section_and_escapes_what_the_store_says(state: SqlState) -> None:
    fill(state, range(1, 61), reason="<script>alert(1)</script>")
    state.record_decision({"order_id": 7, "direction": "inbound", "event_id": "e1",
                           "event": json.dumps({"type": "order.status_changed"}),
                           "rules": "bigcommerce-inbound", "rules_version": 1,
                           "rules_sha256": "ab" * 32, "matched": json.dumps(["cancelled"]),
                           "actions": json.dumps([{"action": "void_order", "key": "k1"}]),
                           "no_update": "[]", "outcome": "recorded",
                           "at": "2026-01-01T00:00:00+00:00"}, [])
    state.record_decision({"order_id": 8, "direction": "outbound", "event_id": "e2",
                           "event": json.dumps({"type": "ledger.order_closed"}),
                           "rules": "bigcommerce-outbound", "rules_version": 1,
                           "rules_sha256": "cd" * 32, "matched": json.dumps(["closed"]),
                           "actions": "[]", "no_update": "[]", "outcome": "recorded",
                           "at": "2026-01-01T00:00:00+00:00"},
                          [{"key": "k2", "order_id": 8, "direction": "outbound",
                            "action": "set_store_status", "params": {"status_id": 10},
                            "rule_id": "closed", "event": "{}", "at": "2026-01-01T00:00:00+00:00"}])
    state.finish_action("k2", "conflict", "the store order is <b>5 Cancelled</b>",
                        "2026-01-01T00:00:01+00:00")
    page = app(state, status="degraded", queue_depth=3, queue_age_seconds=125, dead_deliveries=1,
               last_sync="2026-01-01T00:00:00+00:00", worker_error="store unavailable")
    _, _, html = call(page, "GET", "/", authorization=f"Bearer {TOKEN}")
    assert '<div class="big bad">degraded</div>' in html and "last error: store unavailable" in html
    assert "3 waiting" in html and "oldest 2 min old" in html and "1 dead" in html
    assert "2026-01-01 00:00:00" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; 1" in html
    assert html.count('<tr id="retry-') == 50 and "rows 1–50 of 68" in html
    assert 'href="/?after=' in html and "60 order(s)" in html
    assert "<code>cancelled</code>" in html and "void_order" in html
    conflicts = html[html.index('conflict-table">'):]
    conflicts = conflicts[:conflicts.index("</table>")]
    assert all(word in conflicts for word in ("/orders/8", "set_store_status", "closed",
                                              "the store order is &lt;b&gt;5 Cancelled")), conflicts
    _, _, order = call(app(state), "GET", "/orders/7", authorization=f"Bearer {TOKEN}")
    assert "sha256 <code" in order and "abababababab" in order and "cancelled" in order
    status, _, _ = call(app(state), "GET", "/orders/99999", authorization=f"Bearer {TOKEN}")
    assert status == "404 Not Found"
    status, headers, _ = call(app(state), "GET", "/orders/", query="id=7",
                              authorization=f"Bearer {TOKEN}")
    assert headers["Location"] == "/orders/7"


def test_local_targets_and_session_expiry() -> None:
    assert [local_target(t) for t in ("/orders/1", "//x.com", "https://x.com", "/\\x", None)] \
        == ["/orders/1", "/", "/", "/", "/"]
    sessions = Sessions(seconds=-1)
    assert sessions.get(sessions.create().sid) is None


def two_stores(state: SqlState) -> StatusPage:
    """The page of a configuration with stores eu and us in `state`'s database."""
    path = Path(str(state.location)).with_name("rulesync.yaml")
    path.write_text("version: 1\nstores:\n  - {name: eu, store_hash: abc}\n"
                    "  - {name: us, store_hash: def}\n")
    config = configuration.load(path, state=state.location, environ={})

    def health(store: str | None = None) -> dict[str, Any]:
        counts = RetrySet(state.for_store(store or "eu")).counts(time.time())
        return {"status": "ok", "queue_depth": 0, "queue_age_seconds": 0,
                "failing_orders": counts["waiting"], "retries_due": counts["due"],
                "dead_deliveries": 0, "worker_error": None, "last_sync": None, "hooks": None,
                "last_received": {}}

    return StatusPage(config, TOKEN, lambda store=None: state.for_store(store or "eu"), health)


def test_several_stores_each_have_their_section_links_buttons_and_pages(
        state: SqlState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_page, "RETRY_WAIT", 0.2)
    eu, us = state.for_store("eu"), state.for_store("us")
    fill(eu, range(1, 61), reason="eu broken")
    fill(us, range(1, 3), reason="us broken")  # the same order ids as eu's: other orders
    page = two_stores(state)
    cookie, csrf = signed_in(page)
    _, _, html = call(page, "GET", "/", cookie=cookie)
    assert 'id="store-eu"' in html and 'id="store-us"' in html
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "an element id shown twice"
    assert 'id="eu-retry-1-inbound"' in html and 'id="us-retry-1-inbound"' in html
    assert 'href="/orders/1?store=eu"' in html and 'href="/orders/1?store=us"' in html
    assert html.count('name="store" value="us"') == 2 * 2  # Retry and Forget of orders 1, 2
    assert "rows 1–50 of 68" in html and "rows 1–2 of 2" in html
    older = re.search(r'href="(/\?store=eu&amp;after=[^"#]+)#eu-retries"', html)
    assert older, "eu's next page"
    query = older.group(1).replace("&amp;", "&").split("?", 1)[1]
    _, _, second = call(page, "GET", "/", query=query, cookie=cookie)
    assert "rows 51–68 of 68" in second and "rows 1–2 of 2" in second  # us stays on its first

    # a button posts its store; the other store's order 1 stays
    back = "/?" + query
    status, headers, _ = call(page, "POST", "/orders/1/forget", cookie=cookie,
                              form={"csrf": csrf, "back": back, "store": "us"},
                              origin=f"http://{HOST}")
    assert (status, headers["Location"]) == ("303 See Other", back)
    assert "store us: order 1 forgotten" in call(page, "GET", "/", cookie=cookie)[2]
    assert [e["order_id"] for e in RetrySet(us).entries()] == [2]
    assert RetrySet(eu).entries(1) != []
    bearer = f"Bearer {TOKEN}"
    assert call(page, "POST", "/orders/1/forget", query="store=eu",
                authorization=bearer)[2].startswith("store eu: order 1 forgotten")
    assert call(page, "POST", "/orders/2/forget", authorization=bearer)[:1] == (
        "400 Bad Request",)  # which store's order 2?
    assert RetrySet(us).entries(2) != [] and RetrySet(eu).entries(2) != []
    assert call(page, "POST", "/orders/3/retry", query="store=eu", authorization=bearer)[2] == \
        "store eu: order 3 is due now: the worker retries it at its next turn"
    assert call(page, "POST", "/orders/3/retry", query="store=us", authorization=bearer)[2] == \
        "store us: order 3 is not in the retry set"

    # an order's view is its store's
    status, _, view = call(page, "GET", "/orders/2", query="store=us", cookie=cookie)
    assert status == "200 OK" and "store <code>us (def)</code>" in view
    assert "us broken" in view and "eu broken" not in view
    assert 'name="store" value="us"' in view and 'href="/#store-us"' in view
    assert call(page, "GET", "/orders/2", cookie=cookie)[0] == "400 Bad Request"
    assert call(page, "GET", "/orders/2", query="store=asia", cookie=cookie)[0] == \
        "404 Not Found"
    assert '<select name="store"' in view  # "Find order" asks which store's
    _, headers, _ = call(page, "GET", "/orders/", query="id=7&store=eu", cookie=cookie)
    assert headers["Location"] == "/orders/7?store=eu"


def test_each_stores_recent_rows_are_read_along_an_index(tmp_path: Path) -> None:
    """The page's newest decisions and conflicts of one store: no sort of the store's whole
    log (a store with a million decisions would sort them all at every look)."""
    state = SqlState(tmp_path / "state.sqlite", "eu")
    ran: list[str] = []
    try:
        state.db.conn.set_trace_callback(ran.append)  # type: ignore[attr-defined]
        status_data.recent_decisions(state)
        status_data.recent_conflicts(state)
        state.db.conn.set_trace_callback(None)  # type: ignore[attr-defined]
        assert len(ran) == 2
        for query in ran:
            plan = " / ".join(str(r[-1]) for r in state.db.rows(f"EXPLAIN QUERY PLAN {query}"))
            assert "TEMP B-TREE" not in plan and "SCAN" not in plan, (query, plan)
    finally:
        state.close()
