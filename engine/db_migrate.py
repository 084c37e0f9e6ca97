"""Versioned migrations, the same on SQLite and PostgreSQL, run when a database is opened.

Each owner of tables (the ledger, the sync state) keeps a list of migrations: entry N holds the
statements that take its tables from version N-1 to N. Opening a database applies the missing
entries in one write transaction (DDL is transactional on both databases, so a failing
migration leaves the old version whole), under the owner's write lock, so two processes opening
a new database at once cannot both run one. A database whose version is newer than the code is
refused with a clear error: an older rulesync must not write tables it does not understand.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.db import Database, DatabaseError, first_line

# A step is a statement (as SQLite spells it, translated by Database.ddl), or a function of the
# database for what the two spell too differently (e.g. Database.continue_identity).
Step = str | Callable[[Database], None]
Migrations = Sequence[Sequence[Step]]


@dataclass(frozen=True)
class Versioned:
    """Where one owner records its schema version, and the error for a too-new database."""

    migrations: Migrations
    read: Callable[[Database], int]          # 0 for tables never created
    write: Callable[[Database, int], None]
    too_new: Callable[[int, int], Exception]  # (found, known) -> the error to raise


def migrate(db: Database, versioned: Versioned) -> int:
    """Bring the owner's tables up to date; returns the version they are at now."""
    known = len(versioned.migrations)
    with db.transaction():
        current = versioned.read(db)
        if current > known:
            raise versioned.too_new(current, known)
        for version in range(current + 1, known + 1):
            for statement in versioned.migrations[version - 1]:
                _run(db, version, statement)
            versioned.write(db, version)
    return max(current, known)


def _run(db: Database, version: int, step: Step) -> None:
    try:
        if callable(step):
            step(db)
        else:
            db.execute(db.ddl(step))
    except db.errors as e:  # a statement the database refuses: name the migration
        raise DatabaseError(db.where, f"schema migration {version} failed: {first_line(e)}"
                            ) from e
