"""Politeness and retry policy: pacing from X-Rate-Limit-* headers and capped backoff with jitter.

Sources (see /docs/bigcommerce.md): FACTS §8. The quota is shared by every app on the store and
refills per window; `X-Rate-Limit-Requests-Left` and `X-Rate-Limit-Time-Reset-Ms` say how much is
left and when it refills. Header names can arrive in any letter case (FACTS §2).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _number(headers: dict[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before retry number `attempt` (0-based).

    Exponential from `base_delay`, capped at `max_delay`, with "equal jitter" (half fixed, half
    random) so that several clients do not retry in step. 5xx waits at least `server_error_floor`
    because FACTS §8 (status-codes.mdx) asks for delays of at least a minute after a 500; writes
    wait `write_factor` times longer than reads (integration-design.mdx).
    """

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    server_error_floor: float = 60.0
    write_factor: float = 2.0

    def backoff(self, attempt: int, rng: random.Random, *, write: bool = False) -> float:
        capped = min(self.max_delay, self.base_delay * (2 ** attempt))
        delay = capped / 2 + rng.uniform(0, capped / 2)
        return delay * (self.write_factor if write else 1.0)

    def server_error_delay(self, attempt: int, rng: random.Random, *, write: bool = False) -> float:
        return max(self.server_error_floor, self.backoff(attempt, rng, write=write))


def rate_limited_delay(
    headers: Mapping[str, str], attempt: int, policy: RetryPolicy, rng: random.Random
) -> float:
    """Seconds to wait after a 429 (FACTS §8).

    Time-Reset-Ms first, then X-Retry-After (seconds); a 429 without either means the platform is
    under load, so back off. A repeated 429 adds backoff on top of the advertised wait.
    """
    low = _lower(headers)
    reset_ms = _number(low, "x-rate-limit-time-reset-ms")
    retry_after = _number(low, "x-retry-after")
    if reset_ms is not None:
        wait = reset_ms / 1000.0
    elif retry_after is not None:
        wait = retry_after
    else:
        return policy.backoff(attempt, rng)
    return wait + (policy.backoff(attempt - 1, rng) if attempt > 0 else 0.0)


class RatePacer:
    """Remembers the last rate-limit headers and says how long to wait before the next call.

    When `requests_left` is at or below `reserve`, the next call would likely be refused, so it
    waits for the rest of the window (Time-Reset-Ms counted from when the headers arrived).
    """

    def __init__(self, clock: Callable[[], float], reserve: int = 1) -> None:
        self._clock = clock
        self._reserve = reserve
        self._left: float | None = None
        self._reset_at: float | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        low = _lower(headers)
        left = _number(low, "x-rate-limit-requests-left")
        reset_ms = _number(low, "x-rate-limit-time-reset-ms")
        if left is None:
            return
        self._left = left
        self._reset_at = self._clock() + reset_ms / 1000.0 if reset_ms is not None else None

    def forget(self) -> None:
        """After waiting out a window, the old figures no longer hold."""
        self._left = None
        self._reset_at = None

    def delay(self) -> float:
        if self._left is None or self._left > self._reserve or self._reset_at is None:
            return 0.0
        return max(0.0, self._reset_at - self._clock())
