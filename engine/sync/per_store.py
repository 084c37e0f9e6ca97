"""Running a command over the configured stores: each on its own, so that one store's outage,
wrong token or bad rules does not stop the others; the report is per store, and the exit code
says whether any store failed (engine/config.py `Config.select`)."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from engine.config import Config
from engine.errors import RulesyncError
from engine.secrets import redact
from engine.sync.summary import Summary

log = logging.getLogger("rulesync.stores")


@dataclass
class Outcome:
    store: str
    summary: Summary | None = None
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error) or bool(self.summary and self.summary.counts["errors"])


def run_each(stores: tuple[Config, ...], run: Callable[[Config], Summary]) -> list[Outcome]:
    """`run` for every store, in order; a store that fails is reported and the rest go on."""
    outcomes = []
    for store in stores:
        try:
            outcomes.append(Outcome(store.store_name, run(store)))
        except RulesyncError as e:
            log.error("store %s: %s", store.store_name, e)
            outcomes.append(Outcome(store.store_name, error=redact(str(e))))
    return outcomes


def text(outcomes: list[Outcome], show: Callable[[Summary], str]) -> str:
    parts = []
    for o in outcomes:
        body = show(o.summary) if o.summary else f"failed: {o.error}"
        parts.append(f"store {o.store}:\n" + "\n".join(f"  {line}" for line in body.splitlines()))
    failed = [o.store for o in outcomes if o.error]
    if failed:
        parts.append(f"{len(failed)} of {len(outcomes)} store(s) failed: {', '.join(failed)}")
    return "\n".join(parts)


def as_json(outcomes: list[Outcome]) -> str:
    return json.dumps({"stores": {o.store: o.summary.as_dict() if o.summary else
                                  {"error": o.error} for o in outcomes},
                       "failed": [o.store for o in outcomes if o.failed]}, indent=2, default=str)
