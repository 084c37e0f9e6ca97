"""The store's token bucket: its shape keeps any window under the quota, single-order work goes
before bulk, the store's headers adjust it, and the kind of work follows the caller's context."""
from __future__ import annotations

import bisect
import contextvars
import threading

import pytest

from connectors.bigcommerce.policy import WaitTooLong
from connectors.bigcommerce.quota import (
    BULK,
    SINGLE,
    SLACK_SECONDS,
    Advice,
    Bucket,
    Limits,
    ProcessBucket,
    current_kind,
    observe,
    take,
    work,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


@pytest.mark.parametrize("requests,window", [(150, 30.0), (450, 30.0), (20, 2.0), (2, 1.0),
                                              (9, 30.0), (10, 30.0), (19, 30.0),
                                              (10_000, 30.0)])
def test_no_stretched_window_lets_out_more_than_the_quota(requests: int, window: float) -> None:
    limits = Limits(requests, window)
    assert limits.capacity + limits.rate * (window + SLACK_SECONDS) <= requests + 1e-9
    t = FakeTime()
    bucket = ProcessBucket(limits, clock=t.clock, sleep=t.sleep)
    times = []
    for _ in range(3 * requests):
        bucket.acquire(SINGLE)
        times.append(t.now)
    span = window + SLACK_SECONDS
    most = max(bisect.bisect_left(times, s + span) - i for i, s in enumerate(times))
    assert most <= requests


def test_bulk_leaves_the_reserve_to_single_order_work() -> None:
    limits = Limits(450, 30)
    b = Bucket.full(limits, 0.0)
    assert (limits.capacity, limits.reserve) == (20, 5)
    for _ in range(limits.capacity - limits.reserve):
        b, wait = take(b, 0.0, BULK)
        assert wait == 0
    b, wait = take(b, 0.0, BULK)
    assert wait == pytest.approx(1 / limits.rate)  # one more token, then one to spare
    for _ in range(limits.reserve):
        b, wait = take(b, 0.0, SINGLE)
        assert wait == 0
    b, wait = take(b, 0.0, SINGLE)
    assert wait == pytest.approx(1 / limits.rate)


@pytest.mark.parametrize("requests", [150, 10])
def test_single_order_work_goes_first_while_both_wait(requests: int) -> None:
    """On a small quota too (from 10 a window, a capacity of 2 leaves one token in reserve)."""
    limits = Limits(requests, 30)
    assert limits.reserve >= 1
    b = Bucket(limits, 0.0, 0.0)
    _, single = take(b, 0.0, SINGLE)
    _, bulk = take(b, 0.0, BULK)
    assert single < bulk
    # Both ask again when single's wait is over: single gets the token, bulk still waits.
    b, wait = take(b, single, SINGLE)
    assert wait == 0
    _, wait = take(b, single, BULK)
    assert wait > 0


def test_the_stores_headers_set_the_limits_under_a_configured_ceiling() -> None:
    headers = {"x-rate-limit-requests-quota": "450", "X-Rate-Limit-Time-Window-Ms": "30000",
               "X-Rate-Limit-Requests-Left": "400", "X-Rate-Limit-Time-Reset-Ms": "12000"}
    b = Bucket.full(Limits(), 0.0)
    assert observe(b, 0.0, Advice.of(headers), None).limits == Limits(450, 30.0)
    assert observe(b, 0.0, Advice.of(headers), Limits(200, 30)).limits == Limits(200, 30.0)
    # The ceiling is a pace, whatever the windows: the slower of the two is kept, whole.
    assert observe(b, 0.0, Advice.of(headers), Limits(100, 60)).limits == Limits(100, 60.0)
    assert observe(b, 0.0, Advice.of(headers), Limits(1000, 10)).limits == Limits(450, 30.0)
    small = observe(b, 0.0, Advice.of(headers), Limits(10, 120))  # slow, but no refusal
    assert small.limits == Limits(10, 120) and Advice.of(headers).refusal(small.limits, 30) is None
    unusable = {**headers, "X-Rate-Limit-Requests-Quota": "nan"}
    assert observe(b, 0.0, Advice.of(unusable), None).limits == Limits()


def test_few_requests_left_drain_the_bucket_and_none_left_pauses_it() -> None:
    b = Bucket.full(Limits(150, 30), 0.0)
    drained = observe(b, 0.0, Advice(None, None, left=4, reset=10.0), None)
    assert drained.tokens == 4 and drained.paused_until == 0
    paused = observe(b, 0.0, Advice(None, None, left=0, reset=7.5), None)
    assert paused.tokens == 0 and paused.paused_until == 7.5
    _, wait = take(paused, 2.5, SINGLE)
    assert wait == 5.0
    # A reset longer than the window is not believed beyond the window.
    assert observe(b, 0.0, Advice(None, None, 0, 900.0), None).paused_until == 30.0


def test_advice_says_whether_it_can_change_anything() -> None:
    limits = Limits(150, 30)
    assert not Advice(150, 30.0, 100, 5.0).changes(limits, None)
    assert Advice(450, 30.0, 100, 5.0).changes(limits, None)
    assert not Advice(450, 30.0, 100, 5.0).changes(limits, Limits(150, 30))
    assert Advice(None, None, 3, 5.0).changes(limits, None)


def test_a_429_pauses_everyone_for_the_wait_it_asks() -> None:
    """Not only the thread that got it: the others would keep sending (FACTS §8)."""
    t = FakeTime()
    bucket = ProcessBucket(Limits(150, 30), clock=t.clock, sleep=t.sleep)
    bucket.acquire(SINGLE)
    bucket.pause(5.0)
    assert bucket.acquire(SINGLE) == pytest.approx(5.0)
    assert t.now == pytest.approx(1005.0)


SLOW = {"X-Rate-Limit-Requests-Quota": "2", "X-Rate-Limit-Time-Window-Ms": "3600000"}


@pytest.mark.parametrize("window_ms", ["3600000", "1e12"])
def test_headers_that_would_pace_requests_past_the_cap_refuse_the_next_request(
        window_ms: str) -> None:
    t = FakeTime()
    bucket = ProcessBucket(Limits(150, 30), clock=t.clock, sleep=t.sleep)
    bucket.observe({**SLOW, "X-Rate-Limit-Time-Window-Ms": window_ms}, "GET /v2/orders")
    assert bucket.limits == Limits(150, 30)  # not taken in
    with pytest.raises(WaitTooLong) as info:
        bucket.acquire(BULK)
    assert str(info.value) == (
        "the store asks to wait 3601 s (X-Rate-Limit-Requests-Quota: 2, "
        f"X-Rate-Limit-Time-Window-Ms: {window_ms} in its reply to GET /v2/orders), more than "
        "the 30 s limit (store.max_wait_seconds in rulesync.yaml)")
    assert bucket.acquire(BULK) == 0.0 and t.now == 1000.0  # once: the next asks the store


def test_the_cap_is_configurable() -> None:
    t = FakeTime()
    bucket = ProcessBucket(Limits(150, 30), clock=t.clock, sleep=t.sleep, max_wait=4000)
    bucket.observe(SLOW)
    assert bucket.limits == Limits(2, 3600.0)
    bucket.acquire(BULK)
    assert bucket.acquire(BULK) == pytest.approx(3601.0)


def test_a_pause_past_the_cap_is_refused_quoting_the_headers() -> None:
    t = FakeTime()
    bucket = ProcessBucket(Limits(150, 30), clock=t.clock, sleep=t.sleep)
    headers = {"X-Rate-Limit-Requests-Quota": "10000", "X-Rate-Limit-Time-Window-Ms": "3600000",
               "X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "3599000"}
    bucket.observe(headers)
    with pytest.raises(WaitTooLong, match=r"wait 3599 s \(X-Rate-Limit-Requests-Left: 0, "
                                          r"X-Rate-Limit-Time-Reset-Ms: 3599000\)"):
        bucket.acquire(SINGLE)
    assert bucket.bucket.paused_until == 0.0


def test_no_wait_is_past_the_cap_whatever_made_it() -> None:
    """Limits configured (or read from a shared row) that pace requests an hour apart."""
    t = FakeTime()
    bucket = ProcessBucket(Limits(2, 3600), clock=t.clock, sleep=t.sleep)
    assert bucket.acquire(BULK) == 0.0
    with pytest.raises(WaitTooLong) as info:
        bucket.acquire(BULK)
    assert str(info.value).startswith(
        "the API quota makes bulk work wait 3601 s (2 requests per 3600 s), more than the 30 s "
        "limit")
    assert t.now == 1000.0  # never slept


def test_the_kind_of_work_follows_the_context_into_other_threads() -> None:
    assert current_kind() == BULK
    seen: list[str] = []
    with work(SINGLE):
        assert current_kind() == SINGLE
        with work(BULK, unless_said=True):
            assert current_kind() == SINGLE  # the caller said already
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(lambda: seen.append(current_kind()),))
        thread.start()
        thread.join()
    assert seen == [SINGLE]
    assert current_kind() == BULK
    with pytest.raises(ValueError, match="unknown kind of work 'webhook'"):
        with work("webhook"):
            pass


def test_threads_sharing_a_bucket_take_each_token_once() -> None:
    t = FakeTime()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            t.now += seconds

    limits = Limits(100, 10)
    bucket = ProcessBucket(limits, clock=t.clock, sleep=sleep)
    threads = [threading.Thread(target=lambda: [bucket.acquire(BULK) for _ in range(25)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 100 tokens were taken: the first (capacity - reserve) at once, the rest at the rate, so
    # the clock moved by at least the time those took to refill.
    assert t.now - 1000.0 >= (100 - (limits.capacity - limits.reserve)) / limits.rate - 1e-6


def test_a_pause_for_the_window_is_one_log_line_and_pacing_is_silent(
        caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    bucket = ProcessBucket(Limits(450, 30), clock=t.clock, sleep=t.sleep)
    with caplog.at_level("WARNING", logger="rulesync.store"):
        for _ in range(40):
            bucket.acquire(BULK)
        assert caplog.messages == []
        bucket.observe({"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "9000"})
        bucket.acquire(SINGLE)
    assert caplog.messages == [
        "the store's API quota is used up: single work waits 9.0 s for it to refill"]
