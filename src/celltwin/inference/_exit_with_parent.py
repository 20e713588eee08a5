"""Started first in every local worker process: end the worker as soon as its parent dies.

A worker busy with a long task would otherwise outlive a killed parent (seen: orphaned fits
kept running for half an hour). This file uses the standard library only and the executor
runs it by path (``runpy.run_path``) as the pool's initializer, not as part of the
``celltwin`` package: a worker then arms it a fraction of a second after it starts, instead
of after the seconds that importing JAX takes (a parent killed in that time left its
workers running).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
RUN_NAME = "__celltwin_worker__"


def exit_with_parent(parent_pid: int, set_death_signal: bool) -> None:
    """On Linux the kernel sends this process SIGKILL when the parent dies
    (``PR_SET_PDEATHSIG``, which acts even while the worker is deep in compiled code). The
    kernel ties that signal to the parent's *thread* that started this worker, so it is set
    only when that was the main thread (``set_death_signal``). Everywhere, a daemon thread
    waits for the end of the pipe that multiprocessing keeps open to the parent (end of file
    the moment the parent dies), or polls ``os.getppid()``."""
    if set_death_signal and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    parent = multiprocessing.parent_process()

    def watch():
        if parent is not None and parent.sentinel is not None:
            multiprocessing.connection.wait([parent.sentinel])
        else:
            while os.getppid() == parent_pid:
                time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="celltwin-exit-with-parent", daemon=True).start()


if __name__ == RUN_NAME:  # run by the executor, with these two names given
    exit_with_parent(PARENT_PID, SET_DEATH_SIGNAL)  # type: ignore[name-defined]  # noqa: F821  (given by runpy's init_globals)
