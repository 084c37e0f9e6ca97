"""The composition root: everything a sync needs, built from a Config through the registry of
connectors and state backends (engine/connect/registry.py), failing before any change if it can't."""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from engine.config import Config
from engine.connect import registry
from engine.connect.ports import DEFAULT_STORE, Oms, Plugin, Store, SyncState
from engine.errors import ConfigError, RulesyncError
from engine.language.catalog import INBOUND, OUTBOUND
from engine.language.loader import load_rulesets
from engine.language.model import RuleSet
from engine.storage import db  # the state's location: a path or a URL, and how it is shown
from engine.sync.progress import Progress
from engine.sync.run import Sync
from engine.sync.summary import Summary, mark_pending

KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


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
            kind = KINDS.get(type(defaults[name]), type(defaults[name]).__name__)
            raise ConfigError(f"{where}setting '{name}' must be {kind} like its default "
                              f"{json.dumps(defaults[name])}, "
                              f"not {json.dumps(value, default=str)}")
    return settings


@contextmanager
def open_sync(config: Config, *, plan: bool = False, copy: Path | str | None = None
              ) -> Iterator[Sync]:
    """Everything a sync needs. With `plan`, the same sync on a private copy of the state
    (`plan_copy`) against a store it cannot write: the state itself is left untouched.
    `copy`: plan's copy made already (one for the plans of several stores, whose rows are
    apart), else one is made."""
    rulesets = rulesets_by_direction(config)
    settings = check_settings(rulesets, config.settings, config.origins)
    check_plugins(config)  # an unknown name is refused before anything is opened or created
    if not plan:
        store = open_store(config)  # store settings first: a bad one creates no state file
        with opened(config, config.state) as (state, oms):
            yield Sync(rulesets, settings, oms, state, store)
        return
    copying = nullcontext(copy) if copy else plan_copy(config.state)
    store = open_store(config, read_only=True)
    with copying as made, \
            opened(config, made, config.state, read_only=True) as (state, oms):
        yield Sync(rulesets, settings, oms, state, store, crash_at=0)


def plan(config: Config, *, push_current: bool = False, copy: Path | str | None = None,
         progress: Progress | None = None) -> Summary:
    """What `apply` (with the same flags) would do now, action by action, with its outcomes."""
    with open_sync(config, plan=True, copy=copy) as sync:
        pending = {row["key"]: row["created_at"] for row in sync.state.pending_actions()}
        return mark_pending(sync.run(push_current=push_current, progress=progress), pending)


# -- the composition root: the configured implementations, found in the registry ----------

def check_plugins(config: Config) -> None:
    """The configured store and OMS connectors and the state backend are all installed."""
    for find in (_store_plugin, _oms_plugin):
        find(config)
    check_state(config.state)


def check_state(location: Path | str) -> None:
    """The backend of the state at `location` is installed; else an error naming those that are."""
    _state_plugin(location)


def open_store(config: Config, *, read_only: bool = False) -> Store:
    store: Store = _store_plugin(config).open(config, read_only=read_only)
    return store


def open_oms(config: Config, location: Path | str, *, read_only: bool = False) -> Oms:
    oms: Oms = _oms_plugin(config).open(config, config.oms_options, location=location,
                                        read_only=read_only)
    return oms


def open_state(location: Path | str, store: str = DEFAULT_STORE) -> SyncState:
    """One store's view of the sync state backend named by the location's URL scheme (`sqlite`
    for a path)."""
    state: SyncState = _state_plugin(location).open(location, store)
    return state


def plan_copy(location: Path | str) -> AbstractContextManager[Path | str]:
    """A private copy of the state at `location`, for `plan`, made by its backend (removed
    when the context ends); a backend that offers none cannot be planned."""
    plugin = _state_plugin(location)
    if plugin.plan_copy is None:
        raise RulesyncError(f"state backend '{db.scheme(location)}' cannot be planned: it "
                            "offers no private copy of the state for plan to work on "
                            "(plan_copy, docs/connectors.md)")
    copying: AbstractContextManager[Path | str] = plugin.plan_copy(location)
    return copying


def state_exists(location: Path | str) -> bool:
    """Whether there may be a state at `location` to read, without creating one: a file that
    exists, or any URL (only its backend can say, once opened)."""
    return db.exists(location)


def shown(location: Path | str) -> str:
    """A state location as messages show it (a URL without its password)."""
    return db.shown(location)


def _store_plugin(config: Config) -> Plugin:
    where = f"{config.file or 'the configuration'}: store.connector"
    return registry.plugin("store", config.store_connector, where)


def _oms_plugin(config: Config) -> Plugin:
    where = f"{config.file or 'the configuration'}: oms.connector"
    return registry.plugin("oms", config.oms_connector, where)


def _state_plugin(location: Path | str) -> Plugin:
    scheme = db.scheme(location) or "sqlite"
    return registry.plugin("state", scheme, f"state {db.shown(location)}")


@contextmanager
def opened(config: Config, path: Path | str, shown_as: Path | str | None = None, *,
            read_only: bool = False) -> Iterator[tuple[SyncState, Oms]]:
    """The sync state and the OMS; errors name `shown_as` (the user's state) when `path` is
    plan's copy of it."""
    try:
        state = open_state(path, config.store_name)  # first: it creates the folder a ledger shares
        try:
            oms = open_oms(config, path, read_only=read_only)
        except BaseException:
            state.close()
            raise
    except RulesyncError as e:
        if shown_as is None:
            raise
        raise RulesyncError(str(e).replace(str(path), db.shown(shown_as))) from None
    try:
        yield state, oms
    finally:
        state.close()
        oms.close()
