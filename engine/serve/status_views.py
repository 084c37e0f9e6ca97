"""The HTML of the status page: Jinja2 templates shipped in `engine/serve/status_templates/`.

Autoescaped, with one inline style sheet and nothing else: no script, no image, nothing fetched
from anywhere. The Content-Security-Policy says so to the browser (the style sheet by its hash),
so text from a store or a rule file can never run as code in the page.
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from engine.cli import report_sync
from engine.config import Config
from engine.connect.ports import DEFAULT_STORE, SyncState
from engine.connect.session import open_oms
from engine.serve import status_data


def _style() -> str:
    return (resources.files("engine.serve") / "status_templates" / "status.css").read_text("utf-8")


class Views:
    def __init__(self, config: Config, state: Callable[[str | None], SyncState],
                 health: Callable[[str | None], dict[str, Any]]) -> None:
        self.config, self.state, self.health = config, state, health
        self.env = Environment(loader=PackageLoader("engine.serve", "status_templates"),
                               autoescape=True, undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(ago=status_data.ago, when=status_data.when)
        style = _style()
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        self.env.globals["style"] = Markup(style)  # our own file, shipped with the package
        # With several stores, "Find order" asks which store's.
        self.env.globals["store_names"] = [s.store_name for s in config.each_store()] \
            if len(config.each_store()) > 1 else []
        self.headers = [
            ("Content-Security-Policy", f"default-src 'none'; style-src 'sha256-{digest}'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
            ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"), ("Cache-Control", "no-store")]

    def login(self, target: str, error: str) -> str:
        return self.env.get_template("login.html.j2").render(target=target, error=error, notice="", csrf="")

    @property
    def several(self) -> bool:
        """More than one store on the page: each link and button then names its store."""
        return len(self.config.each_store()) > 1

    def store(self, config: Config) -> dict[str, Any]:
        """A configured store: its name, where its API is, and what its links and the ids of
        its elements carry (nothing when it is the page's only store)."""
        url = urlsplit(config.api_url)
        host = url.hostname or config.api_url
        name = config.store_hash or "(no store hash)"
        if config.store_name != DEFAULT_STORE:
            name = f"{config.store_name} ({name})"
        key = config.store_name
        return {"name": name, "key": key, "param": key if self.several else "",
                "query": f"?store={key}" if self.several else "",
                "ids": f"{key}-" if self.several else "",
                "api": f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")}

    def status(self, after: str | None, before: str | None, paged: str | None, csrf: str,
               notice: str) -> str:
        """Every store's section; `after`/`before` page the retry set of the store `paged`
        names (the only store's, with one), the others show their first page."""
        now, stores = datetime.now(UTC), []
        if not self.several:
            paged = self.config.each_store()[0].store_name
        for config in self.config.each_store():
            name = config.store_name
            state, health = self.state(name), self.health(name)
            counts = {"waiting": health["failing_orders"], "due": health["retries_due"]}
            mine = name == paged
            page = status_data.retry_page(
                state, after=status_data.parse_cursor(after) if mine else None,
                before=status_data.parse_cursor(before) if mine else None, counts=counts)
            stores.append({**self.store(config), "health": health,  # the queue's depth and age
                           "since_sync": _since(health.get("last_sync"), now),
                           "retries": page, "conflicts": status_data.recent_conflicts(state),
                           "decisions": status_data.recent_decisions(state)})
        cursor = {"after": after} if after else {"before": before} if before else {}
        if cursor and self.several and paged:
            cursor = {"store": paged, **cursor}
        here = "/" + (f"?{urlencode(cursor)}" if cursor else "")
        return self.env.get_template("status.html.j2").render(
            stores=stores, csrf=csrf, notice=notice, here=here, now=now)

    def order(self, config: Config, order_id: int, csrf: str, notice: str) -> str | None:
        """The explain view of one store's order; None when rulesync knows nothing of it."""
        state = self.state(config.store_name)
        oms = open_oms(config, self.config.state)
        try:
            history, order = oms.history(order_id), oms.get(order_id)
        finally:
            oms.close()
        explained = report_sync.explain_data(order_id, state.decisions(order_id), history)
        retries = state.retries().entries(order_id)
        if not explained["decisions"] and not explained["history"] and not retries:
            return None
        store = self.store(config)
        return self.env.get_template("order.html.j2").render(
            order=explained, ledger_state=order.state() if order else None, retries=retries,
            csrf=csrf, notice=notice, here=f"/orders/{order_id}{store['query']}", store=store)


def _since(stamp: str | None, now: datetime) -> float | None:
    try:
        return (now - datetime.fromisoformat(stamp)).total_seconds() if stamp else None
    except ValueError:
        return None
