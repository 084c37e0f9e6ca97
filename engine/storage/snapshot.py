"""A private SQLite copy of a PostgreSQL database's rulesync tables, for `plan`.

`plan` runs the real sync on a copy of the state (engine/storage/planning.py). A SQLite file is copied
with SQLite's backup API; a PostgreSQL database is copied here, into a new SQLite file, from one
read-only snapshot, so the copy is as consistent as a backup and the database is never written.
The copy gets each owner's tables at the version the database has (built by the same
migrations), then their rows; opening the copy afterwards migrates it like any older file.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.storage.db import Database
from engine.storage.db import connect as open_database
from engine.storage.migrate import Versioned, build
from engine.storage.sqlite import Sqlite

BATCH = 2_000


def copy_to_sqlite(url: str, target: Path, owners: Sequence[Versioned]) -> None:
    """Copy the tables of ``owners`` at ``url`` into the new SQLite file ``target``."""
    source = open_database(url, "plan")
    copy = Sqlite(target)
    try:
        with source.transaction(write=False), copy.transaction():
            copy.execute("PRAGMA defer_foreign_keys = ON")  # tables come in name order
            for owner in owners:
                found = owner.read(source)
                if found > len(owner.migrations):
                    raise owner.too_new(found, len(owner.migrations), source.where)
                if found:
                    for statement in owner.prepare:
                        copy.execute(statement)
                    build(copy, owner, 0, found)
            for table in _tables(copy):
                if source.has_table(table):
                    _copy_rows(source, copy, table)
    finally:
        copy.close()
        source.close()


def _tables(db: Database) -> list[str]:
    return [name for (name,) in db.rows("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def _copy_rows(source: Database, copy: Database, table: str) -> None:
    names = [str(row[1]) for row in copy.rows(f"PRAGMA table_info({table})")]
    columns = ", ".join(names)
    insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(names))})"
    for rows in source.batches(f"SELECT {columns} FROM {table}", BATCH):
        copy.executemany(insert, rows)
