"""Configuration: rulesync.yaml, then environment variables, then flags.

With no file the shipped rules and the environment suffice. A missing or invalid configuration is
an error before anything runs. Tokens come only from the environment, never from files.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rules as shipped
from connectors.bigcommerce.diagnose import token_problem
from connectors.bigcommerce.errors import api_url_problem
from engine import db, schema, secrets
from engine.errors import ConfigError
from engine.loader import InvalidRules
from engine.yamldoc import Document, decode, read

DEFAULT_FILE = "rulesync.yaml"
DEFAULT_STATE = ".rulesync/state.sqlite"
DEFAULT_API_URL = "https://api.bigcommerce.com"
TOKEN_ENV = "BIGCOMMERCE_ACCESS_TOKEN"
DEFAULT_INBOX_RETENTION_DAYS = 7.0  # longer than BigCommerce's ~48 h of delivery retries


@dataclass(frozen=True)
class Config:
    file: Path | None
    rules: tuple[Path, ...]
    settings: Mapping[str, Any]
    state: Path | str  # a SQLite file, or a PostgreSQL URL (engine/db.py)
    store_hash: str = ""
    api_url: str = DEFAULT_API_URL
    token_env: str = TOKEN_ENV
    retry_floor_seconds: float | None = None
    inbox_retention_days: float = DEFAULT_INBOX_RETENTION_DAYS
    max_wait_seconds: float | None = None
    timeout_seconds: float | None = None
    store_connector: str = "bigcommerce"  # engine/registry.py
    oms_connector: str = "ledger"
    oms_options: Mapping[str, Any] = field(default_factory=dict)  # the rest of `oms:`
    origins: Mapping[str, str] = field(default_factory=dict)  # setting -> where it was given
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def token(self) -> str:
        """The access token, read from the environment only when a command needs the store;
        the store settings (hash, API URL) are checked here too, before any request."""
        token = self.environ.get(self.token_env, "").strip()
        secrets.add_secret(token)  # redacted from every line, even the errors about it
        problem = token_problem(token, self.token_env)
        if problem:
            raise ConfigError(problem)
        if not token:
            raise ConfigError(f"no store access token: set the environment variable {self.token_env}")
        if not self.store_hash:
            raise ConfigError("no store hash: set BIGCOMMERCE_STORE_HASH or store.store_hash "
                              "in rulesync.yaml")
        problem = api_url_problem(self.api_url)
        if problem:
            raise ConfigError(problem)
        return token


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, str], Document]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the configuration {path}: {e.strerror}") from None
    text, problems = decode(str(path), raw)
    doc = read(str(path), text)
    problems = problems or doc.problems \
        or [p for p in [schema.check_version(doc, "rulesync.yaml")] if p] \
        or schema.problems(doc, "config")
    if problems:
        raise InvalidRules(problems)
    data: dict[str, Any] = doc.data  # type: ignore[assignment]
    origins = {name: "{}:{}:{}".format(path, *doc.where(("settings", name)))
               for name in data.get("settings", {})}
    return data, origins, doc


def load(path: Path | None = None, *, state: str | Path | None = None,
         settings: Mapping[str, Any] | None = None,
         environ: Mapping[str, str] | None = None) -> Config:
    env = dict(os.environ if environ is None else environ)
    secrets.add_url_secrets(env.get("BIGCOMMERCE_API_URL", ""))  # before anything can print it
    if path is None and Path(DEFAULT_FILE).is_file():
        path = Path(DEFAULT_FILE)
    data, origins, doc = _read_file(path) if path else ({"version": 1}, {}, Document(""))
    origins.update({name: "--set" for name in settings or {}})
    base = path.parent if path else Path.cwd()
    oms: dict[str, Any] = data.get("oms", {})
    store: dict[str, Any] = data.get("store", {})
    secrets.add_url_secrets(str(store.get("api_url", "")))
    rule_paths = tuple(base / p for p in data.get("rules", [])) or (shipped.BIGCOMMERCE,)
    for i, p in enumerate(rule_paths):
        if not p.exists():
            where = "{}:{}:{}: ".format(path, *doc.where(("rules", i))) if path else ""
            raise ConfigError(f"{where}rule path {p} does not exist")
    retention = data.get("serve", {}).get("inbox_retention_days", DEFAULT_INBOX_RETENTION_DAYS)
    if retention != retention:  # .nan passes the schema's bounds
        raise ConfigError(f"{path}: serve.inbox_retention_days: .nan is not a number of days")
    return Config(
        file=path, rules=rule_paths,
        settings={**data.get("settings", {}), **(settings or {})},
        state=_state(state, env, base, data.get("state", DEFAULT_STATE)),
        store_hash=env.get("BIGCOMMERCE_STORE_HASH") or store.get("store_hash", ""),
        api_url=env.get("BIGCOMMERCE_API_URL") or store.get("api_url", DEFAULT_API_URL),
        token_env=store.get("token_env", TOKEN_ENV),
        retry_floor_seconds=store.get("retry_floor_seconds"),
        inbox_retention_days=retention,
        max_wait_seconds=store.get("max_wait_seconds"),
        timeout_seconds=store.get("timeout_seconds"),
        store_connector=store.get("connector", "bigcommerce"),
        oms_connector=oms.get("connector", "ledger"),
        oms_options={k: v for k, v in oms.items() if k != "connector"},
        origins=origins, environ=env)


def _state(flag: str | Path | None, env: Mapping[str, str], base: Path, configured: str
           ) -> Path | str:
    """--state, else RULESYNC_STATE or RULESYNC_DATABASE_URL, else the file's `state:` (a path
    there is relative to the file), else .rulesync/state.sqlite."""
    given = flag or env.get("RULESYNC_STATE") or env.get("RULESYNC_DATABASE_URL")
    found = db.location(given) if given else db.location(configured, base)
    if isinstance(found, str):
        secrets.add_url_secrets(found)  # a database password never shows, not even in an error
    return found
