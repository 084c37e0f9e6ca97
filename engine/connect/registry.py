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
def _entry_points() -> tuple[Installed, ...]:
    """Every rulesync plugin installed, read once per process (each read goes through every
    installed distribution, and a command asks for several plugins)."""
    points = metadata.entry_points()
    packages: dict[int, str] = {}  # by distribution: its metadata is read once
    found = []
    for kind, group in GROUPS.items():
        for point in points.select(group=group):
            dist = getattr(point, "dist", None)
            if dist is not None and id(dist) not in packages:
                meta = dist.metadata
                packages[id(dist)] = f"{meta['Name']} {meta['Version']}"
            package = "?" if dist is None else packages[id(dist)]
            found.append(Installed(kind, point.name, point.value, package))
    return tuple(found)


def installed(kind: str) -> dict[str, Installed]:
    """The plugins of one kind, by name; two packages claiming one name is an error."""
    found: dict[str, Installed] = {}
    for entry in _entry_points():
        if entry.kind != kind:
            continue
        same = found.get(entry.name)
        if same is not None and same != entry:
            raise ConfigError(f"two packages register the {kind} plugin '{entry.name}': "
                              f"{same.package} ({same.value}) and {entry.package} ({entry.value})")
        found[entry.name] = entry
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
