"""The store's hooks that feed `rulesync serve` (BigCommerce's v3 hooks API), behind the
`Store` protocol's `hook_status`, `register_hooks` and `remove_hooks` (connectors/bigcommerce/
store.py), for `rulesync webhooks register|status|remove` and serve's /healthz.

The scopes are those `serve` takes deliveries of (engine/serve/webhooks.py decodes them).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from connectors.bigcommerce.client import BigCommerceClient
from engine.errors import ConfigError
from engine.serve.webhooks import SCOPES


def ours(client: BigCommerceClient, destination: str | None = None) -> list[dict[str, Any]]:
    """The hooks on rulesync's scopes (the API lists only this token's own hooks, FACTS §7)."""
    return [h for h in client.list_hooks() if h.get("scope") in SCOPES
            and (destination is None or h.get("destination") == destination)]


def check_destination(destination: str) -> None:
    """BigCommerce delivers only to HTTPS on port 443 (FACTS §7); plain HTTP only on loopback,
    for the sandbox."""
    try:
        url = urlsplit(destination)
        port = url.port
    except ValueError:
        url, port = urlsplit(""), -1
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    if url.hostname and (url.scheme == "https" and port in (None, 443)
                         or url.scheme == "http" and loopback):
        return
    raise ConfigError(f"{destination}: BigCommerce delivers webhooks only to https:// on port 443 "
                      "(put `rulesync serve` behind a TLS proxy, see README)")


def register(client: BigCommerceClient, destination: str, header: str, secret: str
             ) -> list[tuple[str, str]]:
    """Create the missing hooks, re-activate inactive ones; (scope, what happened) each.

    Hooks of the same scopes sending elsewhere are listed as such: each would deliver too."""
    check_destination(destination)
    existing = {h["scope"]: h for h in ours(client, destination)}
    done = []
    for scope in SCOPES:
        hook = existing.get(scope)
        body = {"is_active": True, "headers": {header: secret}}
        if hook is None:
            client.create_hook({"scope": scope, "destination": destination, **body})
            done.append((scope, "created"))
        elif not hook.get("is_active"):
            client.update_hook(hook["id"], body)
            done.append((scope, "re-activated"))
        else:
            client.update_hook(hook["id"], body)  # keeps the secret header current
            done.append((scope, "active"))
    done += [(h["scope"], f"ALSO active to {h['destination']} (remove it: rulesync webhooks "
              f"remove {h['destination']})")
             for h in ours(client) if h.get("destination") != destination and h.get("is_active")]
    return done


def listed(client: BigCommerceClient) -> list[dict[str, Any]]:
    """Each of rulesync's hooks: id, scope, destination, active."""
    return [{"id": h["id"], "scope": h["scope"], "destination": h.get("destination"),
             "is_active": bool(h.get("is_active"))} for h in ours(client)]


def remove(client: BigCommerceClient, destination: str | None) -> list[str]:
    """Delete rulesync's hooks sending to `destination`, or all of them; their scopes."""
    removed = []
    for hook in ours(client, destination):
        client.delete_hook(hook["id"])
        removed.append(hook["scope"])
    return removed
