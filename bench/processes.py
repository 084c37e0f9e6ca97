"""What the benchmarks share: a sandbox store in a process of its own, and a fresh PostgreSQL
schema. Imported as `processes` (a benchmark runs as `python bench/NAME.py`, this folder first
on the path)."""
from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def start_sandbox(*flags: str) -> tuple[subprocess.Popen[str], str]:
    """`rulesync sandbox --port 0 FLAGS...` running, and its base URL once it says it."""
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "sandbox", "--port", "0",
                             *flags], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"https?://[\d.]+:\d+", line)
        if found:
            return proc, found.group(0)
    raise SystemExit("a sandbox did not start")


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """The URL with its search_path on a new schema, dropped afterwards."""
    import psycopg

    name = f"rulesync_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")
