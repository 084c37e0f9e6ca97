"""HTTP sessions for several threads: each request borrows a session no other thread is using.

requests does not promise that one `Session` may be used by several threads at once (its cookie
jar and adapters are shared, unlocked state), so the change feed's threads never share one: a
request takes an idle session from a queue, or a new one when all are busy, and gives it back
when it is done. There are never more sessions than requests ever in flight at once, each keeps
its pooled connection to the store, and none is made for a thread that finished.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests


class Sessions:
    """`first` is used first; `make` makes more (None: only `first`, for every thread: an
    injected session is the injector's to make safe, and the client then fetches one at a
    time, see `BigCommerceClient.concurrency`)."""

    def __init__(self, first: requests.Session,
                 make: Callable[[], requests.Session] | None) -> None:
        self._first, self._make = first, make
        self._idle: queue.SimpleQueue[requests.Session] = queue.SimpleQueue()
        self._idle.put(first)
        self._all = [first]
        self._lock = threading.Lock()

    @contextmanager
    def borrowed(self) -> Iterator[requests.Session]:
        if self._make is None:
            yield self._first
            return
        try:
            session = self._idle.get_nowait()
        except queue.Empty:
            session = self._make()
            with self._lock:
                self._all.append(session)
        try:
            yield session
        finally:
            self._idle.put(session)

    def close(self) -> None:
        with self._lock:
            for session in self._all:
                session.close()
