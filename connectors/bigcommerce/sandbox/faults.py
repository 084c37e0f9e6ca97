"""Seeded fault injection: the same seed and request sequence give the same faults."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

KINDS = ("500", "503", "429", "drop")  # drop = close the socket without any response


@dataclass(frozen=True)
class Fault:
    kind: str
    after_write: bool  # True: the change is applied, then the response is lost or replaced


class FaultInjector:
    def __init__(self, rate: float = 0.0, latency_ms: int = 0, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self.configure(rate, latency_ms, seed)

    def configure(self, rate: float, latency_ms: int, seed: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        with self._lock:
            self.rate, self.latency_ms, self.seed = float(rate), int(latency_ms), seed
            self._random = random.Random(seed)

    def draw(self, is_write: bool) -> Fault | None:
        """Decide the fault for one API request.

        Each request draws the same three numbers whether it faults or not, so the sequence
        stays repeatable. For writes, half of the faults happen AFTER the change is applied:
        the client sees an error although e.g. the shipment exists, which is what its
        reconcile-before-retry logic must handle.
        """
        with self._lock:
            hit, pick, after = (self._random.random() for _ in range(3))
            if hit >= self.rate:
                return None
            return Fault(KINDS[int(pick * len(KINDS))], is_write and after < 0.5)
