"""Configuration: rulesync.yaml, then environment variables, then flags.

With no file the shipped rules and the environment suffice. A missing or invalid configuration is
an error before anything runs. Tokens come only from the environment, never from files.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import rules as shipped
from connectors.bigcommerce.errors import api_url_problem, token_problem
from engine import secrets
from engine.connect.ports import DEFAULT_STORE
from engine.errors import ConfigError
from engine.language import schema
from engine.language.loader import InvalidRules
from engine.language.yamldoc import Document, decode, read
from engine.storage import db

DEFAULT_FILE = "rulesync.yaml"
DEFAULT_STATE = ".rulesync/state.sqlite"
DEFAULT_API_URL = "https://api.bigcommerce.com"
TOKEN_ENV = "BIGCOMMERCE_ACCESS_TOKEN"
DEFAULT_INBOX_RETENTION_DAYS = 7.0  # longer than BigCommerce's ~48 h of delivery retries
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # a store's name (the schema's pattern)


@dataclass(frozen=True)
class Config:
    file: Path | None
    rules: tuple[Path, ...]
    settings: Mapping[str, Any]
    state: Path | str  # a SQLite file, or a PostgreSQL URL (engine/storage/db.py)
    store_hash: str = ""
    api_url: str = DEFAULT_API_URL
    token_env: str = TOKEN_ENV
    retry_floor_seconds: float | None = None
    inbox_retention_days: float = DEFAULT_INBOX_RETENTION_DAYS
    max_wait_seconds: float | None = None
    timeout_seconds: float | None = None
    store_connector: str = "bigcommerce"  # engine/connect/registry.py
    oms_connector: str = "ledger"
    oms_options: Mapping[str, Any] = field(default_factory=dict)  # the rest of `oms:`
    broker: Mapping[str, Any] = field(default_factory=dict)  # `broker:` (engine/distributed)
    quota: Mapping[str, Any] = field(default_factory=dict)  # store.quota, read by the connector
    concurrency: int | None = None  # store.concurrency: requests in flight at once
    origins: Mapping[str, str] = field(default_factory=dict)  # setting -> where it was given
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    store_name: str = DEFAULT_STORE  # its key in the state and the ledger
    # With `stores:` in rulesync.yaml, one Config per store (each with its own store settings,
    # rules and name); empty when the configuration is itself the one store.
    stores: tuple[Config, ...] = ()

    def inbox_cutoff(self) -> str:
        """The `received_at` before which a handled webhook delivery may be pruned."""
        return (datetime.now(UTC) - timedelta(days=self.inbox_retention_days)).isoformat(
            timespec="seconds")

    def each_store(self) -> tuple[Config, ...]:
        return self.stores or (self,)

    def select(self, name: str | None) -> tuple[Config, ...]:
        """The stores a command covers: all of them, or the one `--store` names."""
        if name is None:
            return self.each_store()
        for store in self.each_store():
            if store.store_name == name:
                return (store,)
        if not self.stores:
            raise ConfigError(f"--store {name}: {self.file or 'the configuration'} names no "
                              f"stores (its one store is '{DEFAULT_STORE}'); leave out --store")
        raise ConfigError(f"--store {name}: no such store in {self.file} (configured: "
                          f"{', '.join(s.store_name for s in self.stores)})")

    def only(self, name: str | None) -> Config:
        """The one store a command about one store's orders works on: `--store`, or the only
        store configured."""
        chosen = self.select(name)
        if len(chosen) > 1:
            raise ConfigError(f"{self.file} configures {len(chosen)} stores: say which with "
                              f"--store ({', '.join(s.store_name for s in chosen)})")
        return chosen[0]

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
    _check_api_urls(doc, data)
    origins = {name: "{}:{}:{}".format(path, *doc.where(("settings", name)))
               for name in data.get("settings", {})}
    return data, origins, doc


def _check_api_urls(doc: Document, data: Mapping[str, Any]) -> None:
    """An api_url the schema lets through (it starts with http) that still cannot be the API
    address (an unclosed IPv6 address, a port out of range, no host) is refused at its place."""
    found: list[tuple[tuple[str | int, ...], Mapping[str, Any]]] = [(("store",), data.get("store", {}))]
    found += [(("stores", i), entry) for i, entry in enumerate(data.get("stores", []))]
    problems = [doc.problem((*at, "api_url"), problem) for at, entry in found
                if "api_url" in entry and (problem := api_url_problem(entry["api_url"]))]
    if problems:
        raise InvalidRules(problems)


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
    secrets.add_url_secrets(str(data.get("broker", {}).get("url", "")))
    retention = data.get("serve", {}).get("inbox_retention_days", DEFAULT_INBOX_RETENTION_DAYS)
    if retention != retention:  # .nan passes the schema's bounds
        raise ConfigError(f"{path}: serve.inbox_retention_days: .nan is not a number of days")
    config = Config(
        file=path, rules=_rules(data.get("rules", []), base, path, doc, ("rules",)),
        settings={**data.get("settings", {}), **(settings or {})},
        state=_state(state, env, base, data.get("state", DEFAULT_STATE)),
        inbox_retention_days=retention,
        oms_connector=oms.get("connector", "ledger"),
        oms_options={k: v for k, v in oms.items() if k != "connector"},
        broker=data.get("broker", {}), origins=origins, environ=env)
    if "stores" not in data:
        return _with_store(config, {**store, **{key: env[name] for key, name in ENV.items()
                                                 if env.get(name)}})
    stores = []
    for i, entry in enumerate(data["stores"]):
        # A store's own rule path that is gone fails that store when its rules are read (as
        # a broken file there does), not every store's commands.
        rules = _rules(entry["rules"], base, path, doc, ("stores", i, "rules"), check=False) \
            if "rules" in entry else config.rules
        own = {name: "{}:{}:{}".format(path, *doc.where(("stores", i, "settings", name)))
               for name in entry.get("settings", {})}
        stores.append(_with_store(replace(
            config, rules=rules, store_name=entry["name"],
            settings={**data.get("settings", {}), **entry.get("settings", {}), **(settings or {})},
            origins={**origins, **own, **{name: "--set" for name in settings or {}}}),
            {**store, **entry}))
    _distinct(path, stores)
    return replace(config, stores=tuple(stores))


def _distinct(path: Path | None, stores: list[Config]) -> None:
    """Each store its own name (the schema's `$` lets a final newline through) and its own
    store hash (serve tells the stores' deliveries apart by it)."""
    seen: dict[str, str] = {}
    for s in stores:
        if not NAME.fullmatch(s.store_name):
            raise ConfigError(f"{path}: store name {s.store_name!r}: lower case letters, digits, "
                              "- and _ only")
        if any(s.store_name == other.store_name for other in stores if other is not s):
            raise ConfigError(f"{path}: two stores are named '{s.store_name}': each needs its "
                              "own name")
        if s.store_hash in seen:
            raise ConfigError(f"{path}: stores {seen[s.store_hash]} and {s.store_name} both have "
                              f"store_hash {s.store_hash}: configure each store once")
        seen[s.store_hash] = s.store_name


# Environment variables that set the store of a configuration naming none (`stores:` does not
# take them: which store would they be?).
ENV = {"store_hash": "BIGCOMMERCE_STORE_HASH", "api_url": "BIGCOMMERCE_API_URL"}


def _with_store(config: Config, store: Mapping[str, Any]) -> Config:
    """The config with the store's own fields: the top-level `store:` under a `stores:` entry."""
    secrets.add_url_secrets(str(store.get("api_url", "")))
    token_env = store.get("token_env", TOKEN_ENV)
    secrets.add_secret(config.environ.get(token_env, ""))  # even where no command reads it
    return replace(
        config, store_hash=store.get("store_hash", ""),
        api_url=store.get("api_url", DEFAULT_API_URL),
        token_env=token_env,
        retry_floor_seconds=store.get("retry_floor_seconds"),
        max_wait_seconds=store.get("max_wait_seconds"),
        timeout_seconds=store.get("timeout_seconds"),
        quota=store.get("quota", {}), concurrency=store.get("concurrency"),
        store_connector=store.get("connector", "bigcommerce"))


def _rules(given: list[str], base: Path, path: Path | None, doc: Document,
           at: tuple[str | int, ...], check: bool = True) -> tuple[Path, ...]:
    rule_paths = tuple(base / p for p in given) or (shipped.BIGCOMMERCE,)
    for i, p in enumerate(rule_paths):
        if check and not p.exists():
            where = "{}:{}:{}: ".format(path, *doc.where((*at, i))) if path else ""
            raise ConfigError(f"{where}rule path {p} does not exist")
    return rule_paths


def _state(flag: str | Path | None, env: Mapping[str, str], base: Path, configured: str
           ) -> Path | str:
    """--state, else RULESYNC_STATE or RULESYNC_DATABASE_URL, else the file's `state:` (a path
    there is relative to the file), else .rulesync/state.sqlite."""
    given = flag or env.get("RULESYNC_STATE") or env.get("RULESYNC_DATABASE_URL")
    found = db.location(given) if given else db.location(configured, base)
    if isinstance(found, str):
        secrets.add_url_secrets(found)  # a database password never shows, not even in an error
    return found
