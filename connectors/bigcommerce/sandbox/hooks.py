"""v3 webhook registrations ([wh] paths./hooks, components.schemas.webhook_Full)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from .errors import ApiError

CLIENT_ID = "sandbox-client"
WRITABLE = ("scope", "destination", "is_active", "headers")


def scope_matches(hook_scope: str, event_scope: str) -> bool:
    """Exact scope, or a wildcard such as store/order/* (FACTS.md §7)."""
    if hook_scope.endswith("/*"):
        return event_scope.startswith(hook_scope[:-1])
    return hook_scope == event_scope


def _check(body: Mapping[str, Any], creating: bool) -> None:
    """[wh] components.schemas.webhook_Base: scope and destination are required on POST."""
    errors: dict[str, str] = {}
    for key in ("scope", "destination"):
        if creating and not body.get(key):
            errors[key] = "error.path.missing"
        elif key in body and not isinstance(body[key], str):
            errors[key] = "error.expected.jsstring"
    dest = body.get("destination")
    # The real API wants https on port 443 (FACTS.md §7); the sandbox also accepts plain http so
    # a receiver on loopback can be used in tests.
    if isinstance(dest, str) and dest and not dest.startswith(("http://", "https://")):
        errors["destination"] = "error.url.invalid"
    if "is_active" in body and not isinstance(body["is_active"], bool):
        errors["is_active"] = "error.expected.jsboolean"
    headers = body.get("headers")
    if headers is not None and not (
        isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())
    ):
        errors["headers"] = "error.expected.jsobject of strings"
    unknown = sorted(set(body) - set(WRITABLE))
    if unknown:
        errors[unknown[0]] = "error.path.unknown"
    if errors:
        raise ApiError(422, "JSON data is missing or invalid", errors)


class HookTable:
    """Operations on the hooks dict; built by Store.hooks() with the store's lock and clock."""

    def __init__(
        self,
        table: dict[int, dict[str, Any]],
        mutating: Callable[[], AbstractContextManager[None]],
        lock: threading.RLock,
        now: Callable[[], int],
        next_id: Callable[[], int],
        store_hash: str,
    ) -> None:
        self._table, self._mutating, self._lock = table, mutating, lock
        self._now, self._next_id, self._store_hash = now, next_id, store_hash

    def _get(self, hook_id: int) -> dict[str, Any]:
        hook = self._table.get(int(hook_id))
        if hook is None:
            raise ApiError(404, f"Webhook with id [{hook_id}] not found")
        return hook

    def _duplicate(self, scope: str, destination: str, other_than: int | None) -> None:
        # Only one hook per store + client + scope + destination (FACTS.md §7).
        for hook in self._table.values():
            if (hook["scope"], hook["destination"]) == (scope, destination) and hook[
                "id"
            ] != other_than:
                raise ApiError(
                    422,
                    "JSON data is missing or invalid",
                    {"destination": "a hook with this scope and destination exists"},
                )

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _check(body, creating=True)
        with self._mutating():
            self._duplicate(body["scope"], body["destination"], None)
            now = self._now()
            hook = {
                "id": self._next_id(),
                "client_id": CLIENT_ID,
                "store_hash": self._store_hash,
                "scope": body["scope"],
                "destination": body["destination"],
                "is_active": body.get("is_active", True),
                "headers": body.get("headers") or {},
                "created_at": now,
                "updated_at": now,
            }
            self._table[hook["id"]] = hook
            return copy.deepcopy(hook)

    def update(self, hook_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        _check(body, creating=False)
        with self._mutating():
            hook = self._get(hook_id)
            merged = {**hook, **{k: body[k] for k in WRITABLE if k in body}}
            self._duplicate(merged["scope"], merged["destination"], hook["id"])
            hook.update(merged, updated_at=self._now())
            hook["headers"] = hook["headers"] or {}
            return copy.deepcopy(hook)

    def deactivate(self, hook_id: int) -> None:
        """Switch the hook off after its last failed retry, as BigCommerce does (FACTS §7)."""
        with self._mutating():
            hook = self._table.get(int(hook_id))
            if hook is not None:
                hook.update(is_active=False, updated_at=self._now())

    def delete(self, hook_id: int) -> dict[str, Any]:
        with self._mutating():
            return copy.deepcopy(self._table.pop(self._get(hook_id)["id"]))

    def get(self, hook_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._get(hook_id))

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(sorted(self._table.values(), key=lambda h: h["id"]))

    def matching(self, event_scope: str) -> list[dict[str, Any]]:
        return [h for h in self.all() if h["is_active"] and scope_matches(h["scope"], event_scope)]
