"""Politeness and failures: pacing, 429, 5xx, timeouts, and creating a shipment exactly once."""
from __future__ import annotations

import pytest
import requests
from test_client_fakes import TOKEN, Call, Reply, Sleeps, make_client, scripted

from connectors.bigcommerce.errors import RetriableApiError
from connectors.bigcommerce.policy import RatePacer, RetryPolicy

TIME = Reply(200, {"time": 1})
FAST = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=8.0, server_error_floor=60.0)


def test_pacing_waits_for_the_window_when_requests_left_is_low() -> None:
    low = Reply(200, {"time": 1}, {"x-rate-limit-requests-left": "1",  # any letter case
                                   "X-RATE-LIMIT-TIME-RESET-MS": "1500"})
    client, _, sleeps = make_client(scripted(low, TIME, TIME))
    client.server_time()
    assert sleeps == []
    client.server_time()
    assert sleeps == [1.5]
    client.server_time()  # the old figures were forgotten after the wait
    assert sleeps == [1.5]


def test_pacing_counts_time_already_elapsed() -> None:
    now = [100.0]
    pacer = RatePacer(lambda: now[0])
    pacer.observe({"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "2000"})
    now[0] = 101.5
    assert pacer.delay() == pytest.approx(0.5)
    pacer.observe({"X-Rate-Limit-Requests-Left": "40", "X-Rate-Limit-Time-Reset-Ms": "2000"})
    assert pacer.delay() == 0.0


def test_429_waits_time_reset_ms_and_retries() -> None:
    limited = Reply(429, [{"status": 429}], {"X-Rate-Limit-Time-Reset-Ms": "2500"})
    client, adapter, sleeps = make_client(scripted(limited, TIME))
    assert client.server_time() == 1
    assert sleeps == [2.5] and len(adapter.calls) == 2
    assert client.stats["rate_limited"] == 1


def test_429_falls_back_to_retry_after_then_backoff() -> None:
    client, _, sleeps = make_client(
        scripted(Reply(429, None, {"X-Retry-After": "3"}), Reply(429), TIME), policy=FAST)
    assert client.server_time() == 1
    assert sleeps[0] == 3.0
    assert 1.0 <= sleeps[1] <= 2.0  # no headers: the platform is busy, back off (attempt 1)


def test_a_429_without_headers_pauses_the_stores_bucket_for_everyone() -> None:
    """While the thread that got it backs off, any other request of the store (another
    thread's; in PostgreSQL, another process's) waits in the bucket as long."""
    from connectors.bigcommerce.quota import SINGLE, Limits, ProcessBucket

    now, others = [1000.0], []

    class Backoff(Sleeps):
        def __call__(self, seconds: float) -> None:
            others.append(bucket._take(SINGLE))  # another thread asks for a token now
            super().__call__(seconds)
            now[0] += seconds

    def wait(seconds: float) -> None:  # the bucket's own waits (its pace after the pause)
        now[0] += seconds

    bucket = ProcessBucket(Limits(150, 30), clock=lambda: now[0], sleep=wait)
    client, _, sleeps = make_client(scripted(Reply(429), TIME), policy=FAST, quota=bucket,
                                    clock=lambda: now[0], sleeps=Backoff())
    assert client.server_time() == 1
    assert len(sleeps) == 1 and others == [pytest.approx(sleeps[0])]


def test_repeated_429_backs_off_further() -> None:
    limited = Reply(429, None, {"X-Rate-Limit-Time-Reset-Ms": "1000"})
    client, _, sleeps = make_client(scripted(limited, limited, TIME), policy=FAST)
    client.server_time()
    assert sleeps[0] == 1.0 and sleeps[1] > 1.0


def test_429_on_post_is_retried_because_nothing_was_created() -> None:
    limited = Reply(429, None, {"X-Rate-Limit-Time-Reset-Ms": "10"})
    client, adapter, _ = make_client(scripted(limited, Reply(201, {"id": 1})))
    assert client.create_shipment(5, {"order_address_id": 1, "items": []}) == {"id": 1}
    assert len(adapter.calls) == 2


def test_5xx_on_get_is_retried_with_growing_delays_of_at_least_a_minute() -> None:
    err = Reply(503, {"title": "maintenance"})
    client, adapter, sleeps = make_client(scripted(err, err, TIME), policy=FAST)
    assert client.server_time() == 1
    assert len(adapter.calls) == 3 and all(s >= 60.0 for s in sleeps)


def test_retries_are_capped_and_then_classified() -> None:
    client, adapter, sleeps = make_client(scripted(), policy=FAST)  # 500 forever
    with pytest.raises(RetriableApiError) as info:
        client.server_time()
    assert len(adapter.calls) == 4 and len(sleeps) == 3
    assert info.value.status == 500 and info.value.endpoint == "/v2/time"


@pytest.mark.parametrize("exc,says,ambiguous", [
    (requests.ReadTimeout("t"), "no answer from https://api.bigcommerce.com within 30 s", True),
    (requests.ConnectionError(f"dropped {TOKEN}"), "the connection to https://api.bigcommerce.com "
                                                   "failed", True),
    (requests.exceptions.ChunkedEncodingError("cut"), "dropped before the reply", True),
    (requests.ConnectTimeout("t"), "cannot reach https://api.bigcommerce.com (no connection within "
                                   "5 s)", False),
], ids=["read-timeout", "connection-error", "cut-off", "connect-timeout"])
def test_timeouts_and_drops_are_retried_and_never_leak(exc: Exception, says: str,
                                                       ambiguous: bool) -> None:
    policy = RetryPolicy(max_retries=1, base_delay=1.0, max_delay=4.0)
    client, adapter, sleeps = make_client(scripted(exc, exc), policy=policy)
    with pytest.raises(RetriableApiError) as info:
        client.server_time()
    err = info.value
    assert len(adapter.calls) == 2 and len(sleeps) == 1 and sleeps[0] < 60
    assert err.status is None and err.ambiguous is ambiguous  # no connection: nothing was sent
    assert err.__cause__ is None and err.__suppress_context__
    assert TOKEN not in str(err) and says in str(err), str(err)


def test_backoff_is_capped_and_jittered() -> None:
    import random
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    rng = random.Random(1)
    delays = [policy.backoff(n, rng) for n in range(8)]
    assert all(5.0 <= d <= 10.0 for d in delays[4:])
    assert len(set(delays[4:])) == 4  # jitter: capped retries do not fall in step


def test_put_and_delete_are_retried_post_is_not() -> None:
    client, adapter, _ = make_client(scripted(Reply(502), Reply(200, {"id": 1}), Reply(502),
                                              Reply(204), Reply(502)), policy=FAST)
    client.update_order_status(1, 11)
    client.delete_shipment(1, 2)
    with pytest.raises(RetriableApiError) as info:
        client.create_shipment(1, {"order_address_id": 3, "items": []})
    assert info.value.ambiguous and info.value.status == 502
    assert [c.method for c in adapter.calls] == ["PUT", "PUT", "DELETE", "DELETE", "POST"]


BODY = {"order_address_id": 7, "tracking_number": "1Z9",
        "items": [{"order_product_id": 5, "quantity": 1}]}
CREATED = {"id": 31, "order_id": 9, "order_address_id": 7, "tracking_number": "1Z9",
           "items": [{"order_product_id": 5, "product_id": 77, "quantity": 1}]}


def test_create_shipment_once_finds_the_shipment_a_timeout_created() -> None:
    client, adapter, _ = make_client(
        scripted(requests.ReadTimeout("slow"), Reply(200, [CREATED])), policy=FAST)
    assert client.create_shipment_once(9, BODY) == CREATED
    assert [c.method for c in adapter.calls] == ["POST", "GET"]


def test_create_shipment_once_retries_when_nothing_was_created() -> None:
    other = {**CREATED, "id": 30, "tracking_number": "OTHER"}
    client, adapter, _ = make_client(
        scripted(Reply(500), Reply(200, [other]), Reply(201, CREATED)), policy=FAST)
    assert client.create_shipment_once(9, BODY) == CREATED
    assert [c.method for c in adapter.calls] == ["POST", "GET", "POST"]


def test_create_shipment_once_gives_up_after_max_retries() -> None:
    def handler(call: Call) -> Reply | Exception:
        return requests.ConnectionError("x") if call.method == "POST" else Reply(204)
    client, adapter, _ = make_client(handler, policy=RetryPolicy(max_retries=2))
    with pytest.raises(RetriableApiError):
        client.create_shipment_once(9, BODY)
    assert [c.method for c in adapter.calls].count("POST") == 3


def test_create_shipment_once_does_not_reconcile_a_fatal_error() -> None:
    client, adapter, _ = make_client(scripted(Reply(422, [{"status": 422}])), policy=FAST)
    with pytest.raises(Exception) as info:
        client.create_shipment_once(9, BODY)
    assert getattr(info.value, "status", None) == 422 and len(adapter.calls) == 1


def test_create_shipment_once_custom_match() -> None:
    client, _, _ = make_client(
        scripted(Reply(500), Reply(200, [{**CREATED, "tracking_number": ""}])), policy=FAST)
    found = client.create_shipment_once(9, BODY, match=lambda s, b: s["id"] == 31)
    assert found["id"] == 31
