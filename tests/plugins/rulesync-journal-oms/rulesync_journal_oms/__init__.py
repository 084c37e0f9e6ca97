"""An example OMS connector: the built-in ledger, plus a journal of every action it is asked to do.

It shows the whole of what a connector package needs: an object that has the methods of
`engine.connect.ports.Oms`, a function that opens it from the configuration, and an entry point in
pyproject.toml (`rulesync.oms`) naming a `Plugin`. rulesync.yaml then picks it by name:

    oms: {connector: journal, journal: journal.jsonl}

Every inbound action the sync hands it is appended to the journal (one JSON object a line)
before the ledger does it, so a test can see that the sync went through this package.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.ledger import Ledger
from engine.config import Config
from engine.connect.ports import HistoryEntry, LedgerOrder, Plugin
from engine.errors import ConfigError
from engine.language.effects import ActionCall, Outcome


class JournalOms:
    def __init__(self, ledger: Ledger, journal: Path) -> None:
        self.ledger, self.journal, self.where = ledger, journal, ledger.where

    def execute(self, call: ActionCall) -> Outcome:
        with self.journal.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"key": call.key, "order_id": call.order_id,
                                  "action": call.action, "attempts": call.attempts}) + "\n")
        return self.ledger.execute(call)

    # Everything else is the ledger's.
    def get(self, order_id: int | str) -> LedgerOrder | None:
        return self.ledger.get(order_id)

    def state_of(self, order_id: int | str) -> dict[str, Any]:
        return self.ledger.state_of(order_id)

    def history(self, order_id: int | str) -> list[HistoryEntry]:
        return self.ledger.history(order_id)

    def changes_since(self, seq: int, limit: int = 100) -> list[HistoryEntry]:
        return self.ledger.changes_since(seq, limit)

    def link_store_shipment(self, order_id: int | str, source_id: str, store_id: int | str
                            ) -> bool:
        return self.ledger.link_store_shipment(order_id, source_id, store_id)

    def close(self) -> None:
        self.ledger.close()


def open_journal(config: Config, options: Mapping[str, Any], *, location: str | Path,
                 read_only: bool = False) -> JournalOms:
    unknown = set(options) - {"journal"}
    if unknown or not isinstance(options.get("journal"), str):
        raise ConfigError("oms: the journal connector takes one option, journal: a file name")
    base = config.file.parent if config.file else Path.cwd()
    journal = base / options["journal"]
    if read_only:  # plan: the ledger is plan's private copy; the journal is left alone
        journal = Path(str(location) + ".journal.jsonl")
    return JournalOms(Ledger(location, config.store_name, durable=False), journal)


PLUGIN = Plugin("oms", open_journal, "the ledger, with a journal of every action (an example)")
