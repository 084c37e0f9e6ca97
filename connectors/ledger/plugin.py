"""The built-in ledger as the engine's OMS (engine/connect/ports.py `Oms`), and its registry entry.

Registered in pyproject.toml under `rulesync.oms` as `ledger`, the default of `oms.connector`
in rulesync.yaml. Its orders live in the state's own database, so `plan` hands it the private
copy it runs on, and it takes no options.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.ledger.ledger import Ledger
from engine.config import Config
from engine.connect.ports import Oms, Plugin
from engine.errors import ConfigError


def open_ledger(config: Config, options: Mapping[str, Any], *, location: str | Path,
                read_only: bool = False) -> Ledger:
    if options:
        raise ConfigError(f"oms: the ledger takes no options, got {', '.join(sorted(options))}")
    # What the sync writes, it can write again: no waiting for the disk.
    return Ledger(location, config.store_name, durable=False)


PLUGIN = Plugin("oms", open_ledger, "the built-in ledger, in the state's database")

if TYPE_CHECKING:  # mypy holds the class to the protocol it is registered for
    _CHECKED: type[Oms] = Ledger
