"""What a `rulesync` command costs before it does its work: CPU seconds per command.

Every command is a new Python process, so a command's start (importing what it needs, finding
its connectors) is paid on every `apply` from cron, every `orders show` and every CI step.
Against a sandbox store of a few orders, in step after a first apply (`orders show` shows one
of them), this runs each command several times and prints the median CPU time (user + system)
of its process, beside the CPU of importing that command's module alone and of a bare
`python -c pass`.

    python bench/startup.py [--runs 7] [--orders 5]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.cli.main import COMMANDS
from engine.conformance.samples import order_body
from engine.conformance.world import RULESYNC, World

ORDER, STATE = "<order>", "<state>"  # filled in with the order made for it and the state
COMMANDS_TIMED = [  # (label, arguments after `rulesync`, the module the verb imports)
    ("--help", ["--help"], "engine.cli.main"),
    ("orders show", ["orders", "show", ORDER, "--state", STATE], COMMANDS["orders"]),
    ("failures list", ["failures", "list", "--state", STATE], COMMANDS["failures"]),
    ("validate", ["validate"], COMMANDS["validate"]),
    ("plan", ["plan", "--state", STATE], COMMANDS["plan"]),
    ("apply (in step)", ["apply", "--state", STATE], COMMANDS["apply"]),
]


def cpu_of(argv: list[str], runs: int, **kwargs: object) -> float:
    """Median CPU seconds of `argv` run as a child process."""
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {r.returncode}:\n{r.stderr}")
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--orders", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, World(Path(tmp), seed_orders=args.orders) as w:
        filled = {ORDER: str(w.create(order_body(11))),  # Awaiting Fulfillment: imported
                  STATE: str(w.state)}
        w.tick()
        w.apply()
        env = w.env()
        bare = cpu_of([sys.executable, "-c", "pass"], args.runs)
        print(f"python -c pass: {bare * 1000:.0f} ms CPU (median of {args.runs})")
        print(f"{'command':<18} {'CPU ms':>7} {'import ms':>10}")
        for label, argv, module in COMMANDS_TIMED:
            command = [RULESYNC, *(filled.get(a, a) for a in argv)]
            total = cpu_of(command, args.runs, cwd=w.dir, env=env)
            name = module.split(":")[0]
            imported = cpu_of([sys.executable, "-c", f"import {name}"], args.runs, cwd=w.dir)
            print(f"{label:<18} {total * 1000:>7.0f} {imported * 1000:>10.0f}")


if __name__ == "__main__":
    main()
