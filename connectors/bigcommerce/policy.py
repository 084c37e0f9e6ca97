"""Politeness and retry policy: pacing from X-Rate-Limit-* headers and capped backoff with jitter.

Sources (see /docs/bigcommerce.md): FACTS §8. The quota is shared by every app on the store and
refills per window; `X-Rate-Limit-Requests-Left` and `X-Rate-Limit-Time-Reset-Ms` say how much is
left and when it refills. Header names can arrive in any letter case (FACTS §2).

The headers are the store's word, not ours to trust blindly: a value that is not a finite,
non-negative number is treated as absent (a safe default applies), and a wait longer than
`RetryPolicy.max_wait` is refused with `WaitTooLong`, quoting the header, instead of sleeping.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

RESET_MS = "X-Rate-Limit-Time-Reset-Ms"
RETRY_AFTER = "X-Retry-After"
REQUESTS_LEFT = "X-Rate-Limit-Requests-Left"
# BigCommerce's rate-limit window is 30 s (FACTS §8): no honest store asks for a longer wait.
DEFAULT_MAX_WAIT = 30.0


class WaitTooLong(Exception):
    """A wait of `seconds`, more than `limit` allows: the store asked for it (`quoted` gives
    the headers, "Name: value, ..."), or `lead` says what else would make it."""

    def __init__(self, quoted: str, seconds: float, limit: float, source: str = "", *,
                 lead: str = "the store asks to wait") -> None:
        self.quoted, self.seconds, self.limit = quoted, seconds, limit
        after = f" in its reply to {source}" if source else ""
        super().__init__(f"{lead} {seconds:.0f} s ({quoted}{after}), more than the {limit:g} s "
                         "limit (store.max_wait_seconds in rulesync.yaml)")


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def quote(headers: Mapping[str, str], *names: str) -> str:
    """"Name: value, ..." for those of `names` the headers carry, values as sent (cut short)."""
    lower = _lower(headers)
    return ", ".join(f"{name}: {lower[name.lower()][:40]}" for name in names
                     if name.lower() in lower)


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """The header as a finite number >= 0; None when absent, non-numeric, negative, NaN or
    infinite (each of those means "no usable advice")."""
    raw = _lower(headers).get(name.lower())
    if raw is None or len(raw) > 40:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before retry number `attempt` (0-based).

    Exponential from `base_delay`, capped at `max_delay`, with "equal jitter" (half fixed, half
    random) so that several clients do not retry in step. 5xx waits at least `server_error_floor`
    because FACTS §8 (status-codes.mdx) asks for delays of at least a minute after a 500; writes
    wait `write_factor` times longer than reads (integration-design.mdx). `max_wait` caps every
    wait a rate limit causes; a store asking for more is an error. A refused connection or an
    unknown host is retried only `unreachable_retries` times: it is more often a wrong URL than
    a passing fault, and the user should hear about it within seconds.
    """

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    server_error_floor: float = 60.0
    write_factor: float = 2.0
    max_wait: float = DEFAULT_MAX_WAIT
    unreachable_retries: int = 2

    def backoff(self, attempt: int, rng: random.Random, *, write: bool = False) -> float:
        capped = min(self.max_delay, self.base_delay * (2 ** min(attempt, 32)))
        delay = capped / 2 + rng.uniform(0, capped / 2)
        return delay * (self.write_factor if write else 1.0)

    def server_error_delay(self, attempt: int, rng: random.Random, *, write: bool = False) -> float:
        return max(self.server_error_floor, self.backoff(attempt, rng, write=write))

    def unreachable_delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.backoff(attempt, rng), 2.0)


def rate_limited_delay(
    headers: Mapping[str, str], attempt: int, policy: RetryPolicy, rng: random.Random
) -> float:
    """Seconds to wait after a 429 (FACTS §8); raises `WaitTooLong` past `policy.max_wait`.

    The longer of Time-Reset-Ms and X-Retry-After (seconds) when the store says either (a
    reset of 0 beside a Retry-After of 1 s waits the second); a 429 without a usable one means
    the platform is under load, so back off. A repeated 429 adds backoff on top of the
    advertised wait, never beyond `max_wait`.
    """
    said = [(value * scale, name) for name, scale in ((RESET_MS, 0.001), (RETRY_AFTER, 1.0))
            if (value := header_number(headers, name)) is not None]
    if not said:
        return min(policy.backoff(attempt, rng), policy.max_wait)
    wait, name = max(said)
    if wait > policy.max_wait:
        raise WaitTooLong(quote(headers, name), wait, policy.max_wait)
    extra = policy.backoff(attempt - 1, rng) if attempt > 0 else 0.0
    return min(wait + extra, policy.max_wait)


class RatePacer:
    """Remembers the last rate-limit headers and says how long to wait before the next call.

    When `requests_left` is at or below `reserve`, the next call would likely be refused, so it
    waits for the rest of the window (Time-Reset-Ms counted from when the headers arrived), or
    `fallback` seconds when the reply gave no usable reset time. A reset time past `max_wait`
    makes `delay()` raise `WaitTooLong` instead of returning it.
    """

    def __init__(self, clock: Callable[[], float], reserve: int = 1,
                 max_wait: float = DEFAULT_MAX_WAIT, fallback: float = 1.0) -> None:
        self._clock = clock
        self._reserve = reserve
        self._max_wait = max_wait
        self._fallback = fallback
        self._left: float | None = None
        self._reset_at: float | None = None
        self._refused: WaitTooLong | None = None

    def observe(self, headers: Mapping[str, str], source: str = "") -> None:
        """Take in a reply's headers; `source` ("GET /v2/orders") is named if they are refused."""
        left = header_number(headers, REQUESTS_LEFT)
        if left is None:  # absent or unusable: no advice, keep going at the normal pace
            return
        self.forget()
        if left > self._reserve:
            return
        self._left = left
        reset = header_number(headers, RESET_MS)
        wait = self._fallback if reset is None else reset / 1000.0
        if wait > self._max_wait:
            self._refused = WaitTooLong(quote(headers, RESET_MS), wait, self._max_wait, source)
            return
        self._reset_at = self._clock() + wait

    def forget(self) -> None:
        """After waiting out a window, the old figures no longer hold."""
        self._left = None
        self._reset_at = None
        self._refused = None

    @property
    def left(self) -> float | None:
        return self._left

    def delay(self) -> float:
        if self._refused is not None:
            raise self._refused
        if self._left is None or self._reset_at is None:
            return 0.0
        return max(0.0, min(self._reset_at - self._clock(), self._max_wait))
