"""engine/serve/webhooks.py check(): one delivery judged without I/O.

The payloads follow BigCommerce's webhook samples (webhook_callback_base: scope, store_id,
hash, created_at, producer, data with ids only).
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from engine.serve.webhooks import MAX_BODY, ORDER_SCOPES, SCOPES, SHIPMENT_SCOPES, authenticated, check

SECRET = "s3cret-for-tests-0123456789"
ORDER = {"scope": "store/order/statusUpdated", "store_id": "1025646", "hash": "abc123",
         "created_at": 1561479335, "producer": "stores/abc",
         "data": {"type": "order", "id": 250,
                  "status": {"previous_status_id": 0, "new_status_id": 11}}}
SHIPMENT = {"scope": "store/shipment/created", "store_id": "1025646", "hash": "def456",
            "created_at": 1561482857, "producer": "stores/abc",
            "data": {"type": "shipment", "id": 12, "orderId": 251}}


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def test_an_order_delivery_is_queued_with_its_order_id_scope_and_hash() -> None:
    v = check(body(ORDER), SECRET, SECRET)
    assert (v.status, v.message) == (200, "queued")
    assert v.delivery is not None
    assert (v.delivery.hash, v.delivery.scope, v.delivery.order_id) == \
        ("abc123", "store/order/statusUpdated", 250)
    assert v.delivery.payload == ORDER


def test_a_shipment_delivery_takes_the_order_id_from_orderId_not_id() -> None:
    v = check(body(SHIPMENT), SECRET, SECRET)
    assert v.status == 200 and v.delivery is not None
    assert v.delivery.order_id == 251


@pytest.mark.parametrize("scope", sorted(ORDER_SCOPES | SHIPMENT_SCOPES))
def test_every_handled_scope_is_queued(scope: str) -> None:
    data = ({"type": "shipment", "id": 1, "orderId": 7} if scope in SHIPMENT_SCOPES
            else {"type": "order", "id": 7})
    v = check(body({**ORDER, "scope": scope, "data": data}), SECRET, SECRET)
    assert v.status == 200 and v.delivery is not None and v.delivery.order_id == 7
    assert scope in SCOPES


def test_an_order_id_given_as_a_digit_string_is_read() -> None:
    v = check(body({**ORDER, "data": {"type": "order", "id": "250"}}), SECRET, SECRET)
    assert v.delivery is not None and v.delivery.order_id == 250


@pytest.mark.parametrize("given", [None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper(),
                                   " " + SECRET])
def test_without_the_exact_secret_it_is_401_whatever_the_body(given: str | None) -> None:
    for payload in (body(ORDER), b"not json", b"x" * (MAX_BODY + 1)):
        v = check(payload, given, SECRET)
        assert (v.status, v.delivery) == (401, None)
        assert SECRET not in v.message
    assert not authenticated(given, SECRET)


def test_the_secret_check_takes_non_ascii_without_failing() -> None:
    assert check(body(ORDER), "sécrét-ünïcode-0123", SECRET).status == 401
    assert authenticated("sécrét-ünïcode-0123", "sécrét-ünïcode-0123")


def test_an_oversized_body_is_413() -> None:
    big = body({**ORDER, "padding": "x" * MAX_BODY})
    assert check(big, SECRET, SECRET).status == 413
    assert check(b" " * (MAX_BODY - 2) + b"{}", SECRET, SECRET).status != 413  # at the limit
    assert check(b" " * (MAX_BODY - 1) + b"{}", SECRET, SECRET).status == 413


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe{}", b"{'single': 1}",
                                 b'{"scope": "store/order/created", "data": {"id": 1},}'])
def test_malformed_json_is_400(raw: bytes) -> None:
    v = check(raw, SECRET, SECRET)
    assert (v.status, v.delivery) == (400, None)


@pytest.mark.parametrize("payload", [
    [], "x", 3, None, [ORDER],
    {k: v for k, v in ORDER.items() if k != "scope"},
    {k: v for k, v in ORDER.items() if k != "hash"},
    {k: v for k, v in ORDER.items() if k != "data"},
    {**ORDER, "hash": ""}, {**ORDER, "hash": 5}, {**ORDER, "scope": 1},
    {**ORDER, "data": []}, {**ORDER, "data": "250"},
    {**ORDER, "data": {"type": "order"}}, {**ORDER, "data": {"id": None}},
    {**ORDER, "data": {"id": True}}, {**ORDER, "data": {"id": "12a"}},
    {**ORDER, "data": {"id": 2.5}}, {**ORDER, "data": {"id": "-3"}},
    {**SHIPMENT, "data": {"type": "shipment", "id": 12}},  # no orderId
])
def test_a_wrong_shape_is_400(payload: Any) -> None:
    v = check(body(payload), SECRET, SECRET)
    assert (v.status, v.delivery) == (400, None), v


@pytest.mark.parametrize("scope", ["store/order/refund/created", "store/order/message/created",
                                   "store/product/updated", "store/cart/created", "",
                                   "store/order/*"])
def test_an_unknown_scope_is_acknowledged_and_not_queued(scope: str) -> None:
    v = check(body({**ORDER, "scope": scope}), SECRET, SECRET)
    assert (v.status, v.delivery) == (200, None)
    assert "ignored" in v.message


@pytest.mark.parametrize("raw", [b"[" * 40_000, body({**ORDER, "data": {"id": "\u00b2"}})],
                         ids=["deep-nesting", "superscript-digit-id"])
def test_pathological_bodies_are_400_not_exceptions(raw: bytes) -> None:
    assert check(raw, SECRET, SECRET).status == 400


@pytest.mark.parametrize("order_id", [0, -4, "0", 10**30], ids=["zero", "negative", "zero-str",
                                                                "huge"])
def test_out_of_range_order_ids_are_400(order_id: Any) -> None:
    v = check(body({**ORDER, "data": {"type": "order", "id": order_id}}), SECRET, SECRET)
    assert (v.status, v.delivery) == (400, None)


def test_the_app_itself_answers_401_before_reading_a_body(tmp_path: Any) -> None:
    """Behind waitress the parser refuses first; the application repeats the check."""
    from engine.config import Config
    from engine.serve.app import App

    class Unread:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read")

    app = App(Config(file=None, rules=(), settings={}, state=tmp_path / "state.sqlite"),
              "/webhooks", SECRET, "X-Rulesync-Secret")
    answers: list[str] = []
    for given in ({}, {"HTTP_X_RULESYNC_SECRET": "wrong"}):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks", "wsgi.input": Unread(),
                   "CONTENT_LENGTH": str(2 * MAX_BODY), **given}
        app(environ, lambda status, headers: answers.append(status))
    assert answers == ["401 Unauthorized", "401 Unauthorized"]
