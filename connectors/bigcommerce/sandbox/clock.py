"""A controllable clock for the store: frozen at a time, moved by hand (tests, /_sandbox/clock)."""

from __future__ import annotations

import threading


class FrozenClock:
    """Callable like time.time, but only moves when told to."""

    def __init__(self, now: float) -> None:
        self._now = float(now)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = float(now)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
