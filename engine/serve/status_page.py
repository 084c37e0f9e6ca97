"""The status page of `rulesync serve`: `GET /` for people, behind the admin token.

Routes (all but the login form need a signed-in session or the bearer token):
    GET  /login, POST /login, POST /logout
    GET  /                          each store: sync, queue, retry set (paged), conflicts,
                                    decisions; ?store=NAME&after=... pages that store's retry set
    GET  /orders/ID                 the order's explain view
    POST /orders/ID/retry|forget    the buttons of the retry set

With several stores, an order is one store's: its links carry `?store=NAME` and its buttons post
`store=NAME` (a script may put it in the query); without it the request is refused (400).

The page only reads the state file and writes the retry set; the worker thread does every sync.
Retry makes the order due now, and the request waits a few seconds for the worker to try it so
the page can say how that went. Every POST must come from the page itself (engine/status_auth).
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from engine.config import Config
from engine.connect.ports import SyncState
from engine.serve import status_auth as auth
from engine.serve.status_request import Request, local_target
from engine.serve.status_views import Views

log = logging.getLogger("rulesync.serve")
StartResponse = Callable[..., Any]
ORDER_PATH = re.compile(r"/orders/(\d{1,18})(?:/(retry|forget))?")
PATHS = ("/", "/login", "/logout", "/orders/")  # what --path may not be
RETRY_WAIT = 5.0  # seconds a Retry press waits for the worker's attempt before answering
__all__ = ["PATHS", "Request", "StatusPage", "claims", "local_target"]
STATUS = {200: "200 OK", 303: "303 See Other", 400: "400 Bad Request", 401: "401 Unauthorized",
          403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed"}


def claims(path: str) -> bool:
    """Whether a URL path belongs to the status page."""
    return path in PATHS[:3] or path.startswith(PATHS[3])


class NoStore(Exception):
    """A request about an order that names no store, or one not configured."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StatusPage:
    def __init__(self, config: Config, token: str | None,
                 state: Callable[[str | None], SyncState],
                 health: Callable[[str | None], dict[str, Any]]) -> None:
        self.config, self.token, self.state = config, token, state
        self.sessions = auth.Sessions()
        self.views = Views(config, state, health)

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if self.token is None:
            return self.reply(start, 404, "the status page is off: start `rulesync serve` with "
                              f"{auth.ADMIN_TOKEN_ENV} set to turn it on", "text/plain")
        req = Request(environ)
        if req.path == "/login":
            return self.login(req, start)
        req.bearer_ok = auth.same_token(auth.bearer(environ), self.token)
        req.session = self.sessions.get(auth.cookie_sid(environ))
        if not (req.bearer_ok or req.session):
            if auth.bearer(environ) is not None:
                return self.reply(start, 401, "wrong admin token", "text/plain",
                                  [("WWW-Authenticate", 'Bearer realm="rulesync"')])
            return self.redirect(start, "/login?next=" + quote(self.here(req), safe=""))
        if req.method == "POST":
            refused = self.refused(req)
            if refused:
                log.warning("status page: refused a POST to %s: %s", req.path, refused)
                return self.reply(start, 403, f"refused: {refused}", "text/plain")
        return self.route(req, start)

    def route(self, req: Request, start: StartResponse) -> Iterable[bytes]:
        found = ORDER_PATH.fullmatch(req.path)
        if req.path == "/" and req.method == "GET":
            page = self.views.status(req.query("after"), req.query("before"), req.query("store"),
                                     self.csrf(req), self.notice(req))
            return self.reply(start, 200, page)
        if req.path == "/logout" and req.method == "POST":
            self.sessions.end(req.session.sid if req.session else None)
            return self.redirect(start, "/login", [("Set-Cookie", auth.set_cookie(
                "", req.environ, max_age=0))])
        wanted = found is not None and (req.method == "POST") == bool(found.group(2))
        if wanted or (req.path == "/orders/" and req.method == "GET"):
            try:
                return self.order(req, start, found, self.store_of(req))
            except NoStore as e:
                return self.reply(start, e.status, str(e), "text/plain")
        if found or req.path in PATHS:
            return self.reply(start, 405, "method not allowed", "text/plain")
        return self.reply(start, 404, "not found", "text/plain")

    def order(self, req: Request, start: StartResponse, found: re.Match[str] | None,
              store: Config) -> Iterable[bytes]:
        """An order's view (GET), its buttons (POST), or the "Find order" box (no match)."""
        if found is None:
            wanted = (req.query("id") or "").strip()
            if ORDER_PATH.fullmatch(f"/orders/{wanted}"):
                return self.redirect(start, f"/orders/{wanted}{self.views.store(store)['query']}")
            return self.reply(start, 400, "an order id is a number", "text/plain")
        order_id, verb = int(found.group(1)), found.group(2)
        if verb is None:
            view = self.views.order(store, order_id, self.csrf(req), self.notice(req))
            if view is None:
                return self.reply(start, 404, "rulesync knows nothing of this order", "text/plain")
            return self.reply(start, 200, view)
        text = (self.retry if verb == "retry" else self.forget)(store.store_name, order_id)
        if self.views.several:
            text = f"store {store.store_name}: {text}"
        if req.session is None:  # a script with the bearer token: the outcome as text
            return self.reply(start, 200, text, "text/plain")
        self.sessions.flash(req.session.sid, text)
        return self.redirect(start, local_target(req.form.get("back")))

    def store_of(self, req: Request) -> Config:
        """The store an order's request is about: `store` in the query (or the posted form),
        else the only store."""
        name = req.query("store") or (req.form.get("store") if req.method == "POST" else None)
        stores = self.config.each_store()
        if name is None and len(stores) == 1:
            return stores[0]
        names = ", ".join(s.store_name for s in stores)
        if name is None:
            raise NoStore(400, f"this page shows several stores: say which with ?store=NAME "
                          f"({names})")
        for store in stores:
            if store.store_name == name:
                return store
        raise NoStore(404, f"no store {name[:64]!r} here (stores: {names})")

    # -- the buttons ----------------------------------------------------------------------
    def retry(self, store: str, order_id: int) -> str:
        retries = self.state(store).retries()
        before = retries.entries(order_id)
        if not before:
            return f"order {order_id} is not in the retry set"
        retries.due_now(order_id, time.time())  # the worker's next turn retries it
        seen = {(e["direction"], e["attempts"], e["last_failed_at"]) for e in before}
        deadline = time.monotonic() + RETRY_WAIT
        while time.monotonic() < deadline:
            now = retries.entries(order_id)
            if not now:
                return f"order {order_id} went through: it is no longer in the retry set"
            if all((e["direction"], e["attempts"], e["last_failed_at"]) not in seen for e in now):
                return f"order {order_id} failed again: {now[0]['reason']}"
            time.sleep(0.1)
        return f"order {order_id} is due now: the worker retries it at its next turn"

    def forget(self, store: str, order_id: int) -> str:
        if not self.state(store).retries().forget(order_id):
            return f"order {order_id} is not in the retry set"
        return (f"order {order_id} forgotten: no longer retried (a later change of the order "
                "in the store is still synced)")

    # -- requests and replies -------------------------------------------------------------
    def refused(self, req: Request) -> str | None:
        """Why a POST of a signed-in client is refused: another site, or no CSRF token."""
        why = auth.cross_site(req.environ)
        if why or req.bearer_ok:  # a bearer token is never sent by a browser on its own
            return why
        token = req.form.get("csrf") if req.session else None
        if req.session is None or not auth.same_token(token, req.session.csrf):
            return "missing or wrong CSRF token"
        return None

    def login(self, req: Request, start: StartResponse) -> Iterable[bytes]:
        target = local_target(req.query("next"))
        if req.method == "GET":
            return self.reply(start, 200, self.views.login(target, ""))
        if req.method != "POST":
            return self.reply(start, 405, "method not allowed", "text/plain")
        why = auth.cross_site(req.environ)
        if why:
            return self.reply(start, 403, f"refused: {why}", "text/plain")
        form = req.form
        target = local_target(form.get("next"))
        if not auth.same_token(form.get("token", "").strip(), self.token or ""):
            log.warning("status page: a sign-in with a wrong admin token")
            return self.reply(start, 401, self.views.login(target, "wrong admin token"))
        session = self.sessions.create()
        return self.redirect(start, target, [("Set-Cookie", auth.set_cookie(
            session.sid, req.environ))])

    def csrf(self, req: Request) -> str:
        return req.session.csrf if req.session else ""

    def notice(self, req: Request) -> str:
        return self.sessions.take_flash(req.session.sid) if req.session else ""

    @staticmethod
    def here(req: Request) -> str:
        query = req.environ.get("QUERY_STRING", "")
        return req.path + (f"?{query}" if query else "")

    @staticmethod
    def redirect(start: StartResponse, target: str,
                 headers: list[tuple[str, str]] | None = None) -> list[bytes]:
        start(STATUS[303], [("Location", target), ("Content-Length", "0"),
                            ("Cache-Control", "no-store"), *(headers or [])])
        return []

    def reply(self, start: StartResponse, status: int, body: str, kind: str = "text/html",
              headers: list[tuple[str, str]] | None = None) -> list[bytes]:
        data = body.encode()
        start(STATUS[status], [("Content-Type", f"{kind}; charset=utf-8"),
                               ("Content-Length", str(len(data))), *self.views.headers,
                               *(headers or [])])
        return [data]
