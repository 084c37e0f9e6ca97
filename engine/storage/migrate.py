"""Versioned migrations, the same on SQLite and PostgreSQL, run when a database is opened.

Each owner of tables (the ledger, the sync state) keeps a list of migrations: entry N holds the
statements that take its tables from version N-1 to N. Opening a database applies the missing
entries in one write transaction (DDL is transactional on both databases, so a failing
migration leaves the old version whole), under the owner's write lock, so two processes opening
a new database at once cannot both run one. A database whose version is newer than the code is
refused with a clear error: an older rulesync must not write tables it does not understand.
There is no separate upgrade command to forget: the first rulesync of a newer version to open
the database upgrades it, and older ones elsewhere then refuse it until they are upgraded too.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.errors import DatabaseError
from engine.storage.db import Database, first_line

# A step is a statement (as SQLite spells it, translated by Database.ddl), or a function of the
# database for what the two spell too differently (e.g. Database.continue_identity).
Step = str | Callable[[Database], None]
Migrations = Sequence[Sequence[Step]]


@dataclass(frozen=True)
class Versioned:
    """One owner's migrations, where it records its version, and the error for a too-new one."""

    migrations: Migrations
    prepare: Sequence[str]                    # creates where the version is kept, if missing
    read: Callable[[Database], int]           # 0 for tables never created; writes nothing
    write: Callable[[Database, int], None]
    too_new: Callable[[int, int, str], Exception]  # (found, known, where) -> the error


def migrate(db: Database, versioned: Versioned) -> int:
    """Bring the owner's tables up to date; returns the version they are at now."""
    known = len(versioned.migrations)
    with db.transaction():
        for statement in versioned.prepare:
            db.execute(db.ddl(statement))
        current = versioned.read(db)
        if current > known:
            raise versioned.too_new(current, known, db.where)
        for version in range(current + 1, known + 1):
            build(db, versioned, version - 1, version)
            versioned.write(db, version)
    return max(current, known)


def build(db: Database, versioned: Versioned, start: int, upto: int) -> None:
    """Run the migrations after version ``start`` up to ``upto``, in the caller's transaction."""
    for version in range(start + 1, upto + 1):
        for step in versioned.migrations[version - 1]:
            try:
                if callable(step):
                    step(db)
                else:
                    db.execute(db.ddl(step))
            except db.errors as e:  # a statement the database refuses: name the migration
                raise DatabaseError(db.where, f"schema migration {version} failed: "
                                    f"{first_line(e)}") from e
