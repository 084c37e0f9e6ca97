"""The webhook bad-input corpus (tests/badinput/webhooks/) against a real `rulesync serve`.

Each request, written on a raw socket, gets its one right answer; `serve` keeps running and,
after a whole turn of its worker, nothing in the state file has changed. The store holds the
order the deliveries name, so a delivery wrongly accepted would show up in the ledger.
"""
from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.bigcommerce.sandbox.clock import FrozenClock
from tests.support.raw_http import ask, chunked, head
from tests.support.serve_world import SECRET, SECRET_HEADER, T0, Serve, order_body, sandbox

CORPUS = Path(__file__).parents[1] / "badinput" / "webhooks"
CASES = sorted(CORPUS.glob("*.yaml"))
VOLATILE_META = {"worker_heartbeat"}  # rewritten by every worker turn


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    tmp = tmp_path_factory.mktemp("corpus")
    with sandbox(clock=FrozenClock(T0)) as sb:  # frozen: the catch-up poll imports nothing
        assert sb.store.create_order(order_body(7))["id"] == 100  # the id the corpus names
        s = Serve(sb, tmp / "work", tmp / "state.sqlite")
        try:
            yield s.start()
        finally:
            s.stop()


def body_of(case: dict[str, Any]) -> bytes:
    if "json" in case:
        body = json.dumps(case["json"]).encode()
    elif "body_base64" in case:
        body = base64.b64decode(case["body_base64"])
    elif "body_parts" in case:
        body = b"".join(text.encode() * times for text, times in case["body_parts"])
    else:
        body = case.get("body", "").encode()
    return body + b" " * (case.get("pad_to", 0) - len(body))


def request(case: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """The request's head, and its body (None: only the head is sent)."""
    body = body_of(case)
    headers = {"Content-Type": "application/json", "Connection": "close"}
    secret = case.get("secret", "right")
    if secret != "none":
        headers[SECRET_HEADER] = SECRET if secret == "right" else str(secret)
    if case.get("transfer", "length") == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        body = chunked(body)
    else:
        headers["Content-Length"] = str(case.get("declared_length", len(body)))
    headers.update(case.get("headers", {}))
    head_only = case.get("head_only", False) or "declared_length" in case
    return head(case.get("method", "POST"), case.get("path", "/webhooks"), headers), \
        None if head_only else body


def snapshot(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the state file (read-only), but the worker's heartbeat."""
    with closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(tuple(r) for r in conn.execute(f'SELECT * FROM "{t}"')
                          if not (t == "sync_meta" and r[0] in VOLATILE_META))
                for t in tables}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_each_bad_delivery_gets_its_answer_and_changes_nothing(serving: Serve, path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    request_head, body = request(case)
    serving.worker_turn()
    before = snapshot(serving.state)

    answer = ask(serving.port, request_head, body)

    assert answer.status == case["expect"], f"{path.name}: {case['why']}: {answer}"
    assert answer.interim == (), "refused from its headers, the request was told to go on"
    serving.worker_turn()  # anything the worker would do about it, it has done
    assert serving.proc is not None and serving.proc.poll() is None, serving.stderr()
    assert snapshot(serving.state) == before
    assert serving.health(secret=None)["queue_depth"] == 0


def test_the_corpus_covers_every_answer() -> None:
    answers = {yaml.safe_load(p.read_text(encoding="utf-8"))["expect"] for p in CASES}
    assert answers == {200, 400, 401, 404, 405, 413}
