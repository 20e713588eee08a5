"""Where independent tasks (optimiser starts, profile points) run: one ``executor`` argument.

* ``None`` or ``"local"``: worker processes on this machine (one per core by default);
* ``"serial"``: in this process, one task after another (debugging, tiny problems, tests);
* ``"tcp://HOST:PORT"`` or a ``distributed.Client``: a Dask cluster.

Tasks need a picklable description of the problem (:attr:`Problem.source`); each worker
process builds the problem once and reuses it for all its tasks (and JAX's persistent
compilation cache spares it most of the compilation). Local workers end as soon as this
process ends, also when it is killed (``_exit_with_parent.py``). Dask workers are not ours:
when this client goes, the scheduler drops its queued tasks; running ones finish unused.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import multiprocessing
import os
import pickle
import runpy
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CelltwinInputError

if TYPE_CHECKING:
    from ..problem import AbstractProblem

_WORKER_PROBLEMS: dict[str, Any] = {}


def problem_in_worker(key: str, source: Callable[[], Any]):
    """The problem built by ``source`` in this process (built on first use, then cached)."""
    if key not in _WORKER_PROBLEMS:
        _WORKER_PROBLEMS.clear()  # one problem at a time per worker
        _WORKER_PROBLEMS[key] = source()
    return _WORKER_PROBLEMS[key]


def problem_handle(problem: AbstractProblem) -> tuple[str, Callable[[], Any]]:
    """``(key, source)`` to send to workers; raises if the problem cannot be rebuilt there."""
    source = getattr(problem, "source", None)
    if source is None:
        raise CelltwinInputError(
            f"{problem!r} cannot be sent to worker processes (it has no `source`); "
            "build it with from_petab or Problem.from_tables, or use executor='serial'"
        )
    try:
        blob = pickle.dumps(source)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same to the user
        raise CelltwinInputError(f"{problem!r} cannot be sent to worker processes: {exc}; "
                                 "use executor='serial'") from None
    return hashlib.sha1(blob).hexdigest(), source


def check_scheduler(spec: Any) -> None:
    """A scheduler address that cannot be one is an input error (before any work starts)."""
    if isinstance(spec, str) and spec not in ("local", "serial") and not spec.startswith(
            ("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        raise CelltwinInputError(f"scheduler address {spec!r}: expected e.g. tcp://HOST:PORT")


class Executor:
    """A pool of workers with ``submit`` and ``as_completed`` (see the module docstring)."""

    def __init__(self, spec: Any = None, *, workers: int | None = None, max_tasks_per_child: int | None = None):
        """``max_tasks_per_child``: local worker processes are replaced after about this
        many tasks each (default: never), which returns the memory that JAX's caches of
        compiled functions hold; for long runs of tasks that each build new models. The
        pool is replaced as a whole after ``workers x max_tasks_per_child`` tasks, not
        with ``ProcessPoolExecutor(max_tasks_per_child=...)``, which deadlocks on Python
        3.11-3.13 once a worker has exited with tasks still queued (CPython gh-115634)."""
        self.kind = "local"
        self._pool = None
        self._quota = max_tasks_per_child
        self._client = None
        self._own_client = False
        if spec is None or spec == "local":
            self.workers = workers or max(1, os.cpu_count() or 1)
            self._pool = self._new_pool()
        elif spec == "serial":
            self.kind = "serial"
            self.workers = 1
        elif isinstance(spec, str):
            check_scheduler(spec)
            self.kind = "dask"
            try:
                from distributed import Client
            except ImportError:
                raise CelltwinInputError("a Dask scheduler needs the 'distributed' package: pip install distributed") from None
            try:
                self._client = Client(spec, timeout=30)
            except OSError as exc:
                raise CelltwinInputError(f"cannot reach the Dask scheduler at {spec}: {exc}") from None
            self._own_client = True
            self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        else:  # an existing distributed.Client
            self.kind = "dask"
            self._client = spec
            self.workers = max(1, len(spec.scheduler_info().get("workers", {})))

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        # spawn, not fork: a forked JAX runtime deadlocks. Each worker first runs
        # _exit_with_parent.py (see there), by path so that it does not wait for JAX's import.
        # Workers are started by the thread that submits the tasks, which map_unordered
        # keeps the one that created the pool (the kernel's death signal is tied to it).
        from . import _exit_with_parent

        self._pool_thread = threading.current_thread()
        settings = {"PARENT_PID": os.getpid(), "SET_DEATH_SIGNAL": self._pool_thread is threading.main_thread()}
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=runpy.run_path,
                                      initargs=(str(Path(_exit_with_parent.__file__)), settings,
                                                _exit_with_parent.RUN_NAME))

    def map_unordered(self, fn: Callable, tasks: Iterable[tuple], *, poll: Callable[[], None] | None = None,
                      poll_seconds: float = 2.0) -> Iterator[tuple[int, Any]]:
        """Run ``fn(*task)`` for every task; yields ``(task index, result)`` as they finish.
        ``poll()``, if given, is called every ``poll_seconds`` while waiting (e.g. to show
        the progress that long tasks write to their checkpoints)."""
        tasks = list(tasks)
        if self.kind == "serial":
            for i, task in enumerate(tasks):
                yield i, fn(*task)
        elif self.kind == "local":
            yield from self._map_local(fn, tasks, poll, poll_seconds)
        else:
            yield from self._map_dask(fn, tasks, poll, poll_seconds)

    def _replace_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown()
        self._pool = self._new_pool()
        return self._pool

    def _map_local(self, fn: Callable, tasks: list[tuple], poll: Callable[[], None] | None,
                   poll_seconds: float) -> Iterator[tuple[int, Any]]:
        pool = self._pool
        if pool is None or threading.current_thread() is not self._pool_thread:  # see _new_pool
            pool = self._replace_pool()
        chunk = len(tasks) if self._quota is None else self.workers * self._quota
        for first in range(0, len(tasks), max(chunk, 1)):
            if first > 0:  # the quota is used up: fresh worker processes
                pool = self._replace_pool()
            futures = {pool.submit(fn, *task): first + i for i, task in enumerate(tasks[first:first + chunk])}
            pending = set(futures)
            while pending:
                done, pending = cf.wait(pending, timeout=poll_seconds if poll else None,
                                        return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield futures[future], future.result()
                if poll is not None and pending:
                    poll()

    def _map_dask(self, fn: Callable, tasks: list[tuple], poll: Callable[[], None] | None,
                  poll_seconds: float) -> Iterator[tuple[int, Any]]:
        import distributed

        client = self._client
        assert client is not None, "a dask executor always holds a client"
        futures: list[Any] = [client.submit(fn, *task, pure=False) for task in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        pending = list(futures)
        while pending:
            try:
                distributed.wait(pending, timeout=poll_seconds if poll else None, return_when="FIRST_COMPLETED")
            except distributed.TimeoutError:
                pass
            for future in [f for f in pending if f.done()]:
                pending.remove(future)
                yield index[future.key], future.result()
            if poll is not None and pending:
                poll()

    @contextlib.contextmanager
    def share(self, problem: AbstractProblem) -> Iterator[tuple[str, Callable[[], Any] | None]]:
        """``(key, source)`` that tasks pass to :func:`problem_in_worker`. In-process the
        problem itself is registered (and removed afterwards, also on errors); other
        executors get its picklable ``source``."""
        if self.kind != "serial":
            yield problem_handle(problem)
            return
        key = f"in-process-{id(problem)}"
        _WORKER_PROBLEMS[key] = problem
        try:
            yield key, None
        finally:
            _WORKER_PROBLEMS.pop(key, None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        if self._client is not None and self._own_client:
            self._client.close()

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
