"""`plan`: the very run `apply` would make, on a private copy of the state, against the live store.

Like terraform's refresh, `plan` reads everything `apply` reads: the change feed, each order's
live status before a push, the shipments a push would check. It does so by running the same
engine (engine/sync/run.py) with two differences only:

- the state file (ledger + sync state) is copied first, through SQLite's backup API, into a
  private temporary folder, and the run works on the copy, which is then deleted; the state file
  itself is never written (not even created when it does not exist). A state in PostgreSQL is
  copied into such a SQLite file from one read-only snapshot (engine/storage/snapshot.py);
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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from engine.errors import RulesyncError
from engine.storage import db
from engine.storage.migrate import Versioned
from engine.storage.snapshot import copy_to_sqlite

# How SQLite reports a write the disk refused: full (ENOSPC), or over a quota or file size limit
# (EDQUOT, EFBIG). Every write of a plan goes to its copy, so these are the temporary folder's.
NO_ROOM = ("SQLITE_FULL", "SQLITE_IOERR_WRITE")
# How SQLite refuses a WAL file whose `-shm` it can neither make nor use: a read-only file system
# (CANTOPEN), a folder this user may not write (READONLY_DIRECTORY), or a `-shm` left by a dead
# process that it may not reset (READONLY_CANTINIT). No connection is open then.
CANNOT_OPEN = ("SQLITE_CANTOPEN", "SQLITE_READONLY")


def snapshot(source: Path | str, copy: Path, owners: Sequence[Versioned] = ()) -> None:
    """Copy the state file, as of one consistent moment, without writing to it or beside it.

    The source is opened read-write but only read: a read-only connection to a WAL database
    leaves `-wal` and `-shm` files behind that it may not delete, while this connection, when it
    is the last one, removes them as it found them. `mode=rw` never creates a missing file. In a
    folder this user cannot write, SQLite cannot open the file at all (it would make the `-shm`
    there): then the bytes are copied instead (`_copy_files`)."""
    if db.is_url(source):
        copy_to_sqlite(str(source), copy, owners)
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
def private_copy(source: Path | str, owners: Sequence[Versioned] = ()) -> Iterator[Path]:
    """A copy of the state file in a new temporary folder only this user can read (it holds
    customers' addresses), removed afterwards. No room for it there is the user's to fix: an
    error that names the folder (not the state file, which is fine). `owners`: whose tables a
    copy of a PostgreSQL state takes (a SQLite file is copied whole)."""
    with tempfile.TemporaryDirectory(prefix="rulesync-plan-") as folder:
        copy = Path(folder) / "state.sqlite"
        try:
            snapshot(source, copy, owners)
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


def plan_copy(location: Path | str) -> AbstractContextManager[Path]:
    """The SQLite and PostgreSQL backends' private copy for `plan` (engine/connect/ports.py
    `Plugin.plan_copy`): the sync state's tables and the built-in ledger's, which keeps its
    orders in the state's database (a SQLite file is copied whole either way)."""
    from connectors.ledger import schema as ledger_schema  # which builds on engine/storage
    from engine.storage.state_schema import VERSIONED

    return private_copy(location, (ledger_schema.versioned(), VERSIONED))
