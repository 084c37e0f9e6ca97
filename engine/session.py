"""Opening everything a sync needs from a Config, and failing before any change if it can't."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.policy import RetryPolicy
from connectors.ledger.ledger import Ledger
from engine import db
from engine.catalog import INBOUND, OUTBOUND
from engine.config import Config
from engine.errors import ConfigError, RulesyncError
from engine.loader import load_rulesets
from engine.model import RuleSet
from engine.planning import PlanClient, mark_pending, private_copy
from engine.state import SqlState
from engine.sync import Summary, Sync


def rulesets_by_direction(config: Config) -> dict[str, RuleSet]:
    """Exactly one rule set per direction; invalid rules raise before anything runs."""
    found: dict[str, RuleSet] = {}
    for ruleset in load_rulesets(config.rules):
        if ruleset.direction in found:
            raise ConfigError(f"two {ruleset.direction} rule files: {found[ruleset.direction].file}"
                              f" and {ruleset.file} (configure one per direction)")
        found[ruleset.direction] = ruleset
    for direction in (INBOUND, OUTBOUND):
        if direction not in found:
            raise ConfigError(f"no {direction} rule file in {', '.join(map(str, config.rules))}")
    return found


def check_settings(rulesets: Mapping[str, RuleSet] | list[RuleSet],
                   settings: Mapping[str, Any], origins: Mapping[str, str] | None = None
                   ) -> Mapping[str, Any]:
    """A setting no rule file declares is a typo: refuse it instead of silently ignoring it.

    `origins` says where each setting was given (`rulesync.yaml:7:3`), for the message."""
    values = rulesets.values() if isinstance(rulesets, Mapping) else rulesets
    defaults = {k: v for r in values for k, v in r.settings.items()}
    for name, value in settings.items():
        where = f"{origins[name]}: " if origins and name in origins else ""
        if name not in defaults:
            raise ConfigError(f"{where}unknown setting '{name}' "
                              f"(known: {', '.join(sorted(defaults))})")
        if type(value) is not type(defaults[name]):
            raise ConfigError(f"{where}setting '{name}' must be {type(defaults[name]).__name__} "
                              f"like its default {defaults[name]!r}, not {value!r}")
    return settings


def client_for(config: Config, kind: type[BigCommerceClient] = BigCommerceClient
               ) -> BigCommerceClient:
    policy = RetryPolicy()
    if config.retry_floor_seconds is not None:
        floor = config.retry_floor_seconds
        policy = RetryPolicy(server_error_floor=floor, base_delay=min(1.0, floor),
                             max_delay=max(floor, 1.0))
    if config.max_wait_seconds is not None:
        policy = replace(policy, max_wait=float(config.max_wait_seconds))
    read = float(config.timeout_seconds or 30.0)
    timeout = (min(5.0, read), read)
    return kind(config.store_hash, config.token(), config.api_url, timeout=timeout,
                policy=policy, token_name=config.token_env)


@contextmanager
def open_sync(config: Config, *, plan: bool = False) -> Iterator[Sync]:
    """Everything a sync needs. With `plan`, the same sync on a private copy of the state file
    against a store it cannot write (engine/planning.py): the state file is left untouched."""
    rulesets = rulesets_by_direction(config)
    settings = check_settings(rulesets, config.settings, config.origins)
    if not plan:
        client = client_for(config)  # store settings first: a bad one creates no state file
        with _opened(config.state) as (state, ledger):
            yield Sync(rulesets, settings, ledger, state, client)
        return
    client = client_for(config, PlanClient)
    with private_copy(config.state) as copy, _opened(copy, config.state) as (state, ledger):
        yield Sync(rulesets, settings, ledger, state, client, crash_at=0)


def plan(config: Config, *, push_current: bool = False) -> Summary:
    """What `apply` (with the same flags) would do now, action by action, with its outcomes."""
    with open_sync(config, plan=True) as sync:
        pending = {row["key"]: row["created_at"] for row in sync.state.pending_actions()}
        return mark_pending(sync.run(push_current=push_current), pending)


@contextmanager
def _opened(path: Path | str, shown_as: Path | str | None = None
            ) -> Iterator[tuple[SqlState, Ledger]]:
    """The sync state and the ledger in one database; errors name `shown_as` (the user's
    state) when `path` is plan's copy of it."""
    try:
        state = SqlState(path)  # first: it creates the folder the ledger shares
        try:
            ledger = Ledger(path, durable=False)  # what the sync writes, it can write again
        except BaseException:
            state.close()
            raise
    except RulesyncError as e:
        if shown_as is None:
            raise
        raise RulesyncError(str(e).replace(str(path), db.shown(shown_as))) from None
    try:
        yield state, ledger
    finally:
        state.close()
        ledger.close()
