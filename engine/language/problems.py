"""Problems found in a file: `file:line:col: $.path: message`, collected and sorted."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Path = tuple[object, ...]  # a JSON path: keys and indexes


def json_path(path: Iterable[object]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = "error"  # or "warning": reported, but the file still loads

    def __str__(self) -> str:
        label = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {label}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "col": self.col, "path": self.path,
                "message": self.message, "severity": self.severity}


def sort(problems: Iterable[Problem]) -> list[Problem]:
    """By file and position; problems at one position keep the order they were found in."""
    return sorted(problems, key=lambda p: (p.file, p.line, p.col))
