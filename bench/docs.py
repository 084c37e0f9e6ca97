"""How long `rulesync docs` takes on the shipped rules, as a user runs it (a fresh process).

Times the whole command (interpreter start, imports, loading and checking the rules, rendering)
for Markdown and HTML, next to `rulesync --help`, which pays the start-up every command pays;
then the rendering alone, in-process. Target: the whole command under a second.

    python bench/docs.py [--runs 10]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULESYNC = shutil.which("rulesync", path=str(Path(sys.executable).parent)) or "rulesync"


def timed(args: list[str], runs: int, cwd: str) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds per run: on a shared machine the CPU time
    moves much less than the wall clock."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([RULESYNC, *args], check=True, stdout=subprocess.DEVNULL, cwd=cwd)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def in_process(runs: int) -> list[float]:
    import rules
    from engine.docs.build import Places, build
    from engine.docs.render import render
    from engine.language.loader import load_rulesets

    out = []
    for _ in range(runs):
        start = time.perf_counter()
        here = Path.cwd()
        render(build(load_rulesets([rules.BIGCOMMERCE]), {}, Places(here, here)), "html")
        out.append(time.perf_counter() - start)
    return out


def show(name: str, wall: list[float], cpu: list[float] | None = None) -> None:
    line = f"{name:<40} wall min {min(wall):.3f} s  median {statistics.median(wall):.3f} s"
    if cpu:
        line += f"  | cpu median {statistics.median(cpu):.3f} s"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as empty:  # no rulesync.yaml: the shipped rules
        show("rulesync --help", *timed(["--help"], runs, empty))
        show("rulesync docs", *timed(["docs"], runs, empty))
        show("rulesync docs --format html", *timed(["docs", "--format", "html"], runs, empty))
    show("load + check + render html, in-process", in_process(runs))


if __name__ == "__main__":
    main()
