"""A small misbehaving HTTP proxy in front of a real store (the sandbox), for tests.

The store behind it stays real: every request is forwarded unless a rule says otherwise. A rule
picks requests by endpoint template ("GET /v2/orders", "GET /v2/orders/{id}/shipments") and then
answers by itself (`status`, `headers`, `json` or `text`), or forwards and bends the reply
(`headers` added or replaced, `patch` applied to the JSON body), or stalls, or drops the
connection. Rules apply in the order given; `times` limits how often one fires.

    with StoreProxy(sandbox.base_url) as proxy:
        proxy.on("GET /v2/time", json={"time": "abc"})
        proxy.on("GET /v2/orders", headers={"X-Rate-Limit-Requests-Left": "0"}, forward=True)
        ... point BIGCOMMERCE_API_URL at proxy.base_url ...
"""
from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te",
              "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}
Patch = Callable[[Any], Any]


def template_pattern(endpoint: str) -> tuple[str, re.Pattern[str]]:
    """"GET /v2/orders/{id}" -> ("GET", a regex matching the path after /stores/<hash>)."""
    method, template = endpoint.split(" ", 1)
    parts = [re.escape(p) if not p.startswith("{") else "[^/]+" for p in template.split("/")]
    return method.upper(), re.compile("^(?:/stores/[^/]+)?" + "/".join(parts) + "/?$")


def set_path(doc: Any, path: list[Any], value: Any) -> Any:
    """Replace the value at `path` (list indexes and object keys) in a decoded JSON document;
    an empty path replaces the whole document."""
    if not path:
        return value
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    patch: Patch | None = None
    forward: bool = False
    stall: float = 0.0
    drop: bool = False
    times: int | None = None
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        live = self.times is None or self.fired < self.times
        return live and method == self.method and bool(self.path.match(path))


class StoreProxy:
    """Forward to `upstream` (an http:// base URL), misbehaving where a rule says so."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.hits: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StoreProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- rules --------------------------------------------------------------------------------
    def on(self, endpoint: str, *, status: int | None = None,
           headers: dict[str, str] | None = None, json_body: Any = None, text: str | None = None,
           patch: Patch | None = None, forward: bool = False, stall: float = 0.0,
           drop: bool = False, times: int | None = None) -> Rule:
        """Add a rule for `endpoint` ("METHOD /template"); see the module docstring."""
        method, pattern = template_pattern(endpoint)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
        elif text is not None:
            body = text.encode()
        forward = forward or patch is not None or (status is None and body is None and not drop)
        rule = Rule(method, pattern, status, dict(headers or {}), body, patch, forward, stall,
                    drop, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            self.hits.append((method, path))
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.fired += 1
                    return rule
        return None

    # -- serving ------------------------------------------------------------------------------
    def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes
                 ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.request(method, target, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        except (OSError, http.client.HTTPException):
            return None  # the store dropped the connection: so does the proxy
        finally:
            conn.close()

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """(status, headers, body) to send, or None to drop the connection."""
        path = urlsplit(target).path
        rule = self._rule_for(method, path)
        if rule is None:
            return self._forward(method, target, headers, body)
        if rule.stall:
            time.sleep(rule.stall)
        if rule.drop:
            return None
        status, out_headers, out_body = (200, [("Content-Type", "application/json")], b"")
        if rule.forward:
            forwarded = self._forward(method, target, headers, body)
            if forwarded is None:
                return None
            status, out_headers, out_body = forwarded
        if rule.patch is not None:
            out_body = json.dumps(rule.patch(json.loads(out_body or b"null"))).encode()
        if rule.body is not None:
            out_body = rule.body
        if rule.status is not None:
            status = rule.status
        replaced = {k.lower() for k in rule.headers}
        out_headers = [(k, v) for k, v in out_headers if k.lower() not in replaced]
        return status, out_headers + list(rule.headers.items()), out_body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
                reply = proxy.answer(self.command, self.path, headers, body)
                if reply is None:
                    self.close_connection = True
                    self.connection.close()
                    return
                status, out_headers, out_body = reply
                if status in (204, 304) or status < 200:
                    out_body = b""
                self.send_response(status)
                for k, v in out_headers:
                    if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(out_body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out_body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        return Handler
