"""The test suite, run several times in a row in random order while other processes keep every
core busy: the suite must stay green on a machine that is doing something else.

    python bench/suite_under_load.py [--runs 5] [--busy N]

Each run is the README's test command (`.venv/bin/python -m pytest -q`, so pytest-randomly
shuffles it with a new seed); --busy N processes spin at normal priority the whole time (default:
one per core). Prints each run's outcome, seed and time, and the load average it ran under; exits
1 when any run failed or ran no test. Run it from a checkout set up by the README's second command.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SUITE = [str(CHECKOUT / ".venv" / "bin" / "python"), "-m", "pytest", "-q"]


def spin() -> None:
    while True:
        pass


def run_once(log: Path) -> tuple[int, str, str, float]:
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        rc = subprocess.run(SUITE, cwd=CHECKOUT, stdout=out, stderr=subprocess.STDOUT,
                            check=False).returncode
    seconds = time.monotonic() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    seed = re.search(r"--randomly-seed=(\d+)", text)
    tally = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", text, re.M)
    return rc, seed.group(1) if seed else "?", tally[-1] if tally else "no summary", seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--logs", type=Path, default=Path("suite-under-load"))
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    failed = 0
    print(f"{args.runs} runs of `{' '.join(SUITE[1:])}`, {args.busy} busy processes beside it")
    print("| run | exit | tests | seconds | load (1 min) at the end | seed |")
    print("|---:|---:|---|---:|---:|---:|")
    try:
        for n in range(1, args.runs + 1):
            rc, seed, tally, seconds = run_once(args.logs / f"run-{n}.log")
            failed += rc != 0
            print(f"| {n} | {rc} | {tally} | {seconds:.0f} | {os.getloadavg()[0]:.1f} | {seed} |",
                  flush=True)
    finally:
        for p in spinners:
            p.terminate()
    print(f"{args.runs - failed} of {args.runs} runs passed "
          f"({'met' if not failed else 'MISSED'}: all must pass); logs in {args.logs}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
