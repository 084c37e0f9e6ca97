"""Per-window request quota with BigCommerce's headers (FACTS.md §8)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

UNLIMITED = 1_000_000  # what the quota headers say when no quota is set ("unlimited" stores)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """A fixed window that starts with the first request and refills `quota` every `window_ms`."""

    def __init__(self, quota: int | None, window_ms: int = 30000) -> None:
        self._lock = threading.Lock()
        self.configure(quota, window_ms)

    def configure(self, quota: int | None, window_ms: int) -> None:
        with self._lock:
            self.quota, self.window_ms = quota, int(window_ms)
            self._start: float | None = None
            self._used = 0
            self.refused = 0  # requests answered 429 for being over the quota
            self.most_in_window = 0  # the most requests let through in one window

    def check(self) -> Verdict:
        """Count one request; refuse it (429) when the window's quota is used up."""
        with self._lock:
            now = time.monotonic()
            if self._start is None or (now - self._start) * 1000 >= self.window_ms:
                self._start, self._used = now, 0
            quota = UNLIMITED if self.quota is None else self.quota
            allowed = self._used < quota
            if allowed:
                self._used += 1
                self.most_in_window = max(self.most_in_window, self._used)
            else:
                self.refused += 1
            reset_ms = max(0, int(self.window_ms - (now - self._start) * 1000))
            headers = {
                "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
                "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
                "X-Rate-Limit-Requests-Quota": str(quota),
                "X-Rate-Limit-Requests-Left": str(max(0, quota - self._used)),
            }
            if not allowed:
                headers["X-Retry-After"] = str(max(1, -(-reset_ms // 1000)))
            return Verdict(allowed, headers)
