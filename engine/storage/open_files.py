"""The SQLite files this process has open, known by identity (device and inode number).

A SQLite connection keeps writing to the file it opened even after the file is deleted or
replaced: `rm state.sqlite*` during `apply` would let the run go on and report orders imported
into a file nobody can read any more, and `serve` would open a new, empty file for its next
connection and acknowledge deliveries into it. So each connection remembers the identity of the
file it opened (engine/storage/sqlite.py checks it as a transaction begins and before it commits),
and a new connection to a path this process already has open must find the same file there.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

GONE = "the file was deleted or replaced while rulesync was using it"
Identity = tuple[int, int]


def identity(path: Path) -> Identity | None:
    """(device, inode) of the file at `path`; None when there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class OpenFiles:
    """How many connections of this process have each file open, and which file it is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Identity, int]] = {}

    @staticmethod
    def key(path: Path) -> str:
        return os.path.abspath(path)

    def expected(self, path: Path) -> Identity | None:
        """The identity the file at `path` must have, when this process has it open."""
        with self._lock:
            found = self._open.get(self.key(path))
        return found[0] if found else None

    def opened(self, path: Path, found: Identity) -> bool:
        """Count one more connection to `found`; False when the process has another file open
        under that path (the one it had was replaced meanwhile)."""
        key = self.key(path)
        with self._lock:
            known, count = self._open.get(key, (found, 0))
            if known != found:
                return False
            self._open[key] = (found, count + 1)
        return True

    def closed(self, path: Path) -> None:
        key = self.key(path)
        with self._lock:
            known, count = self._open.get(key, ((0, 0), 0))
            if count <= 1:
                self._open.pop(key, None)
            else:
                self._open[key] = (known, count - 1)


OPEN = OpenFiles()
