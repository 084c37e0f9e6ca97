"""Fakes for the client unit tests: a requests transport adapter that never touches the network."""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

from connectors.bigcommerce.client import BigCommerceClient

TOKEN = "tok-SECRET-123"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]


Handler = Callable[[Call], "Reply | Exception"]


class FakeAdapter(BaseAdapter):
    """Answers from `handler(call)`; a returned exception is raised like a network failure."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.calls: list[Call] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = json.loads(request.body) if request.body else None
        call = Call(request.method or "", url.path, params, body, dict(request.headers))
        self.calls.append(call)
        reply = self.handler(call)
        if isinstance(reply, Exception):
            raise reply
        resp = requests.Response()
        resp.status_code = reply.status
        resp.headers.update(reply.headers)
        resp._content = b"" if reply.body is None else json.dumps(reply.body).encode()
        resp.request = request
        resp.url = request.url or ""
        return resp

    def close(self) -> None:
        pass


def scripted(*replies: Reply | Exception) -> Handler:
    """A handler answering with `replies` in turn, then 500s."""
    queue = list(replies)
    return lambda call: queue.pop(0) if queue else Reply(500, [{"status": 500}])


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(handler: Handler, **kwargs: Any) -> tuple[BigCommerceClient, FakeAdapter, Sleeps]:
    adapter = FakeAdapter(handler)
    session = requests.Session()
    session.mount("https://", adapter)
    sleeps = kwargs.pop("sleeps", Sleeps())
    clock = kwargs.pop("clock", lambda: 1000.0)
    client = BigCommerceClient("abc123", TOKEN, sleep=sleeps, clock=clock, rng=random.Random(7),
                               session=session, **kwargs)
    return client, adapter, sleeps


def test_fake_adapter_records_calls() -> None:
    client, adapter, _ = make_client(scripted(Reply(200, {"time": 5})))
    assert client.server_time() == 5
    assert adapter.calls[0].path == "/stores/abc123/v2/time"

