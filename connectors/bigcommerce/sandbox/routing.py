"""A tiny router: endpoint templates such as 'GET /v2/orders/{id}/shipments' mapped to handlers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .store import Store


@dataclass(frozen=True)
class Request:
    method: str
    template: str  # e.g. "GET /v2/orders/{id}" -- also the key of the call counts
    args: dict[str, int]
    query: dict[str, str]
    body: Any
    store: Store


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    pattern: re.Pattern[str]
    handler: Handler

    @property
    def template(self) -> str:
        return f"{self.method} {self.path}"


ROUTES: list[Route] = []


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register a handler; `{name}` in the path matches a decimal id."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", path) + "$")

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, path, pattern, handler))
        return handler

    return register


def match(method: str, path: str) -> tuple[Route | None, dict[str, int], bool]:
    """(route, args, path_known): path_known is True when only the method did not match (405)."""
    known = False
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if found:
            known = True
            if candidate.method == method:
                return candidate, {k: int(v) for k, v in found.groupdict().items()}, True
    return None, {}, known


def json_or_204(items: list[Any]) -> Response:
    """v2 lists answer 204 with no body when the page is empty (FACTS.md §3, §9)."""
    return Response(200, items) if items else Response(204)
