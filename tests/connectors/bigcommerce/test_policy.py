"""Rate-limit headers are advice, not orders: bad values fall back, long waits are refused."""
from __future__ import annotations

import logging
import random

import pytest
from test_client_fakes import Reply, make_client, scripted

from connectors.bigcommerce.errors import RateLimitError
from connectors.bigcommerce.policy import (
    RESET_MS,
    RETRY_AFTER,
    RatePacer,
    RetryPolicy,
    WaitTooLong,
    header_number,
    rate_limited_delay,
)

TIME = Reply(200, {"time": 1})
UNUSABLE = ["abc", "", "-5000", "-0.5", "nan", "NaN", "inf", "-inf", "Infinity", "1e400",
            "0x10", "1" * 60]


@pytest.mark.parametrize("value", UNUSABLE)
def test_an_unusable_header_value_reads_as_absent(value: str) -> None:
    assert header_number({RESET_MS: value}, RESET_MS) is None


@pytest.mark.parametrize("value,number", [("2500", 2500.0), (" 7 ", 7.0), ("0", 0.0),
                                          ("1.5", 1.5), ("1e3", 1000.0)])
def test_a_usable_header_value_is_read_in_any_letter_case(value: str, number: float) -> None:
    assert header_number({RESET_MS.upper(): value}, RESET_MS) == number


@pytest.mark.parametrize("value", UNUSABLE)
def test_429_with_an_unusable_reset_falls_back_to_retry_after(value: str) -> None:
    policy = RetryPolicy()
    rng = random.Random(1)
    assert rate_limited_delay({RESET_MS: value, RETRY_AFTER: "4"}, 0, policy, rng) == 4.0
    fallback = rate_limited_delay({RESET_MS: value, RETRY_AFTER: value}, 0, policy, rng)
    assert 0.5 <= fallback <= 1.0  # neither usable: the platform-load backoff


def test_429_waits_the_longer_of_the_reset_and_retry_after() -> None:
    policy, rng = RetryPolicy(), random.Random(1)
    assert rate_limited_delay({RESET_MS: "0", RETRY_AFTER: "1"}, 0, policy, rng) == 1.0
    assert rate_limited_delay({RESET_MS: "2500", RETRY_AFTER: "1"}, 0, policy, rng) == 2.5


@pytest.mark.parametrize("headers,quoted", [
    ({RESET_MS: "1e12"}, f"{RESET_MS}: 1e12"),
    ({RESET_MS: "30001"}, f"{RESET_MS}: 30001"),
    ({RETRY_AFTER: "86400"}, f"{RETRY_AFTER}: 86400"),
    ({RESET_MS: "nan", RETRY_AFTER: "1e9"}, f"{RETRY_AFTER}: 1e9"),
])
def test_429_asking_for_more_than_the_cap_is_refused_quoting_the_header(
        headers: dict[str, str], quoted: str) -> None:
    with pytest.raises(WaitTooLong) as info:
        rate_limited_delay(headers, 0, RetryPolicy(), random.Random(1))
    assert quoted in str(info.value) and "30 s limit" in str(info.value)
    assert "max_wait_seconds" in str(info.value)


def test_every_429_wait_is_capped_even_with_backoff_on_top() -> None:
    policy = RetryPolicy(max_wait=30.0, max_delay=60.0)
    rng = random.Random(3)
    for attempt in range(8):
        assert rate_limited_delay({RESET_MS: "29000"}, attempt, policy, rng) <= 30.0
        assert rate_limited_delay({}, attempt, policy, rng) <= 30.0


def test_the_cap_is_configurable() -> None:
    policy = RetryPolicy(max_wait=120.0)
    assert rate_limited_delay({RETRY_AFTER: "90"}, 0, policy, random.Random(1)) == 90.0
    with pytest.raises(WaitTooLong):
        rate_limited_delay({RETRY_AFTER: "121"}, 0, policy, random.Random(1))


def pacer_after(headers: dict[str, str], now: float = 100.0) -> RatePacer:
    pacer = RatePacer(lambda: now, max_wait=30.0, fallback=1.0)
    pacer.observe(headers, "GET /v2/time")
    return pacer


@pytest.mark.parametrize("value", UNUSABLE)
def test_requests_left_zero_with_an_unusable_reset_waits_the_fallback(value: str) -> None:
    assert pacer_after({"X-Rate-Limit-Requests-Left": "0", RESET_MS: value}).delay() == 1.0


@pytest.mark.parametrize("value", UNUSABLE)
def test_an_unusable_requests_left_is_no_advice(value: str) -> None:
    assert pacer_after({"X-Rate-Limit-Requests-Left": value, RESET_MS: "9000"}).delay() == 0.0


def test_requests_left_zero_with_a_huge_reset_refuses_the_next_call() -> None:
    pacer = pacer_after({"X-Rate-Limit-Requests-Left": "0", RESET_MS: "1e12"})
    with pytest.raises(WaitTooLong) as info:
        pacer.delay()
    assert f"{RESET_MS}: 1e12 in its reply to GET /v2/time" in str(info.value)


def test_client_retries_a_429_with_a_negative_reset_after_a_short_backoff() -> None:
    bad = Reply(429, None, {RESET_MS: "-5000"})
    client, adapter, sleeps = make_client(scripted(bad, TIME))
    assert client.server_time() == 1
    assert len(adapter.calls) == 2 and len(sleeps) == 1 and 0 < sleeps[0] <= 1.0


def test_client_refuses_a_429_asking_for_days_without_sleeping() -> None:
    client, adapter, sleeps = make_client(scripted(Reply(429, None, {RESET_MS: "1e12"}), TIME))
    with pytest.raises(RateLimitError) as info:
        client.server_time()
    assert sleeps == [] and len(adapter.calls) == 1
    assert "GET /v2/time" in str(info.value) and f"{RESET_MS}: 1e12" in str(info.value)
    assert info.value.ambiguous is False


def test_client_refuses_to_wait_out_a_200_with_no_requests_left_and_a_huge_reset() -> None:
    spent = Reply(200, {"time": 1}, {"X-Rate-Limit-Requests-Left": "0", RESET_MS: "1e12"})
    client, adapter, sleeps = make_client(scripted(spent, TIME))
    assert client.server_time() == 1  # the reply itself is good
    with pytest.raises(RateLimitError) as info:
        client.order_statuses()
    assert sleeps == [] and len(adapter.calls) == 1  # the next call was not sent
    message = str(info.value)
    assert message.startswith("BigCommerce GET /v2/order_statuses: not sent:")
    assert f"{RESET_MS}: 1e12 in its reply to GET /v2/time" in message


def test_client_waits_out_a_200_with_no_requests_left_and_a_nan_reset(
        caplog: pytest.LogCaptureFixture) -> None:
    spent = Reply(200, {"time": 1}, {"X-Rate-Limit-Requests-Left": "0", RESET_MS: "nan"})
    client, _, sleeps = make_client(scripted(spent, TIME))
    client.server_time()
    with caplog.at_level(logging.INFO, logger="rulesync.store"):
        client.server_time()
    assert sleeps == [1.0]
    assert [r.getMessage() for r in caplog.records] == [
        "GET /v2/time: the store's rate limit is used up (X-Rate-Limit-Requests-Left: 0); "
        "waiting 1.0 s"]


def test_each_retry_is_one_log_line_with_reason_delay_and_attempt(
        caplog: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(max_retries=3, server_error_floor=2.0, base_delay=1.0, max_delay=2.0)
    limited = Reply(429, None, {RESET_MS: "1500"})
    client, _, sleeps = make_client(scripted(Reply(503), limited, TIME), policy=policy)
    with caplog.at_level(logging.WARNING, logger="rulesync.store"):
        assert client.server_time() == 1
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"GET /v2/time: HTTP 503; retry 1 of 3 in {sleeps[0]:.1f} s",
                     f"GET /v2/time: HTTP 429 (rate limited); retry 2 of 3 in {sleeps[1]:.1f} s"]
