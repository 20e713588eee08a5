"""One benchmark runner per result store at a time.

Two runners on one store would both run every missing cell, and the second's rows would
be dropped as duplicates. A runner therefore holds an exclusive lock (``fcntl.flock``) on
the file ``<store>.lock`` next to the store for its whole run; the file names the holder
(PID, host, start time) so that a refused runner can say who holds it. The operating
system releases the lock when the holder exits or is killed, so a killed runner never
leaves a stale lock; the file itself stays (it is reused, never deleted: deleting it
would let two runners lock two different files of the same name).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import CelltwinInputError


class StoreBusyError(CelltwinInputError):
    """Another runner holds the result store's lock."""


def lock_path(store: str | os.PathLike) -> Path:
    store = Path(store)
    return store.with_name(store.name + ".lock")


def _holder(fh) -> str:
    fh.seek(0)
    text = fh.read().strip()
    return text or "a process that has not written its name yet"


@contextlib.contextmanager
def exclusive_run(store: str | os.PathLike, *, wait: bool = False,
                  on_wait: Callable[[str], None] | None = None) -> Iterator[float]:
    """Hold the store's lock for the block; yields the seconds spent waiting for it.

    Arguments:
        store: the result store's path (the lock is ``<store>.lock``).
        wait: wait for the holder to finish instead of raising.
        on_wait: called with the holder's description when waiting starts.

    Raises:
        StoreBusyError: the lock is held and ``wait`` is false.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): runners are not serialised there
        yield 0.0
        return
    path = lock_path(store)
    start = time.monotonic()
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fh)
            if not wait:
                raise StoreBusyError(
                    f"{store}: another `celltwin bench run` is writing this result store ({holder}; lock file "
                    f"{path}). Wait for it to finish and run again (finished cells are skipped), add --wait "
                    "to wait here, or give another --out") from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            # The holder's name, written in place: the lock belongs to this file's inode.
            fh.seek(0)
            fh.truncate()
            started = datetime.datetime.now().isoformat(timespec="seconds")
            fh.write(f"PID {os.getpid()} on {socket.gethostname()}, started {started}\n")
            fh.flush()
            yield time.monotonic() - start
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
