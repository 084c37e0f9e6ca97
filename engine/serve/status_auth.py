"""Who may see the status page of `rulesync serve`, and which form posts it accepts.

The page needs its own credential, the admin token (`RULESYNC_ADMIN_TOKEN`), never the webhook
secret: BigCommerce hands that secret back to anyone who may read the store's hooks (it is one of
the hook's headers), and it travels with every delivery. Without an admin token the page is off.

A request is signed in when it carries `Authorization: Bearer <token>` (scripts, curl) or the
session cookie that the login form sets (browsers). Sessions live in the server's memory: a
restart signs everyone out, and signing out ends the session for good. Each session has its own
CSRF token, which every form of the page sends back; every POST must also come from the page's
own origin (`Sec-Fetch-Site`, else `Origin`, checked against the request's host).
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from engine.errors import ConfigError

ADMIN_TOKEN_ENV = "RULESYNC_ADMIN_TOKEN"
COOKIE = "rulesync_session"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000  # the oldest session goes first beyond this


def admin_token(environ: Mapping[str, str]) -> str | None:
    """The admin token from the environment; None (page off) when unset."""
    token = environ.get(ADMIN_TOKEN_ENV, "").strip()
    if not token:
        return None
    if len(token) < 16:
        raise ConfigError(f"{ADMIN_TOKEN_ENV} must be a random token of 16 characters or more "
                          "(or unset, to leave the status page off)")
    return token


def same_token(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    expires: float


class Sessions:
    """Signed-in browsers, in memory, shared by the server's threads."""

    def __init__(self, seconds: float = SESSION_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._by_sid: OrderedDict[str, Session] = OrderedDict()
        self._flash: dict[str, str] = {}  # sid -> what the last button did, shown once

    def create(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          time.monotonic() + self.seconds)
        with self._lock:
            self._by_sid[session.sid] = session
            while len(self._by_sid) > MAX_SESSIONS:
                self._flash.pop(self._by_sid.popitem(last=False)[0], None)
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._by_sid.get(sid)
            if session is not None and session.expires < time.monotonic():
                del self._by_sid[sid]
                self._flash.pop(sid, None)
                session = None
        return session

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._by_sid.pop(sid or "", None)
            self._flash.pop(sid or "", None)

    def flash(self, sid: str, text: str) -> None:
        with self._lock:
            if sid in self._by_sid:
                self._flash[sid] = text

    def take_flash(self, sid: str) -> str:
        with self._lock:
            return self._flash.pop(sid, "")


def cookie_sid(environ: Mapping[str, Any]) -> str | None:
    try:
        jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


def bearer(environ: Mapping[str, Any]) -> str | None:
    scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def set_cookie(value: str, environ: Mapping[str, Any], max_age: int = SESSION_SECONDS) -> str:
    """The session cookie: invisible to scripts, never sent on a cross-site request, and marked
    Secure when the page was reached over HTTPS (directly or through the TLS proxy)."""
    secure = environ.get("wsgi.url_scheme") == "https" or \
        environ.get("HTTP_X_FORWARDED_PROTO", "").lower() == "https"
    return (f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))


def cross_site(environ: Mapping[str, Any]) -> str | None:
    """Why a POST looks like it came from another site, or None when it did not.

    Browsers send `Sec-Fetch-Site` (the verdict of the browser itself); older ones send `Origin`,
    which must name the host the request was sent to (behind a proxy that rewrites Host, the
    proxy's `X-Forwarded-Host`). A client that sends neither is not a browser acting for someone
    else; the session's CSRF token still has to match."""
    site = environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site: {site}"
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return None
    hosts = {environ.get("HTTP_HOST"), environ.get("HTTP_X_FORWARDED_HOST")} - {None, ""}
    if origin == "null" or urlsplit(origin).netloc not in hosts:
        return f"Origin: {origin}"
    return None
