"""`plan`: the very run `apply` would make, on a private copy of the state, against the live store.

Like terraform's refresh, `plan` reads everything `apply` reads: the change feed, each order's
live status before a push, the shipments a push would check. It does so by running the same
engine (engine/sync.py) with two differences only:

- the state file (ledger + sync state) is copied first, through SQLite's backup API, into a
  private temporary folder, and the run works on the copy, which is then deleted; the state file
  itself is never written (not even created when it does not exist). A state in PostgreSQL is
  copied into such a SQLite file from one read-only snapshot (engine/db_copy.py);
- the store client refuses every request but GET. Its two writes, a status PUT and a shipment
  POST, are simulated: later reads in the same run see their effect, as they would in `apply`.

So `plan --json` lists, action by action, what the next `apply --json` does on a quiet store,
outcomes included: done, noop, a conflict with its reason, an action the ledger refuses. What
it cannot know is a write the store itself would refuse (e.g. a 422), which only `apply` sees.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connectors.bigcommerce.client import BigCommerceClient
from connectors.ledger import schema as ledger_schema
from engine import db
from engine.db_copy import copy_to_sqlite
from engine.errors import RulesyncError
from engine.state import VERSIONED as STATE_VERSIONED
from engine.sync import Summary

# How SQLite reports a write the disk refused: full (ENOSPC), or over a quota or file size limit
# (EDQUOT, EFBIG). Every write of a plan goes to its copy, so these are the temporary folder's.
NO_ROOM = ("SQLITE_FULL", "SQLITE_IOERR_WRITE")
# How SQLite refuses a WAL file whose `-shm` it can neither make nor use: a read-only file system
# (CANTOPEN), a folder this user may not write (READONLY_DIRECTORY), or a `-shm` left by a dead
# process that it may not reset (READONLY_CANTINIT). No connection is open then.
CANNOT_OPEN = ("SQLITE_CANTOPEN", "SQLITE_READONLY")


class StoreWriteInPlan(RuntimeError):
    """A bug: something tried to change the store during `plan`."""


class PlanClient(BigCommerceClient):
    """Reads the store; answers its own writes from memory and never sends one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: dict[int, dict[str, Any]] = {}  # status_id / items_shipped written
        self._shipments: dict[int, list[dict[str, Any]]] = {}
        self._made = 0

    def request(self, method: str, template: str, path_params: Mapping[str, Any] | None = None,
                params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        if method != "GET":  # the one gate every call goes through: nothing else can slip by
            raise StoreWriteInPlan(f"plan never writes to the store ({method} {template})")
        return super().request(method, template, path_params, params, body)

    def _seen(self, order: dict[str, Any]) -> dict[str, Any]:
        return {**order, **self._orders.get(int(order["id"]), {})}

    def get_order(self, order_id: int) -> dict[str, Any]:
        return self._seen(super().get_order(order_id))

    def list_orders_page(self, **filters: Any) -> list[dict[str, Any]]:
        return [self._seen(order) for order in super().list_orders_page(**filters)]

    def list_shipments(self, order_id: int) -> list[dict[str, Any]]:
        return super().list_shipments(order_id) + self._shipments.get(order_id, [])

    def update_order_status(self, order_id: int, status_id: int) -> dict[str, Any]:
        if type(status_id) is not int or not 0 <= status_id <= 14:
            raise ValueError(f"status_id must be an integer 0-14, got {status_id!r}")
        self._orders.setdefault(order_id, {})["status_id"] = status_id
        return {"id": order_id, "status_id": status_id}

    def create_shipment(self, order_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """What the store does on POST (FACTS §5, as the sandbox models it): the items count as
        shipped, and the order becomes Shipped once all are, else Partially Shipped. The id is
        negative, so it can never be taken for a store shipment."""
        order = self.get_order(order_id)
        shipped = int(order.get("items_shipped") or 0) + sum(
            int(item["quantity"]) for item in body.get("items") or ())
        total = int(order.get("items_total") or 0)
        self._orders.setdefault(order_id, {}).update(
            items_shipped=shipped, status_id=2 if shipped >= total else 3)
        self._made += 1
        made = {**body, "id": -self._made, "order_id": order_id}
        self._shipments.setdefault(order_id, []).append(made)
        return made


def snapshot(source: Path | str, copy: Path) -> None:
    """Copy the state file, as of one consistent moment, without writing to it or beside it.

    The source is opened read-write but only read: a read-only connection to a WAL database
    leaves `-wal` and `-shm` files behind that it may not delete, while this connection, when it
    is the last one, removes them as it found them. `mode=rw` never creates a missing file. In a
    folder this user cannot write, SQLite cannot open the file at all (it would make the `-shm`
    there): then the bytes are copied instead (`_copy_files`)."""
    if db.is_url(source):
        copy_to_sqlite(str(source), copy, (ledger_schema.versioned(), STATE_VERSIONED))
        return
    source = Path(source)
    target = sqlite3.connect(copy)
    try:
        if source.exists():
            uri = f"{source.resolve().as_uri()}?mode=rw"
            reader = sqlite3.connect(uri, uri=True, timeout=30)
            try:
                reader.backup(target)
            finally:
                reader.close()
    except sqlite3.Error as e:
        if e.sqlite_errorname in NO_ROOM:
            raise
        if not (e.sqlite_errorname or "").startswith(CANNOT_OPEN) or \
                os.access(source.parent, os.W_OK):
            raise RulesyncError(f"cannot read the state file {source}: {e}") from None
        target.close()
        _copy_files(source, copy)
    finally:
        target.close()


def _copy_files(source: Path, copy: Path) -> None:
    """The file and its write-ahead log, byte for byte; opening the copy replays the log. Only
    when SQLite could not open the file for want of its `-shm`: every open connection keeps that
    file in place, so none has the state open and the bytes hold still while they are copied."""
    try:
        shutil.copyfile(source, copy)
        log = source.with_name(source.name + "-wal")
        if log.exists():
            shutil.copyfile(log, copy.with_name(copy.name + "-wal"))
    except OSError as e:
        raise RulesyncError(f"cannot copy the state file {source} into {copy.parent}: "
                            f"{e.strerror}") from None


@contextmanager
def private_copy(source: Path | str) -> Iterator[Path]:
    """A copy of the state file in a new temporary folder only this user can read (it holds
    customers' addresses), removed afterwards. No room for it there is the user's to fix: an
    error that names the folder (not the state file, which is fine)."""
    with tempfile.TemporaryDirectory(prefix="rulesync-plan-") as folder:
        copy = Path(folder) / "state.sqlite"
        try:
            snapshot(source, copy)
            yield copy
        except (sqlite3.Error, RulesyncError) as e:
            refused = _refused_write(e)
            if refused is None:
                raise
            raise RulesyncError(
                f"plan works on a copy of the state file in {Path(folder).parent} and could not "
                f"write it there ({refused}): set TMPDIR to a folder with room for it") from None


def _refused_write(error: BaseException | None) -> sqlite3.Error | None:
    """The SQLite error of a refused write behind `error`, if any: the state and ledger wrap
    SQLite's errors in their own messages, keeping the original as the exception's context."""
    while error is not None:
        if isinstance(error, sqlite3.Error) and error.sqlite_errorname in NO_ROOM:
            return error
        error = error.__context__
    return None


def mark_pending(summary: Summary, pending: Mapping[str, str]) -> Summary:
    """Flag the actions an earlier `apply` recorded and did not finish (`pending_since`)."""
    for action in summary.actions:
        if action.get("key") in pending:
            action["pending_since"] = pending[action["key"]]
    return summary
