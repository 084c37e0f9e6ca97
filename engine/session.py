"""Opening everything a sync needs from a Config, and failing before any change if it can't."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

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
                   settings: Mapping[str, Any]) -> Mapping[str, Any]:
    """A setting no rule file declares is a typo: refuse it instead of silently ignoring it."""
    values = rulesets.values() if isinstance(rulesets, Mapping) else rulesets
    known = {k for r in values for k in r.settings}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(f"unknown setting '{unknown[0]}' (known: {', '.join(sorted(known))})")
    return settings


def client_for(config: Config) -> BigCommerceClient:
    policy = RetryPolicy()
    if config.retry_floor_seconds is not None:
        policy = RetryPolicy(server_error_floor=config.retry_floor_seconds,
                             max_delay=max(config.retry_floor_seconds, 1.0))
    return BigCommerceClient(config.store_hash, config.token(), config.api_url, policy=policy)


@contextmanager
def open_sync(config: Config) -> Iterator[Sync]:
    rulesets = rulesets_by_direction(config)
    settings = check_settings(rulesets, config.settings)
    client = client_for(config)
    state = SqliteState(config.state)  # first: it creates the folder the ledger shares
    ledger = Ledger(config.state)
    try:
        yield Sync(rulesets, settings, ledger, state, client)
    finally:
        state.close()
        ledger.close()
