"""`rulesync serve` with several stores: one endpoint takes every store's deliveries, the
payload's `producer` naming the store; each store's orders go to its own key in the ledger, a
delivery from a store not configured is refused with a log line, and /healthz shows each store."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.bigcommerce.sandbox import Sandbox
from connectors.ledger import Ledger
from tests.support.serve_world import (
    Serve,
    delivery,
    named_sandboxes,
    order_body,
    status_delivery,
    wait_for,
)

NAMES = ("eu", "us")


@pytest.fixture
def stores() -> Iterator[dict[str, Sandbox]]:
    with named_sandboxes(*NAMES) as made:
        yield made


ADMIN = "admin-token-for-tests-0123456789"


def _page(port: int, path: str) -> str:
    """A status page, read with the admin token as a script would."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": f"Bearer {ADMIN}"})
    with opener.open(request, timeout=30) as reply:
        return str(reply.read().decode())


def _state(state: Path, store: str, order_id: int) -> dict[str, object] | None:
    if not state.exists():
        return None
    with Ledger(state, store) as ledger:
        order = ledger.get(order_id)
    return None if order is None else order.state()


def test_one_endpoint_serves_every_store_by_producer(stores: dict[str, Sandbox],
                                                     tmp_path: Path) -> None:
    (tmp_path / "rulesync.yaml").write_text("version: 1\nstores:\n" + "".join(
        f"  - {{name: {name}, store_hash: hash-{name}, api_url: '{sb.base_url}', "
        f"token_env: {name.upper()}_TOKEN}}\n" for name, sb in stores.items()))
    ids = {name: int(sb.store.create_order(order_body(7))["id"]) for name, sb in stores.items()}
    assert ids["eu"] == ids["us"]
    order = ids["eu"]
    state = tmp_path / "state.sqlite"
    serve = Serve(stores["eu"], tmp_path, state,
                  extra_env={"EU_TOKEN": "token-eu", "US_TOKEN": "token-us",
                             "RULESYNC_ADMIN_TOKEN": ADMIN})
    serve.start(wait_first_sync=False)
    try:
        health = wait_for("both stores' first sync", lambda: (h := serve.health()) and all(
            s["last_sync"] for s in h["stores"].values()) and h, timeout=10)
        assert set(health["stores"]) == {"eu", "us"}
        assert {name: _state(state, name, order)["paid"] for name in NAMES} == {  # type: ignore[index]
            "eu": False, "us": False}
        stores["eu"].store.set_status(order, 11)
        stores["us"].store.set_status(order, 9)
        for name in NAMES:
            body = {**status_delivery(order, 7, 11), "producer": f"stores/hash-{name}"}
            assert serve.post(body) == (200, "")
        wait_for("eu's order paid", lambda: (_state(state, "eu", order) or {}).get("paid"))
        wait_for("us's order packed", lambda: (_state(state, "us", order) or {}).get("packed"))
        assert _state(state, "eu", order)["packed"] is False  # type: ignore[index]
        stranger = {**delivery("store/order/updated", {"type": "order", "id": order}),
                    "producer": "stores/hash-elsewhere"}
        assert serve.post(stranger) == (400, "unknown store: the producer is no configured store")
        wait_for("the refusal's log line",
                 lambda: "producer 'stores/hash-elsewhere' is no configured store" in serve.stderr())
        public = serve.health(secret=None)
        assert set(public["stores"]) == {"eu", "us"} and "last_sync" not in public["stores"]["eu"]
        assert public["status"] in ("ok", "degraded", "stalled")
        # the status page: a section per store, each order link and view its store's
        page = _page(serve.port, "/")
        assert 'id="store-eu"' in page and 'id="store-us"' in page
        assert f'href="/orders/{order}?store=eu"' in page
        assert f'href="/orders/{order}?store=us"' in page
        view = _page(serve.port, f"/orders/{order}?store=us")
        assert "store <code>us (hash-us)</code>" in view and "packed <b>yes</b>" in view
    finally:
        serve.stop()


def test_serve_for_one_store_of_several_refuses_the_others_deliveries(tmp_path: Path) -> None:
    """`serve --store eu` on the endpoint every store's hooks send to: a delivery from us is
    refused, never queued as eu's (eu's order 101 is another order than us's)."""
    import io
    import json
    from dataclasses import replace

    from engine import config as configuration
    from engine.serve.app import App
    from engine.storage.state import SqlState

    (tmp_path / "rulesync.yaml").write_text("version: 1\nstores:\n" + "".join(
        f"  - {{name: {name}, store_hash: hash-{name}}}\n" for name in NAMES))
    config = configuration.load(tmp_path / "rulesync.yaml", state=tmp_path / "state.sqlite",
                                environ={})
    app = App(replace(config, stores=config.select("eu")), "/webhooks", "s" * 20, "X-Secret")
    answers = []
    for name in NAMES:
        body = json.dumps({**status_delivery(101, 7, 11), "producer": f"stores/hash-{name}"})
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks", "HTTP_X_SECRET": "s" * 20,
                   "wsgi.input": io.BytesIO(body.encode()), "CONTENT_LENGTH": str(len(body))}
        app(environ, lambda status, headers: answers.append(status))
    assert answers == ["200 OK", "400 Bad Request"]
    state = SqlState(tmp_path / "state.sqlite", "eu")
    try:
        assert state.inbox().depth() == 1
    finally:
        state.close()


def test_a_stores_unknown_setting_stops_serve_before_it_listens(tmp_path: Path) -> None:
    """Not a worker thread that dies once the endpoint already acknowledges deliveries."""
    from tests.support.serve_world import STORE_HASH, run, sandbox

    with sandbox() as sb:
        (tmp_path / "rulesync.yaml").write_text(
            "version: 1\nstores:\n"
            f"  - {{name: eu, store_hash: {STORE_HASH}, api_url: '{sb.base_url}', "
            "settings: {auto_clos: true}}\n")
        r = run(sb, tmp_path, "serve", "--port", "0", "--state", str(tmp_path / "state.sqlite"))
    assert r.returncode == 1, r.stderr
    assert "unknown setting 'auto_clos'" in r.stderr and "Traceback" not in r.stderr
    assert "listening" not in r.stderr

