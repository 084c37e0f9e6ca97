"""Which token bucket a store's client takes its tokens from (`store.quota` in rulesync.yaml).

- `process`: in this process's memory. Every thread of one `apply` or `serve` shares it; nothing
  to run beside rulesync. The default with a SQLite state, where one process syncs at a time.
- `postgresql`: one row per store in a PostgreSQL database (connectors/bigcommerce/
  quota_postgres.py), shared by every process and machine using that database. The default when
  the state is on PostgreSQL, the setup where several processes may call one store at once.
  `store.quota.url` puts it in another database than the state's.

`plan` always uses its own in-process bucket: it changes nothing, not even the shared row.
"""
from __future__ import annotations

from typing import Any

from connectors.bigcommerce.errors import origin
from connectors.bigcommerce.policy import DEFAULT_MAX_WAIT
from connectors.bigcommerce.quota import DEFAULT_REQUESTS, DEFAULT_WINDOW, Limits, ProcessBucket
from connectors.bigcommerce.quota import QuotaBucket as QuotaBucket
from engine import secrets
from engine.config import Config
from engine.errors import ConfigError
from engine.storage import db

PROCESS, POSTGRESQL = "process", "postgresql"
DEFAULT_CONCURRENCY = 8


def store_key(config: Config) -> str:
    """The bucket's name: the API's origin and the store hash (never a credential)."""
    return f"{origin(config.api_url)}/stores/{config.store_hash}"


def backend_of(config: Config) -> tuple[str, str]:
    """(backend, URL of its database or "")."""
    options: dict[str, Any] = dict(config.quota)
    state_url = str(config.state) if db.is_url(config.state) else ""
    backend = options.get("backend") or (POSTGRESQL if state_url else PROCESS)
    if backend == PROCESS:
        return PROCESS, ""
    url = str(options.get("url") or state_url)
    if not url:
        where = config.file or "the configuration"
        raise ConfigError(f"{where}: store.quota.backend: postgresql needs store.quota.url or a "
                          "PostgreSQL state (state: postgresql://...)")
    secrets.add_url_secrets(url)
    return POSTGRESQL, url


def bucket_for(config: Config, *, read_only: bool = False) -> QuotaBucket:
    options: dict[str, Any] = dict(config.quota)
    limits = Limits(int(options.get("requests") or DEFAULT_REQUESTS),
                    float(options.get("window_seconds") or DEFAULT_WINDOW))
    # A configured quota is a ceiling on the pace that the store's headers cannot raise.
    ceiling = limits if options.get("requests") else None
    max_wait = float(config.max_wait_seconds or DEFAULT_MAX_WAIT)  # as for a 429 (policy.py)
    backend, url = backend_of(config)
    if read_only or backend == PROCESS:
        return ProcessBucket(limits, ceiling, max_wait=max_wait)
    from connectors.bigcommerce.quota_postgres import PostgresBucket

    return PostgresBucket(url, store_key(config), limits, ceiling, max_wait=max_wait)
