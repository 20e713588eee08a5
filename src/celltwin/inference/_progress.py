"""Progress of long runs on stderr: a rich bar on a terminal, plain lines anywhere else.

Off a terminal (a log file, a batch job) a bar is drawn only once, at the end, so a run of
hours looked dead until it finished. There a plain line says how far the run is: when a
step finishes and at least ``$CELLTWIN_PROGRESS_INTERVAL`` seconds (default 30) have passed
since the last line, and once more at the end.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

from ..errors import CelltwinInputError

INTERVAL_ENV = "CELLTWIN_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 30.0


def progress_interval() -> float:
    """Seconds between plain progress lines: ``$CELLTWIN_PROGRESS_INTERVAL``, default 30."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:  # also NaN
        raise CelltwinInputError(f"${INTERVAL_ENV}={raw!r}: give the seconds between progress lines, "
                                 f"a number >= 0 (default {DEFAULT_INTERVAL_S:g})")
    return seconds


def clock(seconds: float) -> str:
    """``h:mm:ss``, as rich's bar shows times."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressLines:
    """Plain progress lines: ``label: done/total unit, elapsed, eta, note``."""

    def __init__(self, label: str, total: int, *, unit: str = "", completed: int = 0,
                 interval: float = DEFAULT_INTERVAL_S, write: Callable[[str], None] | None = None,
                 timer: Callable[[], float] = time.monotonic, total_is_limit: bool = False):
        self.label, self.total, self.unit, self.interval, self.timer = label, total, unit, interval, timer
        self.total_is_limit = total_is_limit
        self.done = self.first = completed  # the rate counts only this run's steps, not a resumed run's
        self.note: str | None = None
        self.start = self.last = timer()
        self.shown: tuple | None = None
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))

    def advance(self, n: int = 1, note: str | None = None, total: int | None = None) -> None:
        self.done += n
        if note is not None:
            self.note = note
        if total is not None:
            self.total = total
        now = self.timer()
        if now - self.last >= self.interval:
            self.show(now)

    def finish(self) -> None:
        if self.shown != (self.done, self.note):
            self.show(self.timer())

    def show(self, now: float) -> None:
        self.last, self.shown = now, (self.done, self.note)
        self.write(self.line(now))

    def line(self, now: float) -> str:
        elapsed = now - self.start
        count = f"{self.done}/{self.total}" + (f" {self.unit}" if self.unit else "")
        parts = [count, f"{clock(elapsed)} elapsed"]
        if self.done < self.total:
            rate = (self.done - self.first) / elapsed if elapsed > 0 else 0.0
            bound = "<= " if self.total_is_limit else ""
            parts.append(f"eta {bound}{clock((self.total - self.done) / rate)}" if rate > 0 else "eta unknown")
        if self.note:
            parts.append(self.note)
        return f"{self.label}: {', '.join(parts)}"


@contextlib.contextmanager
def progress_bar(label: str, total: int, *, unit: str = "", completed: int = 0,
                 enabled: bool = True, total_is_limit: bool = False) -> Iterator[Callable[..., None]]:
    """Progress of ``total`` steps on stderr, of which ``completed`` were done before (a resumed run:
    the time left is estimated from this invocation's steps alone).

    Yields ``advance(n=1, note=None, total=None)``: ``n`` more steps are done; ``note`` (e.g.
    the divergences so far) is shown next to the count; ``total`` replaces the number of
    steps (a run that stopped early). ``total_is_limit``: the run may stop before ``total``
    (a stopping rule), so the time left is an upper bound (``eta <= ...``). On a terminal (or
    in Jupyter) a rich bar with the time remaining; elsewhere plain lines (see the module
    docstring); nothing unless ``enabled``.
    """
    if not enabled:
        yield lambda n=1, note=None, total=None: None
        return
    from rich.console import Console

    console = Console(file=sys.stderr)
    if not (console.is_terminal or console.is_jupyter):
        lines = ProgressLines(label, total, unit=unit, completed=completed, interval=progress_interval(),
                              total_is_limit=total_is_limit)
        try:
            yield lines.advance
        finally:
            lines.finish()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn(), TextColumn("eta <=" if total_is_limit else "eta"), TimeRemainingColumn(),
               TextColumn("{task.fields[note]}")]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=total, completed=completed, note="")

        def advance(n: int = 1, note: str | None = None, total: int | None = None) -> None:
            bar.update(task, advance=n, total=total)  # total None: unchanged
            if note is not None:
                bar.update(task, note=note)

        yield advance
