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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from importlib import metadata

import requests
from requests.adapters import HTTPAdapter


def user_agent() -> str:
    try:
        return f"rulesync/{metadata.version('bigcommerce-rulesync')}"
    except metadata.PackageNotFoundError:
        return "rulesync/0"


def new_session(headers: Mapping[str, str]) -> requests.Session:
    """A pooled session sending these headers; requests' own retries off (transport.py)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(headers)
    return session


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

    @classmethod
    def for_client(cls, token: str, injected: requests.Session | None) -> Sessions:
        """Sessions sending the API's headers (FACTS §2): new ones, or only `injected`."""
        headers = {"X-Auth-Token": token, "Accept": "application/json",
                   "Content-Type": "application/json", "User-Agent": user_agent()}
        if injected is not None:
            injected.headers.update(headers)
            return cls(injected, None)
        return cls(new_session(headers), partial(new_session, headers))

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
