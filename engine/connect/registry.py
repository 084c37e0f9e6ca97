"""Connectors and state backends, found through entry points.

Three groups, each mapping a name to an `engine.connect.ports.Plugin`:

- `rulesync.stores`: store connectors, chosen by `store.connector` in rulesync.yaml (default
  `bigcommerce`);
- `rulesync.oms`: OMS connectors, chosen by `oms.connector` (default `ledger`);
- `rulesync.state`: sync state backends, chosen by the state location's URL scheme (`sqlite`
  for a plain path, `postgresql` for `postgresql://...`).

The built-ins are registered in this project's pyproject.toml exactly as a third party
registers its own (docs/connectors.md), so there is one path for both. An unknown name is a
configuration error that lists the names installed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from engine.connect.ports import Plugin
from engine.errors import ConfigError

GROUPS = {"store": "rulesync.stores", "oms": "rulesync.oms", "state": "rulesync.state"}
DEFAULTS = {"store": "bigcommerce", "oms": "ledger", "state": "sqlite"}


@dataclass(frozen=True)
class Installed:
    """One entry point: what it is called, where it points and which package brought it."""

    kind: str
    name: str
    value: str  # module:attribute
    package: str  # distribution name and version, or "?" when not from a distribution

    def load(self) -> Plugin:
        found: Any = metadata.EntryPoint(self.name, self.value, GROUPS[self.kind]).load()
        if not isinstance(found, Plugin) or found.kind != self.kind:
            raise ConfigError(f"the {self.kind} plugin '{self.name}' from {self.package} "
                              f"({self.value}) is not a rulesync {self.kind} plugin")
        return found


@cache
def _entry_points() -> tuple[metadata.EntryPoint, ...]:
    """Every rulesync entry point installed, read once per process: a command asks for several
    plugins, and each scan reads every installed distribution's entry points."""
    return tuple(point for group in GROUPS.values()
                 for point in metadata.entry_points(group=group))


@cache
def _package(dist: Any) -> str:
    """A distribution's name and version (reading its metadata, once per distribution)."""
    if dist is None:
        return "?"
    meta = dist.metadata
    return f"{meta['Name']} {meta['Version']}"


def installed(kind: str) -> dict[str, Installed]:
    """The plugins of one kind, by name; two packages claiming one name is an error."""
    found: dict[str, Installed] = {}
    for point in _entry_points():
        if point.group != GROUPS[kind]:
            continue
        package = _package(getattr(point, "dist", None))
        entry = Installed(kind, point.name, point.value, package)
        same = found.get(point.name)
        if same is not None and same != entry:
            raise ConfigError(f"two packages register the {kind} plugin '{point.name}': "
                              f"{same.package} ({same.value}) and {package} ({point.value})")
        found[point.name] = entry
    return found


def plugin(kind: str, name: str, where: str) -> Plugin:
    """The plugin `name` of `kind`; an unknown name names `where` it was asked for."""
    found = installed(kind)
    if name not in found:  # installed since this process first looked?
        _entry_points.cache_clear()
        found = installed(kind)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigError(f"{where}: unknown {kind} {'backend' if kind == 'state' else 'connector'}"
                          f" '{name}' (installed: {known}; see `rulesync connectors`)")
    return found[name].load()


def every() -> list[Installed]:
    """Every installed plugin, stores first, then OMS connectors, then state backends."""
    return [entry for kind in GROUPS for _, entry in sorted(installed(kind).items())]
