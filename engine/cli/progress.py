"""Progress of `apply` reading store orders: a bar with total and ETA on a terminal, otherwise a
log line every few seconds, so a long run piped into a file or a CI log is never silent.

The total is the store's order count for the run's window (GET /v2/orders/count), asked once and
only when there is something to show: after the first order arrived on a terminal (the store is
known to answer then), after the first interval otherwise (short runs cost no extra call).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from engine.logs import PROGRESS_LOGGER

INTERVAL_ENV = "RULESYNC_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 5.0
REDRAW_SECONDS = 0.1
log = logging.getLogger(PROGRESS_LOGGER)


def interval() -> float:
    value = os.environ.get(INTERVAL_ENV, "")
    try:
        return max(0.0, float(value)) if value else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


class Progress:
    """Called with the number of store orders read so far; `bar` picks the terminal form."""

    def __init__(self, count: Callable[[], int | None], *, bar: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._count = count
        self._use_bar = bar
        self._clock = clock
        self._start = clock()
        self._next = self._start + interval()
        self._total: int | None = None
        self._counted = False
        self._bar: Any = None
        self._read = 0
        self._drawn = float("-inf")

    def __call__(self, n: int) -> None:
        self._read = n
        if self._use_bar:
            self._advance_bar(n)
        elif self._clock() >= self._next and log.isEnabledFor(logging.INFO):
            self._next = self._clock() + interval()
            log.info(self.line(n))

    @property
    def read(self) -> int:
        return self._read

    def elapsed(self) -> float:
        return self._clock() - self._start

    def total(self) -> int | None:
        if not self._counted:
            self._counted = True
            try:
                self._total = self._count()
            except Exception as e:  # a progress total is never worth failing the run for
                log.debug("no order count for progress: %s", e)
        return self._total

    def line(self, n: int, *, done: bool = False) -> str:
        elapsed = self._clock() - self._start
        total = None if done else self.total()
        if not total or n >= total:
            return f"apply: {n} store order(s) read in {elapsed:.0f} s" + (", done" if done else "")
        left = elapsed / n * (total - n)
        return (f"apply: {n} of about {total} store orders read ({100 * n // total}%) in "
                f"{elapsed:.0f} s, about {left:.0f} s left")

    def _advance_bar(self, n: int) -> None:
        if self._clock() - self._drawn < REDRAW_SECONDS:  # a terminal needs no more
            return
        self._drawn = self._clock()
        total = self.total()
        if total is None:  # no count from the store: a plain counter
            click.echo(f"\rstore orders read: {n}", err=True, nl=False)
            return
        if self._bar is None:
            self._bar = click.progressbar(length=max(total, n), label="store orders",
                                          show_pos=True, show_eta=True, file=sys.stderr)
            self._bar.__enter__()
        self._bar.length = max(self._bar.length, n)  # orders changed while we read
        self._bar.update(n - self._bar.pos)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.length = max(self._bar.length, self._read)
            self._bar.update(self._read - self._bar.pos)
            self._bar.__exit__(None, None, None)
        elif self._use_bar and self._read:
            click.echo(f"\rstore orders read: {self._read}", err=True)
        elif (not self._use_bar and self._read and log.isEnabledFor(logging.INFO)
              and self._clock() - self._start >= interval()):
            log.info(self.line(self._read, done=True))
