"""The benchmark runner: every (task, method, seed) cell of a suite on one executor.

Cells run where :class:`celltwin.inference.Executor` puts them (local worker processes by
default, a Dask cluster given its scheduler address); each returns its result row to this
process, which alone writes the :class:`~._store.ResultStore`. Cells already in the store
are skipped, so an interrupted run is resumed by running the same command again. One
runner writes a store at a time (``<store>.lock``, :mod:`._lock`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import re
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..inference import Executor, progress_bar
from ._lock import exclusive_run
from ._metrics import parameter_log10_error, prediction_metrics, structure_f1
from ._real import CaseSpec, PetabSpec
from ._registry import REGISTRY_VERSION, Suite, build_task, task_registry
from ._task import AXES

if TYPE_CHECKING:
    from .methods.base import AbstractMethod

PREDICTIVE_DRAWS = 200


@dataclasses.dataclass(frozen=True)
class Cell:
    """One unit of work: a task, a method (with its settings) and a seed."""

    suite: str
    task_id: str
    method: AbstractMethod
    seed: int

    @property
    def key(self) -> tuple:
        return (self.suite, self.task_id, self.method.name, self.seed)


def _has_evidence(spec) -> bool:
    if isinstance(spec, CaseSpec):
        return True
    return not isinstance(spec, PetabSpec) and spec.prior != "none"


def unavailable_methods(suite: Suite) -> dict[str, str]:
    """The suite's methods that cannot run here, with the reason (see ``AbstractMethod.available``)."""
    return {m.name: reason for m in suite.methods if (reason := type(m).available()) is not None}


def cells(suite: Suite, *, tasks: str | None = None, methods: list[str] | None = None,
          seeds: int | None = None) -> list[Cell]:
    """The suite's cells, task by task; ``tasks`` (a regular expression) keeps the ids it
    matches anywhere, ``methods`` keeps those methods, ``seeds`` keeps the suite's first
    ``seeds`` seeds. Left out: methods that need evidence on tasks without it, methods a
    task does not list as applicable (``CaseSpec.methods``, whose settings replace the
    suite's), and unavailable methods (:func:`unavailable_methods`)."""
    registry = task_registry()
    unavailable = unavailable_methods(suite)
    out = []
    for task_id in suite.tasks:
        if tasks and not re.search(tasks, task_id):
            continue
        spec = registry[task_id]
        for seed in suite.seeds[:seeds]:
            for method in suite.methods:
                if (methods and method.name not in methods) or method.name in unavailable:
                    continue
                if getattr(method, "needs_evidence", False) and not _has_evidence(spec):
                    continue
                if isinstance(spec, CaseSpec):
                    overrides = spec.settings_for(method.name)
                    if overrides is None:
                        continue
                    method = dataclasses.replace(method, **overrides)  # type: ignore[type-var]  # methods are dataclasses
                out.append(Cell(suite.name, task_id, method, seed))
    return out


def run_cell(cell: Cell) -> dict:
    """Build the task, fit, predict and score; never raises (a failure is a row)."""
    start = time.perf_counter()
    spec = task_registry().get(cell.task_id)
    settings = dataclasses.asdict(cell.method)  # type: ignore[call-overload]  # methods are dataclasses
    row: dict[str, Any] = {
        "suite": cell.suite, "task_id": cell.task_id, "method": cell.method.name, "seed": cell.seed,
        "registry_version": REGISTRY_VERSION, "settings": json.dumps(settings, sort_keys=True),
        "worker": f"{socket.gethostname()}:{os.getpid()}", "status": "failed", "error": None}
    if spec is not None:
        row.update({k: v for k, v in spec.axes().items() if k in AXES})
        row["kind"] = "real" if isinstance(spec, PetabSpec | CaseSpec) else "synthetic"
    stage = "building the task"
    try:
        task = build_task(cell.task_id, cell.seed)
        row["n_heldout"] = len(task.heldout_measurements)
        row["build_s"] = time.perf_counter() - start
        if not cell.method.applicable(task):
            raise ValueError(f"method {cell.method.name} does not apply to this task")
        stage, t0 = "fitting", time.perf_counter()
        fitted = cell.method.fit(task, seed=cell.seed)
        row["fit_s"] = time.perf_counter() - t0
        stage, t0 = "predicting", time.perf_counter()
        draws = fitted.predict(task.heldout, PREDICTIVE_DRAWS, cell.seed)
        row["predict_s"] = time.perf_counter() - t0
        row.update(prediction_metrics(draws, task.heldout_measurements, task.heldout_observables))
        row["log10_error"] = parameter_log10_error(fitted.parameters(), task.true_parameters)
        row["structure_f1"] = structure_f1(fitted.structure(), task.true_structure)
        row["status"] = "ok" if math.isfinite(row["nrmse"]) else "failed"
        if row["status"] == "failed":
            row["error"] = "non-finite predictions"
    except Exception as exc:  # noqa: BLE001 - a failing method is a result, not a crash of the run
        row["error"] = f"{stage}: {type(exc).__name__}: {exc}"[:1000]
    row["wall_s"] = time.perf_counter() - start
    row["finished_at"] = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return row


@dataclasses.dataclass
class RunSummary:
    """What a run did: cells in the grid, skipped (already stored), run, failed; seconds;
    the suite's methods left out because they cannot run here (name -> reason); and the
    seconds spent waiting for another runner of the same store (``wait=True``)."""

    total: int
    skipped: int
    ran: int
    failed: int
    seconds: float
    unavailable: dict[str, str] = dataclasses.field(default_factory=dict)
    waited: float = 0.0


# A local worker process is replaced after this many cells: every cell builds and compiles
# new models, whose compiled functions JAX keeps cached in the process (one worker had
# grown to 6 GB after 183 cells of the full suite). The persistent compilation cache keeps
# the restart cheap.
CELLS_PER_WORKER_PROCESS = 20


def run(suite: Suite, out, *, scheduler=None, workers: int | None = None, tasks: str | None = None,
        methods: list[str] | None = None, seeds: int | None = None, progress: bool = True,
        on_row: Callable[[dict], None] | None = None, wait: bool = False,
        on_wait: Callable[[str], None] | None = None) -> RunSummary:
    """Run the cells of ``suite`` not yet in the store at ``out``.

    One runner per store at a time (:func:`~._lock.exclusive_run`): while another runner
    holds the store, this one raises :class:`~._lock.StoreBusyError`, or with ``wait``
    waits for it and then runs what is still missing.

    Arguments:
        suite: a :class:`~._registry.Suite` (see :func:`~._registry.suite`).
        out: the DuckDB result file (created if absent).
        scheduler: ``None`` (local worker processes), ``"serial"`` (this process), a Dask
            scheduler address ``tcp://HOST:PORT`` or a ``distributed.Client``.
        workers: local worker processes (default: one per core).
        tasks, methods, seeds: restrict the grid (see :func:`cells`).
        on_row: called with every row after it is stored.
        wait, on_wait: wait for another runner of the same store instead of raising;
            ``on_wait`` is called with the other runner's description when waiting starts.
    """
    with exclusive_run(out, wait=wait, on_wait=on_wait) as waited:
        summary = _run_unlocked(suite, out, scheduler=scheduler, workers=workers, tasks=tasks, methods=methods,
                                seeds=seeds, progress=progress, on_row=on_row)
    return dataclasses.replace(summary, waited=waited)


def _run_unlocked(suite: Suite, out, *, scheduler, workers, tasks, methods, seeds, progress, on_row) -> RunSummary:
    from ._store import ResultStore

    start = time.perf_counter()
    store = ResultStore(out)
    store.create()
    grid = cells(suite, tasks=tasks, methods=methods, seeds=seeds)
    done = store.finished()
    todo = [c for c in grid if c.key not in done]
    failed = 0
    if todo:
        n_workers = workers or min(len(todo), os.cpu_count() or 1)
        with Executor(scheduler, workers=n_workers, max_tasks_per_child=CELLS_PER_WORKER_PROCESS) as pool, \
                progress_bar(f"bench {suite.name}", len(todo), enabled=progress) as advance:
            for _, row in pool.map_unordered(run_cell, [(c,) for c in todo]):
                store.write(row)
                failed += row["status"] != "ok"
                advance()
                if on_row is not None:
                    on_row(row)
    return RunSummary(len(grid), len(grid) - len(todo), len(todo), failed, time.perf_counter() - start,
                      unavailable_methods(suite))
