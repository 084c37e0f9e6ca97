"""A BigCommerce sandbox store: a real HTTP server on loopback speaking the subset of the v2
orders API and v3 hooks API that rulesync uses. See docs/sandbox.md.

    with Sandbox(seed_orders=30) as sb:
        requests.get(f"{sb.base_url}/stores/sandbox/v2/orders", headers={"X-Auth-Token": sb.token})
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import App
from .faults import FaultInjector
from .ratelimit import RateLimiter
from .seeding import seed
from .server import SandboxServer
from .store import Store
from .webhooks import Dispatcher

__all__ = ["Sandbox", "Store"]


class Sandbox:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        store_hash: str = "sandbox",
        token: str = "sandbox-token",
        seed_orders: int = 0,
        quota: int | None = None,
        window_ms: int = 30000,
        fault_rate: float = 0.0,
        latency_ms: int = 0,
        fault_seed: int = 0,
        data_file: str | Path | None = None,
        webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0),
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        seed_shipped: float | None = None,
    ) -> None:
        self.host, self.port, self.token = host, port, token
        self.store = Store(store_hash, clock=clock, data_file=data_file)
        self.limiter = RateLimiter(quota, window_ms)
        self.faults = FaultInjector(fault_rate, latency_ms, fault_seed)
        self.app = App(self.store, token, self.limiter, self.faults)
        self.dispatcher = Dispatcher(self.store, webhook_retry_delays)
        self.store.listeners.append(self.dispatcher.on_event)
        self._seed_orders, self._seed, self._seed_shipped = seed_orders, seed, seed_shipped
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """The v2 API root, e.g. http://127.0.0.1:54321/stores/sandbox/v2."""
        return f"{self.base_url}/stores/{self.store.store_hash}/v2"

    def start(self) -> Sandbox:
        """Bind, seed (unless a data file was loaded) and serve in a background thread."""
        self._server = SandboxServer((self.host, self.port), self)
        self.store.api_root = self.api_url
        if self._seed_orders and not self.store.loaded:
            seed(self.store, self._seed_orders, self._seed, self._seed_shipped)
        self.dispatcher.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name="sandbox-http",
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.dispatcher.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def api_calls(self) -> dict[str, int]:
        """Counts per endpoint template, e.g. {"GET /v2/orders": 3}."""
        return self.app.api_calls()

    def reset_counts(self) -> None:
        self.app.reset_counts()

    def webhook_log(self) -> list[dict[str, Any]]:
        """One entry per delivery attempt: hook_id, scope, hash, attempt, status, ok."""
        return list(self.dispatcher.log)
