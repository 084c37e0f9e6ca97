"""Distributed mode: orders synced per second across all stores with 1, 2 and 4 worker
processes (bench/scale.py measures one store's backfill against its quota).

Each store is a sandbox in its own process, seeded with N orders (a share shipped) and a latency
on every request like a real store's (`--latency-ms 100`: latency-bound, as a real store is),
without a quota. For each worker count: a fresh PostgreSQL schema, fresh stores, a queue prefix
of its own, that many `rulesync worker --concurrency C` processes started and seen alive, then
`rulesync apply --queue` timed from start to end. Target: at least 3x the orders per second
from 1 to 4 workers; the exit status is 1 when it is MISSED.

Each run also says how busy the machine's cores were (all processes, from /proc/stat on Linux):
a run that keeps them busy a fraction b of its time can go at most 1/b times as fast on this
machine, at the same CPU per order, however many workers run. The one-worker run's 1/b is the
ceiling printed beside the target. And it says whose CPU that was, in seconds: the workers', the
stores' (sandboxes), PostgreSQL's, the broker's (RabbitMQ) and `apply --queue`'s.

    python bench/scale_workers.py [--stores 10] [--orders 300] [--shipped 0.3]
        [--latency-ms 100] [--workers 1,2,4] [--concurrency 1]
        [--database postgresql://postgres@127.0.0.1:5432/test]
        [--broker amqp://guest:guest@127.0.0.1:5672//]

`--chaos` runs instead the acceptance test's chaos scenario at full size (10 stores x 300
orders, two workers, a worker killed by SIGKILL at 10 random moments, the broker connection cut
once): CI runs it at 10 x 100 to stay within its time budget.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from processes import fresh_schema, start_sandbox

ROOT = Path(__file__).resolve().parent.parent
RULESYNC = str(Path(sys.executable).parent / "rulesync")
TARGET = 3.0


def sandbox(name: str, args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    return start_sandbox("--store-hash", f"hash-{name}", "--token", f"token-{name}",
                         "--seed", str(args.orders), "--seed-shipped", str(args.shipped),
                         "--latency-ms", str(args.latency_ms))


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine so far, in jiffies; None off Linux."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, and waiting for the disk
    return sum(fields) - idle, sum(fields)


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
ROLES = {" worker ": "workers", " sandbox ": "stores", "postgres": "PostgreSQL", "beam": "broker"}


def cpu_by_role() -> dict[str, float]:
    """CPU seconds so far of each running process, by role (ROLES, from its command line)."""
    seconds: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            command = Path(stat.parent, "cmdline").read_bytes().replace(b"\0", b" ")
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        role = next((r for k, r in ROLES.items() if k.encode() in command), None)
        if role is not None:
            seconds[f"{stat.parent.name} {role}"] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def roles_between(before: dict[str, float], after: dict[str, float], apply: float) -> str:
    """What each role spent between the two readings, with `apply --queue`'s (read from
    the children this process waited for, as it had exited by then)."""
    spent: dict[str, float] = {**dict.fromkeys(ROLES.values(), 0.0), "apply": apply}
    for key, seconds in after.items():
        spent[key.split(" ", 1)[1]] += seconds - before.get(key, 0.0)
    return ", ".join(f"{role} {seconds:.1f}" for role, seconds in spent.items())


def busy_between(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def one_run(workers: int, args: argparse.Namespace) -> tuple[float, float | None, str]:
    names = [f"s{i:02d}" for i in range(args.stores)]
    tag = uuid.uuid4().hex[:10]
    stores = [sandbox(n, args) for n in names]
    procs: list[subprocess.Popen[bytes]] = []
    with fresh_schema(args.database) as state, tempfile.TemporaryDirectory() as folder:
        try:
            entries = "".join(f"  - name: {n}\n    store_hash: hash-{n}\n    api_url: {url}\n"
                              f"    token_env: {n.upper()}_TOKEN\n"
                              for n, (_, url) in zip(names, stores))
            Path(folder, "rulesync.yaml").write_text(
                f"version: 1\nbroker: {{queue_prefix: bench_{tag}, slice_orders: "
                f"{args.slice_orders}}}\nstores:\n{entries}")
            env = {**os.environ, "RULESYNC_BROKER_URL": args.broker,
                   "RULESYNC_DATABASE_URL": state, "NO_PROXY": "127.0.0.1",
                   **{f"{n.upper()}_TOKEN": f"token-{n}" for n in names}}
            logs = [open(Path(folder, f"worker-{i}.log"), "w") for i in range(workers)]  # noqa: SIM115
            procs = [subprocess.Popen([RULESYNC, "-v", "worker", "--concurrency",
                                       str(args.concurrency)], cwd=folder, env=env,
                                      stdout=log, stderr=subprocess.STDOUT) for log in logs]
            while len(json.loads(subprocess.run(
                    [RULESYNC, "status", "--json"], cwd=folder, env=env, capture_output=True,
                    text=True).stdout or '{"workers": []}')["workers"]) < workers:
                time.sleep(0.5)
            started, jiffies, roles = time.monotonic(), cpu_jiffies(), cpu_by_role()
            waited = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run([RULESYNC, "apply", "--queue", "--json", "--timeout", "600"],
                                  cwd=folder, env=env, capture_output=True, text=True)
            elapsed, busy = time.monotonic() - started, busy_between(jiffies, cpu_jiffies())
            reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent = roles_between(roles, cpu_by_role(), reaped.ru_utime + reaped.ru_stime
                                  - waited.ru_utime - waited.ru_stime)
            if done.returncode or json.loads(done.stdout)["failed"]:
                kept = Path(tempfile.mkdtemp(prefix="scale-workers-"))
                for log in Path(folder).glob("worker-*.log"):
                    log.rename(kept / log.name)
                raise SystemExit(f"the run failed ({done.returncode}); worker logs in {kept}\n"
                                 f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
            return elapsed, busy, spent
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
            for store, _ in stores:
                store.kill()
                store.wait()
            _delete_queues(args.broker, f"bench_{tag}")


def _delete_queues(url: str, prefix: str) -> None:
    from kombu import Connection

    with Connection(url) as conn:
        for name in (f"{prefix}.orders", f"{prefix}.feed"):
            try:
                conn.channel().queue_delete(name)
            except Exception:  # noqa: BLE001 - never declared
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--orders", type=int, default=300, help="per store")
    parser.add_argument("--shipped", type=float, default=0.3)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=1, help="threads per worker")
    parser.add_argument("--slice-orders", type=int, default=50)
    parser.add_argument("--database", default=os.environ.get(
        "RULESYNC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--broker", default=os.environ.get(
        "RULESYNC_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"))
    parser.add_argument("--chaos", action="store_true",
                        help="the acceptance test's chaos run at full size instead")
    args = parser.parse_args()
    if args.chaos:
        env = {**os.environ, "RULESYNC_TEST_CHAOS_ORDERS": str(args.orders),
               "RULESYNC_TEST_DATABASE_URL": args.database,
               "RULESYNC_TEST_BROKER_URL": args.broker}
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly",
                               "tests/distributed/test_distributed_scale.py", "-k", "killed"],
                              cwd=ROOT, env=env).returncode
    total = args.stores * args.orders
    print(f"{args.stores} stores x {args.orders} orders ({args.shipped:.0%} shipped), "
          f"{args.latency_ms} ms latency, {args.concurrency} thread(s) per worker")
    rates: dict[int, float] = {}
    busy: dict[int, float | None] = {}
    for workers in [int(w) for w in args.workers.split(",")]:
        elapsed, busy[workers], spent = one_run(workers, args)
        rates[workers] = total / elapsed
        print(f"  {workers} worker(s): {elapsed:6.1f} s, {rates[workers]:6.1f} orders/s"
              + (f", {rates[workers] / rates[min(rates)]:.2f}x" if workers != min(rates) else "")
              + (f", cores {busy[workers]:.0%} busy" if busy[workers] is not None else ""),
              flush=True)
        print(f"    CPU seconds: {spent}", flush=True)
    if 1 in rates and 4 in rates:
        gain, one = rates[4] / rates[1], busy[1]
        ceiling = f"; this machine's ceiling {1 / one:.2f}x ({os.cpu_count()} cores " \
                  f"{one:.0%} busy with one worker)" if one else ""
        print(f"1 -> 4 workers: {gain:.2f}x (target {TARGET:g}x): "
              f"{'met' if gain >= TARGET else 'MISSED'}{ceiling}")
        return 0 if gain >= TARGET else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
