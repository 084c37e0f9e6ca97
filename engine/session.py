"""Opening everything a sync needs from a Config, and failing before any change if it can't."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from connectors.bigcommerce.client import BigCommerceClient
from connectors.bigcommerce.policy import RetryPolicy
from connectors.ledger.ledger import Ledger
from engine.catalog import INBOUND, OUTBOUND
from engine.config import Config
from engine.errors import ConfigError
from engine.loader import load_rulesets
from engine.model import RuleSet
from engine.state import SqliteState
from engine.sync import Sync


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


def client_for(config: Config) -> BigCommerceClient:
    policy = RetryPolicy()
    if config.retry_floor_seconds is not None:
        floor = config.retry_floor_seconds
        policy = RetryPolicy(server_error_floor=floor, base_delay=min(1.0, floor),
                             max_delay=max(floor, 1.0))
    return BigCommerceClient(config.store_hash, config.token(), config.api_url, policy=policy)


@contextmanager
def open_sync(config: Config) -> Iterator[Sync]:
    rulesets = rulesets_by_direction(config)
    settings = check_settings(rulesets, config.settings, config.origins)
    client = client_for(config)
    state = SqliteState(config.state)  # first: it creates the folder the ledger shares
    ledger = Ledger(config.state)
    try:
        yield Sync(rulesets, settings, ledger, state, client)
    finally:
        state.close()
        ledger.close()
