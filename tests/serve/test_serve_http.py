"""The HTTP side of `rulesync serve`, through the real command and raw sockets.

A request refused from its headers is proved so by sending only its head: the answer arrives
although the body never does (a server waiting for the body would never answer, and the read
would give up at its bound), and the server then closes the connection instead of waiting.
"""
from __future__ import annotations

import json
import re
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.bigcommerce.sandbox.clock import FrozenClock
from engine.serve.webhooks import MAX_BODY
from tests.support.raw_http import ask, chunked, head
from tests.support.serve_world import (
    BILLED,
    SECRET,
    SECRET_HEADER,
    T0,
    Serve,
    order_body,
    order_delivery,
    run,
    sandbox,
    state_of,
    wait_for,
    wait_state,
)

GIGABYTE = 1 << 30


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with sandbox(clock=FrozenClock(T0)) as store:
        yield store


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    made: list[Serve] = []
    yield made
    for s in made:
        s.stop()


def start(serves: list[Serve], sb: Sandbox, tmp_path: Path, **kw: object) -> Serve:
    s = Serve(sb, tmp_path / "work", tmp_path / "state.sqlite", **kw)  # type: ignore[arg-type]
    serves.append(s)
    return s.start()


def post_head(secret: str | None, **headers: str) -> bytes:
    extra = {SECRET_HEADER: secret} if secret is not None else {}
    return head("POST", "/webhooks", {"Content-Type": "application/json", **extra,
                                      **{k.replace("_", "-"): v for k, v in headers.items()}})


# -- the secret before the body --------------------------------------------------------------

@pytest.mark.parametrize("secret", [None, "wrong-secret-0123456789-abcdef"], ids=["none", "wrong"])
@pytest.mark.parametrize("framing", [
    {"Content_Length": str(GIGABYTE)},
    {"Content_Length": str(MAX_BODY + 1)},  # over the limit, under waitress's default one
    {"Content_Length": "100"},
    {"Transfer_Encoding": "chunked"},
    {"Content_Length": str(GIGABYTE), "Expect": "100-continue"},
], ids=["gigabyte", "over-the-limit", "small", "chunked", "expect-100-continue"])
def test_without_the_secret_the_answer_is_401_from_the_headers_whatever_the_body(
        sb: Sandbox, tmp_path: Path, serves: list[Serve], secret: str | None,
        framing: dict[str, str]) -> None:
    s = start(serves, sb, tmp_path)
    answer = ask(s.port, post_head(secret, **framing), body=None, check_close=True)
    assert answer.status == 401, answer  # not 413: the secret is checked before the size
    assert answer.interim == ()  # no "100 Continue": the client is not asked for the body
    assert answer.closed  # the server does not wait for the body either
    wait_for("the refusal in the log", lambda: "refused a delivery (401)" in s.stderr())
    assert s.inbox() == []


def test_without_the_secret_a_body_sent_anyway_is_401_and_never_queued(
        sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    s = start(serves, sb, tmp_path)
    oid = int(sb.store.create_order(order_body(7))["id"])
    body = json.dumps(order_delivery("created", oid)).encode()
    for sent in (body, body.ljust(4 * MAX_BODY)):
        answer = ask(s.port, post_head(None, Content_Length=str(len(sent))), sent)
        assert answer.status == 401
        answer = ask(s.port, post_head(None, Transfer_Encoding="chunked"), chunked(sent))
        assert answer.status == 401
    s.worker_turn()
    assert s.inbox() == []
    assert ask(s.port, post_head(SECRET, Content_Length=str(len(body))), body).status == 200
    wait_state(s.state, oid, BILLED)


def statuses_until_closed(port: int, sent: list[bytes]) -> list[int]:
    """Send the requests back to back on one connection (pipelined) and read every answer until
    the server closes it; the statuses in order."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(sent))
        while chunk := sock.recv(65536):
            data += chunk
    return [int(m) for m in re.findall(rb"^HTTP/1\.1 (\d{3}) ", data, re.M)]


def head_of(sock: socket.socket) -> bytes:
    """The next answer's status line and headers, read byte by byte (nothing past them)."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, f"closed after {data!r}"
        data += byte
    return data[:-4]


def test_the_gate_keeps_keep_alive_pipelining_and_chunked_deliveries_working(
        sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    """The header check sits in waitress's request parser: authenticated deliveries sent back to
    back on one connection (by length, chunked, after `Expect: 100-continue`) all go through, and
    a refused one ends the connection without letting the requests behind it in."""
    s = start(serves, sb, tmp_path)
    ids = [int(sb.store.create_order(order_body(7))["id"]) for _ in range(5)]

    def delivery(oid: int, secret: str | None = SECRET, *, te: bool = False,
                 last: bool = False, **extra: str) -> bytes:
        body = json.dumps(order_delivery("created", oid)).encode()
        framing = {"Transfer_Encoding": "chunked"} if te else {"Content_Length": str(len(body))}
        request_head = post_head(secret, **framing, **extra, **({"Connection": "close"} if last
                                                               else {}))
        return request_head + (chunked(body, size=16) if te else body)

    assert statuses_until_closed(s.port, [
        delivery(ids[0]), delivery(ids[1], te=True), delivery(ids[2], last=True)]) == [200] * 3
    # A client that waits for "100 Continue" before it sends the body gets it, then its answer.
    body = json.dumps(order_delivery("created", ids[3])).encode()
    with socket.create_connection(("127.0.0.1", s.port), timeout=30) as sock:
        sock.sendall(post_head(SECRET, Content_Length=str(len(body)), Expect="100-continue"))
        assert head_of(sock) == b"HTTP/1.1 100 Continue"
        sock.sendall(body)
        assert head_of(sock).startswith(b"HTTP/1.1 200 ")
    for oid in ids[:4]:
        wait_state(s.state, oid, BILLED)
    # A refusal mid-connection: the delivery before it stands, the one behind it is never read.
    assert statuses_until_closed(s.port, [
        delivery(ids[0]), delivery(ids[4], secret="wrong-secret-0123456789"),
        delivery(ids[4], last=True)]) == [200, 401]
    s.worker_turn()
    assert all(row["order_id"] != ids[4] for row in s.inbox())
    assert state_of(s.state, ids[4]) is None


# -- the size before the body ----------------------------------------------------------------

@pytest.mark.parametrize("extra", [{}, {"Expect": "100-continue"}], ids=["plain", "expect"])
def test_with_the_secret_a_declared_length_over_the_limit_is_413_from_the_headers(
        sb: Sandbox, tmp_path: Path, serves: list[Serve], extra: dict[str, str]) -> None:
    s = start(serves, sb, tmp_path)
    for length in (MAX_BODY + 1, GIGABYTE):
        answer = ask(s.port, post_head(SECRET, Content_Length=str(length), **extra), None,
                     check_close=True)
        assert (answer.status, answer.interim, answer.closed) == (413, (), True), answer


def test_with_the_secret_a_chunked_body_is_cut_off_at_the_limit(
        sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    s = start(serves, sb, tmp_path)
    # The limit and a little more, and no final chunk: only a server that stops at the limit
    # can answer (one reading to the end would wait for ever).
    answer = ask(s.port, post_head(SECRET, Transfer_Encoding="chunked"),
                 chunked(b" " * (MAX_BODY + 1024), last=False), check_close=True)
    assert (answer.status, answer.closed) == (413, True), answer
    # A body of exactly the limit is still taken; chunked, its framing counts too.
    exact = json.dumps({"scope": "store/product/updated", "hash": "h-exact", "data": {"id": 1}})
    sent = exact.encode().ljust(MAX_BODY)
    assert ask(s.port, post_head(SECRET, Content_Length=str(MAX_BODY)), sent).status == 200
    assert ask(s.port, post_head(SECRET, Transfer_Encoding="chunked"),
               chunked(sent[:MAX_BODY - 1024])).status == 200


# -- /healthz --------------------------------------------------------------------------------

def test_healthz_without_the_secret_shows_only_the_status_and_counts(
        sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    s = start(serves, sb, tmp_path)
    assert run(sb, s.dir, "webhooks", "register", "https://sync.example.com/webhooks"
               ).returncode == 0
    oid = int(sb.store.create_order(order_body(7))["id"])
    assert s.post(order_delivery("created", oid)) == (200, "")
    wait_state(s.state, oid, BILLED)

    def complete() -> dict[str, Any] | None:
        h = s.health()
        return h if h["hooks"] and h["last_received"] else None

    full = wait_for("the hooks and the delivery in the full view", complete)
    assert "sync.example.com" in json.dumps(full)
    assert {"worker_error", "last_sync", "hooks", "last_received"} <= set(full)

    public = s.health(secret=None)
    assert public == {k: v for k, v in full.items() if k == "status" or type(v) is int}
    assert public["status"] == "ok" and public["queue_depth"] == 0
    assert not {"worker_error", "last_sync", "hooks", "last_received"} & set(public)
    assert "sync.example.com" not in json.dumps(public)
    assert s.health(secret="wrong-secret-0123456789") == public


# -- the port ---------------------------------------------------------------------------------

def test_a_port_in_use_is_one_clear_line_and_changes_nothing(sb: Sandbox, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = tmp_path / "state.sqlite"
        r = run(sb, tmp_path, "serve", "--port", str(port), "--state", str(state))
    assert r.returncode == 1, r.stderr
    assert r.stderr.splitlines() == [
        f"error: rulesync serve: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert not state.exists()


# -- inbox retention ---------------------------------------------------------------------------

def _inbox(state: Path) -> list[tuple[int, str, int]]:
    with closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)) as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            "SELECT order_id, scope, done FROM sync_inbox ORDER BY id")]


def test_handled_deliveries_are_pruned_after_the_retention_keeping_the_last_per_scope(
        sb: Sandbox, tmp_path: Path, serves: list[Serve]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "rulesync.yaml").write_text("version: 1\nserve:\n  inbox_retention_days: 0\n")
    s = start(serves, sb, tmp_path, poll_seconds=1)
    ids = [int(sb.store.create_order(order_body(7))["id"]) for _ in range(3)]
    for oid in ids:
        assert s.post(order_delivery("created", oid)) == (200, "")
        assert s.post(order_delivery("updated", oid)) == (200, "")
    for oid in ids:
        wait_state(s.state, oid, BILLED)
    # Handled and older than the retention (0 days): only each scope's newest delivery stays,
    # for `webhooks status` to show when it last came.
    wait_for("the inbox pruned", lambda: _inbox(s.state) == [
        (ids[-1], "store/order/created", 1), (ids[-1], "store/order/updated", 1)])
    assert set(s.health()["last_received"]) == {"store/order/created", "store/order/updated"}
    # The decision log keeps what each delivery led to.
    shown = run(sb, s.dir, "explain", str(ids[0]), "--state", str(s.state))
    assert shown.returncode == 0 and "imported" in shown.stdout.lower(), shown.stdout


def test_by_default_handled_deliveries_are_kept(sb: Sandbox, tmp_path: Path,
                                               serves: list[Serve]) -> None:
    s = start(serves, sb, tmp_path, poll_seconds=1)
    oid = int(sb.store.create_order(order_body(7))["id"])
    assert s.post(order_delivery("created", oid)) == (200, "")
    assert s.post(order_delivery("updated", oid) | {"hash": "second"}) == (200, "")
    assert s.post(order_delivery("updated", oid) | {"hash": "third"}) == (200, "")
    wait_for("the deliveries handled", lambda: [r[2] for r in _inbox(s.state)] == [1, 1, 1])
    polls = sb.api_calls().get("GET /v2/orders", 0)
    wait_for("a catch-up poll after that", lambda: sb.api_calls().get("GET /v2/orders", 0) > polls)
    s.worker_turn()  # the poll's turn, and its pruning, are over
    assert len(_inbox(s.state)) == 3


@pytest.mark.parametrize("value, message", [
    ("-1", "-1 is less than the minimum of 0"),
    ('"week"', "'week' is not of type 'number'"),
    (".nan", ".nan is not a number of days"),
])
def test_a_bad_retention_stops_serve_before_it_listens(sb: Sandbox, tmp_path: Path, value: str,
                                                      message: str) -> None:
    (tmp_path / "rulesync.yaml").write_text(f"version: 1\nserve:\n  inbox_retention_days: {value}\n")
    r = run(sb, tmp_path, "serve", "--port", "0", "--state", str(tmp_path / "state.sqlite"))
    assert r.returncode == 1
    assert "rulesync.yaml" in r.stderr and "inbox_retention_days" in r.stderr \
        and message in r.stderr, r.stderr
    assert "listening" not in r.stderr
