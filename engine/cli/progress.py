"""Progress of a sync run (`apply`, `plan`) on stderr, phase by phase (engine/sync/progress.py):
on a terminal a bar per phase with its total and an ETA; otherwise a log line every few seconds
from a timer, whatever the run is doing, so a long run piped into a file or a CI log is never
silent, not even while it waits on the store.

Reading store orders has the store's order count for the run's window as its total
(GET /v2/orders/count), asked once and only when there is something to show: after the first
order arrived on a terminal (the store is known to answer then), after the first interval
otherwise (short runs cost no extra call). The run's own thread asks it, between two orders;
the timer only formats what it was told, so the store client is never used from two threads.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from engine.logs import PROGRESS_LOGGER
from engine.sync.progress import STORE_ORDERS, Phase

INTERVAL_ENV = "RULESYNC_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 5.0
SHORTEST = 0.05  # the timer's floor: RULESYNC_PROGRESS_SECONDS=0 is a line every 50 ms
REDRAW_SECONDS = 0.1
log = logging.getLogger(PROGRESS_LOGGER)


def interval() -> float:
    value = os.environ.get(INTERVAL_ENV, "")
    try:
        return max(0.0, float(value)) if value else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


@dataclass
class Current:
    """The phase under way: what the engine said of it, and when it started."""

    phase: Phase
    started: float
    total: int | None = None
    count: Callable[[], int] | None = None  # the store's estimate of the total, not yet asked
    done: int = 0

    def counts(self, spent: float) -> str:
        p, done, total = self.phase, self.done, self.total
        if not total or done >= total:
            return f"{done} {p.noun}(s) {p.verb} in {spent:.0f} s"
        about = "about " if p.estimate else ""
        text = (f"{done} of {about}{total} {p.noun}s {p.verb} ({100 * done // total}%) "
                f"in {spent:.0f} s")
        return text + (f", about {spent / done * (total - done):.0f} s left" if done else "")


class Progress:
    """What the engine reports, shown as a bar (`bar`) or as timed log lines; a context manager
    (the timer runs inside it). `verb` starts each line: "apply", "plan", "apply (store eu)"."""

    def __init__(self, verb: str, *, bar: bool, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._verb, self._use_bar, self._clock = verb, bar, clock
        self._start = clock()
        self._now: Current | None = None
        self._finished: Counter[Phase] = Counter()  # items done per phase, phases that ended
        self._bar = _Bar()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if not self._use_bar and log.isEnabledFor(logging.INFO):
            self._timer = threading.Thread(target=self._tick, name="rulesync-progress",
                                           daemon=True)
            self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=kind is not None)

    # -- what the engine reports ---------------------------------------------------------------
    def phase(self, phase: Phase, total: int | None = None,
              count: Callable[[], int] | None = None) -> None:
        self._end_phase()
        self._now = Current(phase, self._clock(), total, count)

    def step(self, done: int, total: int | None = None) -> None:
        now = self._now
        if now is None:
            return
        now.done, now.total = done, total if total is not None else now.total
        if now.total is None and now.count is not None and self._total_wanted():
            self._ask_total(now)
        if self._use_bar:
            self._bar.draw(now, self._clock())

    # -- what is shown -------------------------------------------------------------------------
    @property
    def read(self) -> int:
        now = self._now
        current = now.done if now is not None and now.phase == STORE_ORDERS else 0
        return self._finished[STORE_ORDERS] + current

    def elapsed(self) -> float:
        return self._clock() - self._start

    def line(self) -> str:
        now = self._now
        if now is None:
            return f"{self._verb}: starting ({self.elapsed():.0f} s)"
        return f"{self._verb}: {now.counts(self._clock() - now.started)}"

    def closing_line(self, failed: bool = False) -> str:
        done = [f"{n} {p.noun}(s) {p.verb}" for p, n in self._finished.items() if n]
        if failed:  # the error follows on its own line; this says how far the run got
            return f"{self._verb}: stopped after {self.elapsed():.0f} s: " \
                f"{', '.join(done) or 'nothing done'}"
        return f"{self._verb}: done in {self.elapsed():.0f} s: {', '.join(done) or 'nothing to do'}"

    def close(self, failed: bool = False) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        self._end_phase()
        if self._timer is not None and self.elapsed() >= interval():
            log.info(self.closing_line(failed))

    # -- inside ----------------------------------------------------------------------------------
    def _tick(self) -> None:
        every = max(interval(), SHORTEST)
        while not self._stop.wait(every):
            log.info(self.line())

    def _total_wanted(self) -> bool:
        return self._use_bar or (self._timer is not None and self.elapsed() >= interval())

    @staticmethod
    def _ask_total(now: Current) -> None:
        count, now.count = now.count, None  # once, whatever it gives
        try:
            now.total = count() if count else None
        except Exception as e:  # a progress total is never worth failing the run for
            log.debug("no total for progress: %s", e)

    def _end_phase(self) -> None:
        now, self._now = self._now, None
        if now is not None:
            self._finished[now.phase] += now.done
            if self._use_bar:
                self._bar.finish(now)
                self._bar = _Bar()  # the next phase starts afresh


class _Bar:
    """A phase on a terminal: click's progress bar once its total is known, a counter before."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._counted = False
        self._drawn = float("-inf")

    def draw(self, now: Current, at: float) -> None:
        if at - self._drawn < REDRAW_SECONDS:  # a terminal needs no more
            return
        self._drawn = at
        if now.total is None:
            self._counted = True
            click.echo(f"\r{now.phase.noun}s {now.phase.verb}: {now.done}", err=True, nl=False)
            return
        if self._bar is None:
            self._bar = click.progressbar(length=max(now.total, now.done),
                                          label=f"{now.phase.noun}s", show_pos=True,
                                          show_eta=True, file=sys.stderr)
            self._bar.__enter__()
        self._bar.length = max(self._bar.length, now.done)  # orders changed while we read
        self._bar.update(now.done - self._bar.pos)

    def finish(self, now: Current) -> None:
        if self._bar is not None:
            self._bar.length = max(self._bar.length, now.done)
            self._bar.update(now.done - self._bar.pos)
            self._bar.__exit__(None, None, None)
        elif self._counted:
            click.echo(f"\r{now.phase.noun}s {now.phase.verb}: {now.done}", err=True)
