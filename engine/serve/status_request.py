"""A request to the status page, as its routes read it (engine/serve/status_page.py)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from engine.serve import status_auth as auth


@dataclass
class Request:
    environ: dict[str, Any]
    session: auth.Session | None = None
    bearer_ok: bool = False

    @property
    def method(self) -> str:
        return str(self.environ["REQUEST_METHOD"])

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", ""))

    def query(self, name: str) -> str | None:
        return parse_qs(self.environ.get("QUERY_STRING", "")).get(name, [None])[0]

    @cached_property
    def form(self) -> dict[str, str]:
        """The posted form (waitress has already refused a body over the delivery limit)."""
        length = int(self.environ.get("CONTENT_LENGTH") or 0)
        body = self.environ["wsgi.input"].read(length).decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(body).items()}


def local_target(target: str | None) -> str:
    """Where to go after a form: a path on this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
