"""Distributed mode: what one synced order costs in a change-feed slice, counted rather than
timed, so that a busy machine does not move the figures (bench/scale_workers.py times the
whole thing; this says where its CPU goes).

One sandbox store in its own process (seeded with N orders, a share shipped, no latency), a
fresh PostgreSQL schema, and the worker's tasks run in this process on a worker session: the
run's listing, then each slice. For the slices it prints, per order: the SQL statements sent
and the round trips they took (a pipeline is one), this process's CPU, the CPU of the
PostgreSQL server processes serving its two connections, and the sandbox's CPU.

    python bench/slice_cost.py [--orders 300] [--shipped 0.3] [--slice-orders 50]
        [--database postgresql://postgres@127.0.0.1:5432/test] [--profile FILE]

`--profile FILE` writes a cProfile of the slices in CPU time (`python -m pstats FILE`) and
prints the Python function calls per order, which unlike CPU time do not move with the load.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from processes import fresh_schema, start_sandbox

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """A process's user and system CPU so far (this machine's processes only)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def shape(query: Any) -> str:
    return " ".join(str(query).split())[:90]


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Statements sent through psycopg, by their first words, and round trips."""
    import psycopg

    counts: Counter[str] = Counter()
    execute, many, pipeline = (psycopg.Cursor.execute, psycopg.Cursor.executemany,
                               psycopg.Connection.pipeline)

    def counted_execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        counts["statements"] += 1
        counts[shape(query)] += 1
        if self.connection._pipeline is None:
            counts["round trips"] += 1
        return execute(self, query, params, **kw)

    def counted_many(self: Any, query: Any, rows: Any, **kw: Any) -> Any:
        rows = list(rows)
        counts["statements"] += len(rows)
        counts[shape(query)] += len(rows)
        counts["round trips"] += 1  # psycopg 3 pipelines executemany
        return many(self, query, rows, **kw)

    @contextmanager
    def counted_pipeline(self: Any) -> Iterator[Any]:
        outer = self._pipeline is None
        with pipeline(self) as p:
            yield p
        counts["round trips"] += outer

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = counted_many  # type: ignore[method-assign,assignment]
    psycopg.Connection.pipeline = counted_pipeline  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = many  # type: ignore[method-assign]
        psycopg.Connection.pipeline = pipeline  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--shipped", type=float, default=0.3)
    parser.add_argument("--slice-orders", type=int, default=50)
    parser.add_argument("--database", default=os.environ.get(
        "RULESYNC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--profile", help="write a cProfile of the slices here")
    args = parser.parse_args()

    from engine import config as configs
    from engine.distributed import tasks
    from engine.distributed.syncing import Sessions

    sandbox, url = start_sandbox("--store-hash", "hash-s00", "--token", "token-s00", "--seed",
                                 str(args.orders), "--seed-shipped", str(args.shipped))
    try:
        with fresh_schema(args.database) as state, tempfile.TemporaryDirectory() as folder:
            path = Path(folder, "rulesync.yaml")
            path.write_text(f"version: 1\nbroker: {{slice_orders: {args.slice_orders}}}\n"
                            f"stores:\n  - name: s00\n    store_hash: hash-s00\n"
                            f"    api_url: {url}\n    token_env: S00_TOKEN\n")
            environ = {**os.environ, "S00_TOKEN": "token-s00", "RULESYNC_DATABASE_URL": state,
                       "NO_PROXY": "127.0.0.1"}
            config = configs.load(path, environ=environ)
            sessions = Sessions(config)
            session = sessions.get("s00")
            sent: list[tuple[str, tuple[Any, ...]]] = []

            def send(task: str, task_args: tuple[Any, ...]) -> None:
                sent.append((task, task_args))

            run_id, _ = session.runs.open()
            tasks.catch_up(session, run_id, args.slice_orders, send)
            slices = [a[2] for t, a in sent if t == "sync_slice"]
            servers = [int(db.one("SELECT pg_backend_pid()")[0])
                       for db in (session.sync.state.db, session.sync.ledger._db)]  # type: ignore[attr-defined]
            before = (time.process_time(), sum(map(cpu_seconds, servers)),
                      cpu_seconds(sandbox.pid))
            profile = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not wall
            with counting() as counts:
                if profile:
                    profile.enable()
                for n in slices:
                    tasks.sync_slice(session, run_id, n, send)
                if profile:
                    profile.disable()
            worker, server, store = (time.process_time() - before[0],
                                     sum(map(cpu_seconds, servers)) - before[1],
                                     cpu_seconds(sandbox.pid) - before[2])
            summary = session.runs.summary(run_id)
            sessions.drop()
            if profile:
                profile.dump_stats(args.profile)
                calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    finally:
        sandbox.kill()
        sandbox.wait()
    orders = args.orders
    print(f"{orders} orders ({args.shipped:.0%} shipped) in {len(slices)} slice(s); "
          f"{len(summary.actions)} actions, {len(summary.failures)} failures")
    print(f"per order: {counts['statements'] / orders:.2f} statements, "
          f"{counts['round trips'] / orders:.2f} round trips; CPU: worker "
          f"{1000 * worker / orders:.2f} ms, PostgreSQL {1000 * server / orders:.2f} ms, "
          f"sandbox {1000 * store / orders:.2f} ms")
    if profile:  # as deterministic as the statements: a proxy for this process's CPU
        print(f"  {calls / orders:.0f} Python function calls per order (cProfile)")
    for what, n in counts.most_common():
        if what not in ("statements", "round trips"):
            print(f"  {n / orders:6.2f}  {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
