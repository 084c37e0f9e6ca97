"""The HTTP side: a stdlib ThreadingHTTPServer whose handler hands requests to App / control."""

from __future__ import annotations

import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from . import control

if TYPE_CHECKING:
    from . import Sandbox


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone before its answer (killed, timed out) is no error of the store's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer
    server_version = "rulesync-sandbox"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (stdlib signature)
        """Quiet: the library never prints."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        sandbox = self.server.sandbox
        if url.path.startswith("/_sandbox/"):
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {}
            status, payload = control.handle(
                sandbox, method, url.path, body if isinstance(body, dict) else {}
            )
            self._send(status, payload, {})
            return
        prefix = f"/stores/{sandbox.store.store_hash}"
        if not url.path.startswith(prefix + "/"):
            self._send(404, [{"status": 404, "message": "Unknown store or path."}], {})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        outcome = sandbox.app.handle(
            method, url.path[len(prefix) :], dict(parse_qsl(url.query)), headers, raw
        )
        if outcome.drop:
            self._drop()
        else:
            self._send(outcome.status, outcome.body, outcome.headers)

    def _drop(self) -> None:
        """Close the connection without a response (an injected network fault)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = b"" if status == 204 or body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
