"""Errors that say what to fix, and store replies of the wrong shape refused by endpoint."""
from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from test_client_fakes import TOKEN, Reply, make_client, scripted

from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.errors import (
    FatalApiError,
    NotFoundError,
    RetriableApiError,
    StoreReplyError,
    origin,
    redact,
)
from connectors.bigcommerce.policy import RetryPolicy
from connectors.bigcommerce.values import InvalidValue, integer, money
from engine.errors import ConfigError


def test_401_names_the_token_variable() -> None:
    client, _, _ = make_client(scripted(Reply(401, {"title": "Unauthorized"})),
                               token_name="MY_STORE_TOKEN")
    with pytest.raises(FatalApiError) as info:
        client.server_time()
    assert str(info.value).startswith(
        "BigCommerce GET /v2/time: 401 from the store: check MY_STORE_TOKEN (HTTP 401:")
    assert TOKEN not in str(info.value)


def test_404_on_a_store_wide_endpoint_names_the_store_hash() -> None:
    client, _, _ = make_client(scripted(Reply(404, {"title": "Unknown store or path"})))
    with pytest.raises(NotFoundError) as info:
        client.server_time()
    assert "404: no store with hash 'abc123' (BIGCOMMERCE_STORE_HASH / store.store_hash) at " \
           "https://api.bigcommerce.com" in str(info.value)


def test_404_on_one_order_is_about_that_order() -> None:
    client, _, _ = make_client(scripted(Reply(404, [{"status": 404}])))
    with pytest.raises(NotFoundError) as info:
        client.get_order(5)
    assert "no store with hash" not in str(info.value) and "HTTP 404" in str(info.value)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_fails_after_two_short_logged_retries(
        caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    sleeps: list[float] = []
    client = BigCommerceClient("abc", "tok-1234", f"http://127.0.0.1:{port}",
                               sleep=sleeps.append)
    with caplog.at_level(logging.WARNING, logger="rulesync.store"):
        with pytest.raises(RetriableApiError) as info:
            client.server_time()
    assert str(info.value) == (f"BigCommerce GET /v2/time: cannot reach http://127.0.0.1:{port} "
                               "(connection refused)")
    assert not info.value.ambiguous and len(sleeps) == 2 and sum(sleeps) <= 4.0
    assert [r.getMessage().split("; ")[1][:10] for r in caplog.records] == ["retry 1 of",
                                                                          "retry 2 of"]


@pytest.mark.parametrize("url", ["ftp://user:hunter22@example.com", "api.bigcommerce.com",
                                 "https://", "http://host:99999", "file:///etc/passwd",
                                 "https://[::1", "https://hunter22@[::1/x"])
def test_an_api_url_without_http_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        BigCommerceClient("abc", "tok-1234", url)
    assert "BIGCOMMERCE_API_URL / store.api_url" in str(info.value)
    assert "hunter22" not in str(info.value)


@pytest.mark.parametrize("token", ["tok\u20acn-1234", "t\u00f6k\nen"])
def test_a_token_an_http_header_cannot_carry_is_refused(token: str) -> None:
    with pytest.raises(ConfigError) as info:
        BigCommerceClient("abc", token)
    assert "BIGCOMMERCE_ACCESS_TOKEN" in str(info.value) and token not in str(info.value)


def test_redaction_replaces_secrets_and_userinfo_only() -> None:
    text = "GET https://bob:pa55@h.example/x failed for tok-9; token: set it"
    assert redact(text, "tok-9") == "GET https://***@h.example/x failed for ***; token: set it"
    assert origin("https://bob:pa55@h.example:8443/stores/x") == "https://h.example:8443"


BAD_REPLIES: list[tuple[str, Any, str]] = [
    ("order_statuses", {"data": []}, "expected a list of statuses, got an object"),
    ("order_statuses", [{"id": "abc"}], "the id of status 0 is 'abc', not a whole number"),
    ("server_time", {"time": "abc"}, "'time' is 'abc', not a whole number"),
    ("server_time", {"time": "1e1000000"}, "'time' is '1e1000000', not a whole number"),
    ("server_time", [1], "expected the server time (an object), got a list"),
    ("list_orders_page", {"id": 1}, "expected a list of orders, got an object"),
    ("list_orders_page", [{"id": "abc"}], "the id of order 0 is 'abc', not a whole number"),
    ("list_orders_page", [{"id": 1}, "x"], "item 1 of the orders is a string, not an object"),
    ("list_orders_page", [{"id": "1e1000000"}], "is '1e1000000', not a whole number"),
    ("list_orders_page", [{"id": 0}], "the id of order 0 is 0"),
]


@pytest.mark.parametrize("method,reply,says", BAD_REPLIES)
def test_a_reply_of_the_wrong_shape_names_the_endpoint(method: str, reply: Any,
                                                       says: str) -> None:
    client, _, sleeps = make_client(scripted(Reply(200, reply)))
    with pytest.raises(StoreReplyError) as info:
        getattr(client, method)()
    assert says in str(info.value) and sleeps == []
    assert str(info.value).startswith("BigCommerce GET /v2/")


def test_a_web_page_instead_of_json_is_not_retried() -> None:
    page = Reply(200, "<html>", {"Content-Type": "text/html; charset=utf-8"})
    client, adapter, _ = make_client(scripted(page), policy=RetryPolicy(max_retries=3))
    with pytest.raises(StoreReplyError) as info:
        client.server_time()
    assert len(adapter.calls) == 1 and "text/html, not JSON" in str(info.value)


@pytest.mark.parametrize("value", ["1e1000000", "-1e999999", "1e18", 10 ** 40, "0E-1000000"])
def test_huge_numbers_are_refused_at_once(value: Any) -> None:
    with pytest.raises(InvalidValue):
        integer(value, "items_total")
    with pytest.raises(InvalidValue):
        money(value, "total_inc_tax")
