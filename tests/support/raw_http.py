"""HTTP requests written byte by byte on a socket, for what urllib cannot send or cannot show.

`ask` sends a request's head (and, if given, its body) and reads the answer; with `body=None`
nothing after the head is sent, so an answer proves the server decided from the headers alone:
a server that waited for the body would never answer, and the read would time out.
"""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass

BOUND = 30.0  # seconds: generous, only reached when something is wrong


@dataclass(frozen=True)
class Answer:
    status: int  # of the final answer (a "100 Continue" before it is kept in `interim`)
    interim: tuple[int, ...]
    head: str
    body: bytes
    closed: bool | None  # the server then closed the connection (None: not checked)


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in
                                                            headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def chunked(body: bytes, size: int = 8192, last: bool = True) -> bytes:
    """`body` in chunked transfer coding; without the final empty chunk if not `last`."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + (b"0\r\n\r\n" if last else b"")


def ask(port: int, request_head: bytes, body: bytes | None = None, *,
        check_close: bool = False) -> Answer:
    """Send the head, then the body if any, and read the answer (the server may close early:
    a reset after its answer is not an error). With `check_close`, also wait for the server to
    close the connection (fails at the bound if it keeps it open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        sock.sendall(request_head)
        if body:
            try:
                sock.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused early; its answer is already on the way
        return _read(sock, check_close)


def _read(sock: socket.socket, check_close: bool) -> Answer:
    data, interim, closed = b"", [], False
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            status = int(data.split(b" ", 2)[1])
            if status == 100:
                interim.append(status)
                data = data[end + 4:]
                continue
            text = data[:end].decode("latin-1")
            length = re.search(r"(?im)^content-length:\s*(\d+)", text)
            want = end + 4 + int(length.group(1)) if length else None
            if want is not None and len(data) >= want:
                return Answer(status, tuple(interim), text, data[end + 4:want],
                              (closed or _closes(sock)) if check_close else None)
        if closed:
            raise AssertionError(f"the connection closed before a whole answer: {data!r}")
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        closed = not chunk
        data += chunk


def _closes(sock: socket.socket) -> bool:
    """True once the server closes the connection; False if it sends more."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
