"""The HTTP side of `rulesync serve`: waitress, with the secret and the size checked from headers.

waitress receives a request's whole body before it calls the WSGI application (spooled to a
temporary file past `inbuf_overflow`), and it answers `Expect: 100-continue` itself, so an
application cannot refuse a body it has not yet received. The checks therefore sit in waitress's
request parser, which sees the headers first:

- a POST to the hook path whose headers do not carry the secret is answered 401 there and then,
  whatever its length or transfer encoding: its body is never read, and the connection closes;
- waitress's own body limit is the delivery limit, so an authenticated request declaring a longer
  body is answered 413 from its headers, and a chunked one is cut off at the limit (waitress
  counts the chunks' framing too: a chunked body must stay a little under it).

The application repeats both checks; the parser's are the ones that keep an unauthenticated
gigabyte off the disk.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.utilities import Error

from engine.errors import RulesyncError
from engine.serve.webhooks import MAX_BODY, authenticated

log = logging.getLogger("rulesync.serve")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Unauthorized(Error):
    code = 401
    reason = "Unauthorized"


def gated_channel(path: str, secret: str, header: str) -> type[HTTPChannel]:
    """waitress's connection class, with a request parser that authenticates deliveries to `path`
    as soon as their headers have arrived."""
    key = header.upper().replace("-", "_")  # how waitress's parser names headers

    class GatedParser(HTTPRequestParser):
        gated = False

        def received(self, data: bytes) -> int:
            consumed: int = super().received(data)
            if self.headers_finished and not self.gated:
                self.gated = True
                self.gate()
            return consumed

        def gate(self) -> None:
            if getattr(self, "command", None) == "POST" and getattr(self, "path", None) == path \
                    and not authenticated(self.headers.get(key), secret):
                log.warning("refused a delivery (401): missing or wrong secret header")
                self.error = Unauthorized("missing or wrong secret header")
                self.completed = True
            if self.error is not None:
                # Refused from the headers: no "100 Continue" (waitress would then read the body).
                self.expect_continue = False

    class GatedChannel(HTTPChannel):
        parser_class = GatedParser

    return GatedChannel


def create_server(app: WSGIApp, *, host: str, port: int, threads: int, path: str, secret: str,
                  header: str) -> Any:
    """A waitress server bound to host:port (not yet serving); a port in use is a user error."""
    sockets: dict[int, Any] = {}
    try:
        server = waitress.create_server(app, map=sockets, host=host, port=port, threads=threads,
                                        max_request_body_size=MAX_BODY + 1)  # it refuses >= limit
    except (OSError, ValueError) as e:  # ValueError: waitress could not resolve host:port
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise RulesyncError(f"rulesync serve: cannot listen on {host}:{port}: {reason}") from None
    channel = gated_channel(path, secret, header)
    for dispatcher in sockets.values():  # one per address `host` resolves to
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel
    return server


def addresses(server: Any) -> list[tuple[str, int]]:
    """Where the server listens: one (host, port) per socket."""
    if isinstance(server, BaseWSGIServer):
        return [(server.effective_host, server.effective_port)]
    return list(server.effective_listen)
