"""One API quota per store: a token bucket every request takes a token from before it is sent.

BigCommerce counts every request against one quota per store and window (FACTS §8: 150 per 30 s
on Standard and Plus, 450 on Pro), shared by everything that calls the store. The bucket keeps
the requests of all the threads (and, with a shared backend, all the processes) that use it
under that quota, so the store never has to answer 429.

Why these numbers. The store counts in windows whose start we do not know, and a request is
counted a little after the bucket let it go (its latency, which differs from one request to the
next). A bucket holding at most `capacity` tokens and refilling `rate` per second lets out at
most `capacity + rate * T` requests in any T seconds; with `rate = (requests - capacity) /
(window + SLACK_SECONDS)` that is at most `requests` in any window stretched by SLACK_SECONDS of
latency differences, whatever the store's window boundaries are.

Priorities. Work on one order (a webhook, a retry, a push) must not wait behind a backfill of
thousands: bulk work (the change feed) may not take the last `reserve` tokens, single-order work
may. While both wait, single-order work needs fewer tokens, so it goes first; a backfill only
gets what single-order work leaves. The caller says which work a request serves with
`work(SINGLE)` / `work(BULK)` (a context variable, so a task layer sets it once per task);
unsaid, a request is bulk.

The store's headers adjust the bucket (`observe`): its advertised quota and window replace the
default (an explicitly configured quota stays a ceiling on the pace, whatever the windows),
fewer requests left than tokens drains the bucket (another app used them), and a window used up
pauses everyone until it refills; so does a 429 answered to anyone, for the wait it asks for
(or the backoff when it says none): the other threads and processes do not keep sending.

Every wait is capped at `max_wait` (store.max_wait_seconds, default the 30 s window, as for a
429 in policy.py): headers whose quota and window would pace requests further apart, or that
pause the bucket for longer, are not taken in; the next request is refused with an error quoting
them instead (the reply that carried them is used). A wait past the cap for any other reason
(configured limits, or a shared bucket's row) is refused the same way. Nothing sleeps for an
hour on a store's word.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Protocol

from connectors.bigcommerce.policy import (
    DEFAULT_MAX_WAIT,
    REQUESTS_LEFT,
    RESET_MS,
    WaitTooLong,
    header_number,
    quote,
)

BULK, SINGLE = "bulk", "single"
KINDS = (BULK, SINGLE)
DEFAULT_REQUESTS, DEFAULT_WINDOW = 150, 30.0  # Standard and Plus plans (FACTS §8)
SLACK_SECONDS = 1.0  # how much later one request may be counted than another let out after it
QUOTA = "X-Rate-Limit-Requests-Quota"
WINDOW_MS = "X-Rate-Limit-Time-Window-Ms"
PAUSE_AT_LEFT = 1  # as RatePacer: at this many requests left, wait for the window to refill
_EPSILON = 1e-9
QUIET_WAIT = 2.0  # seconds: shorter waits are the bucket's pace, not worth a log line
log = logging.getLogger("rulesync.store")
_kind: ContextVar[str | None] = ContextVar("rulesync_quota_kind", default=None)


def current_kind() -> str:
    return _kind.get() or BULK


@contextmanager
def work(kind: str, *, unless_said: bool = False) -> Iterator[None]:
    """Requests made inside serve `kind` of work; with `unless_said`, only when no caller
    further up has said already (a task that says "bulk" keeps it through the connector)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of work {kind!r} (known: {', '.join(KINDS)})")
    if unless_said and _kind.get() is not None:
        yield
        return
    token = _kind.set(kind)
    try:
        yield
    finally:
        _kind.reset(token)


@dataclass(frozen=True)
class Limits:
    """`requests` per `window` seconds, and the bucket shape that keeps under them."""

    requests: int = DEFAULT_REQUESTS
    window: float = DEFAULT_WINDOW

    @property
    def capacity(self) -> int:
        # At least 2 from 10 requests a window: room for a reserve, so that single-order work
        # still goes first on a small quota (below 10, the pace a token of it costs matters more).
        return max(1 if self.requests < 10 else 2, min(self.requests // 10, 20))

    @property
    def reserve(self) -> int:
        """Tokens bulk work leaves for single-order work."""
        return min(self.capacity - 1, max(1, self.capacity // 4))

    @property
    def rate(self) -> float:
        return max(1, self.requests - self.capacity) / (self.window + SLACK_SECONDS)

    @property
    def longest_pace(self) -> float:
        """The longest wait the pace makes: bulk work's tokens, refilled from empty."""
        return (1 + self.reserve) / self.rate


@dataclass(frozen=True)
class Bucket:
    limits: Limits
    tokens: float
    stamp: float  # when `tokens` was right, in the backend's clock
    paused_until: float = 0.0

    @classmethod
    def full(cls, limits: Limits, now: float) -> Bucket:
        return cls(limits, float(limits.capacity), now)

    def at(self, now: float) -> Bucket:
        """Refilled up to `now` (a clock read before another's update never refills backwards)."""
        now = max(now, self.stamp)
        tokens = min(self.limits.capacity, self.tokens + (now - self.stamp) * self.limits.rate)
        return replace(self, tokens=tokens, stamp=now)


def take(bucket: Bucket, now: float, kind: str) -> tuple[Bucket, float]:
    """(the bucket with one token taken, 0.0), or (the bucket, seconds to wait before asking
    again) when `kind` of work may not have a token yet."""
    b = bucket.at(now)
    if b.stamp < b.paused_until:
        return b, b.paused_until - b.stamp
    need = 1 if kind == SINGLE else 1 + b.limits.reserve
    if b.tokens + _EPSILON >= need:
        return replace(b, tokens=max(0.0, b.tokens - 1)), 0.0
    return b, (need - b.tokens) / b.limits.rate


@dataclass(frozen=True)
class Advice:
    """What one reply's X-Rate-Limit-* headers say (None: not said, or not usable)."""

    quota: float | None
    window: float | None  # seconds
    left: float | None
    reset: float | None  # seconds
    headers: Mapping[str, str] = field(default_factory=dict)  # as sent, to quote them

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Advice:
        window, reset = header_number(headers, WINDOW_MS), header_number(headers, RESET_MS)
        return cls(header_number(headers, QUOTA), None if window is None else window / 1000,
                   header_number(headers, REQUESTS_LEFT), None if reset is None else reset / 1000,
                   headers)

    @property
    def sets_limits(self) -> bool:
        return self.quota is not None and self.quota >= 2 and bool(self.window)

    def limits(self, current: Limits, ceiling: Limits | None) -> Limits:
        if not self.sets_limits:
            return current
        assert self.quota is not None and self.window is not None
        return capped(Limits(int(self.quota), min(self.window, 3600.0)), ceiling)

    def pause(self, limits: Limits) -> float:
        """Seconds a window used up pauses the bucket (0: not used up, or no reset said); never
        beyond the window."""
        if self.left is None or self.left > PAUSE_AT_LEFT or self.reset is None:
            return 0.0
        return min(self.reset, limits.window)

    def changes(self, limits: Limits, ceiling: Limits | None) -> bool:
        """Whether `observe` could change a bucket of these limits (its tokens never exceed
        their capacity)."""
        return (self.limits(limits, ceiling) != limits
                or (self.left is not None and self.left < limits.capacity))

    def refusal(self, current: Limits, max_wait: float, source: str = "") -> WaitTooLong | None:
        """The error for a bucket of `current` limits that these headers would make wait longer
        than `max_wait` (by the pace of the limits they set, or by a pause), quoting them; a
        slower configured quota is refused by the wait it makes (`Waiting.acquire`)."""
        limits = self.limits(current, None)
        if self.sets_limits and limits.longest_pace > max_wait:
            return WaitTooLong(quote(self.headers, QUOTA, WINDOW_MS), limits.longest_pace,
                               max_wait, source)
        if (pause := self.pause(limits)) > max_wait:
            return WaitTooLong(quote(self.headers, REQUESTS_LEFT, RESET_MS), pause, max_wait,
                               source)
        return None


def observe(bucket: Bucket, now: float, advice: Advice, ceiling: Limits | None) -> Bucket:
    b = bucket.at(now)
    limits = advice.limits(b.limits, ceiling)
    tokens, paused = min(b.tokens, limits.capacity), b.paused_until
    if advice.left is not None:
        tokens = min(tokens, advice.left)
    if pause := advice.pause(limits):
        paused = max(paused, b.stamp + pause)
    return Bucket(limits, tokens, b.stamp, paused)


def capped(limits: Limits, ceiling: Limits | None) -> Limits:
    """The slower of `limits` and a configured quota, whatever their windows: 100 per 60 s
    configured and 150 per 30 s said by the store give 100 per 60 s."""
    if ceiling is None or limits.requests * ceiling.window <= ceiling.requests * limits.window:
        return limits
    return ceiling


def paused(bucket: Bucket, now: float, seconds: float) -> Bucket:
    """Nobody's request goes for `seconds` (a 429 answered to anyone)."""
    b = bucket.at(now)
    return replace(b, tokens=0.0, paused_until=max(b.paused_until, b.stamp + seconds))


class QuotaBucket(Protocol):
    def acquire(self, kind: str | None = None) -> float: ...
    def observe(self, headers: Mapping[str, str], source: str = "") -> None: ...
    def pause(self, seconds: float) -> None: ...
    def close(self) -> None: ...


class Waiting:
    """The waiting loop both backends share: `_take` returns how long to wait, 0 to go; no
    wait is longer than `max_wait` (a longer one is a `WaitTooLong`, never a sleep)."""

    def __init__(self, sleep: Callable[[float], None], max_wait: float = DEFAULT_MAX_WAIT
                 ) -> None:
        self._sleep, self.max_wait = sleep, max_wait
        self._refused: WaitTooLong | None = None

    def _take(self, kind: str) -> float:
        raise NotImplementedError

    @property
    def limits(self) -> Limits:
        raise NotImplementedError

    def refuse(self, error: WaitTooLong) -> None:
        """Headers that would make the next request wait too long: it raises `error` instead
        (once: the one after it asks the store again)."""
        self._refused = error

    def acquire(self, kind: str | None = None) -> float:
        """Block until a request of `kind` (default: the current work's) may go; the seconds
        waited. Raises `WaitTooLong` instead of a wait past `max_wait`."""
        kind = kind or current_kind()
        refused, self._refused = self._refused, None
        if refused is not None:
            raise refused
        waited = 0.0
        while (wait := self._take(kind)) > 0:
            if wait > self.max_wait:
                limits = self.limits
                raise WaitTooLong(f"{limits.requests} requests per {limits.window:g} s", wait,
                                  self.max_wait, lead=f"the API quota makes {kind} work wait")
            if wait >= QUIET_WAIT:  # pacing is silent; a pause for the window is not
                log.warning("the store's API quota is used up: %s work waits %.1f s for it to "
                            "refill", kind, wait)
            self._sleep(wait)
            waited += wait
        return waited


class ProcessBucket(Waiting):
    """The bucket in this process's memory: every thread of one `apply` or `serve` shares it."""

    def __init__(self, limits: Limits, ceiling: Limits | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 max_wait: float = DEFAULT_MAX_WAIT) -> None:
        super().__init__(sleep, max_wait)
        self._clock, self._ceiling = clock, ceiling
        self._lock = threading.Lock()
        self.bucket = Bucket.full(limits, clock())

    @property
    def limits(self) -> Limits:
        return self.bucket.limits

    def _take(self, kind: str) -> float:
        with self._lock:
            self.bucket, wait = take(self.bucket, self._clock(), kind)
        return wait

    def observe(self, headers: Mapping[str, str], source: str = "") -> None:
        advice = Advice.of(headers)
        with self._lock:
            refused = advice.refusal(self.bucket.limits, self.max_wait, source)
            if refused is not None:
                self.refuse(refused)
            elif advice.changes(self.bucket.limits, self._ceiling):
                self.bucket = observe(self.bucket, self._clock(), advice, self._ceiling)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self.bucket = paused(self.bucket, self._clock(), seconds)

    def close(self) -> None:
        pass
