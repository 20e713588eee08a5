"""NUTS chains in groups that run at once, one worker process (or Dask task) each.

Each group runs the chains ``ids`` with the driver and its own checkpoint
(:func:`~._checkpoint.group_checkpoint`); chain ``c`` uses the same keys as in one process,
so the draws agree with a one-process run up to rounding. At the end the groups' states
and draws are merged into the run's record and saved, and only then are the groups'
checkpoints removed.
"""

from __future__ import annotations

import contextlib
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from . import _checkpoint, _driver
from ._checkpoint import group_checkpoint, load_checked
from ._executor import Executor, problem_in_worker
from ._nuts import NUTSKernel
from ._progress import progress_bar
from ._settings import NUTSSettings, SamplerSettings
from ._space import BoundedSpace, finite_or_minus_inf, z_target


def chain_groups(chains: int, workers: int) -> list[np.ndarray]:
    return np.array_split(np.arange(chains), min(workers, chains))


def _nuts_group(problem_key: str, source, log_density, s: SamplerSettings, ids: np.ndarray, z0: np.ndarray,
                checkpoint: str | None, resume: bool, meta: dict) -> dict:
    """A worker's task: the chains ``ids`` of a NUTS run, with their own checkpoint."""
    problem = problem_in_worker(problem_key, source)
    space = BoundedSpace(problem.lower, problem.upper)
    logdensity_z = z_target(space, finite_or_minus_inf(log_density or problem.differentiable_log_posterior()))
    path = Path(checkpoint) if checkpoint is not None else None
    group_meta = {**meta, "group_chains": [int(c) for c in ids]}
    record = load_checked(path, group_meta) if resume and path is not None and path.is_file() else {}

    def save() -> None:
        if path is not None:
            _checkpoint.save_checkpoint(path, record, group_meta)

    warm_key, sample_key, _ = _driver.run_keys(s.seed)
    algorithm = s.algorithm
    if not isinstance(algorithm, NUTSSettings):
        raise ValueError(f"chain groups run NUTS, not {s.method}")
    kernel = NUTSKernel(logdensity_z, algorithm, jnp.asarray(z0), warm_key, sample_key, chain_ids=ids)
    _driver.run(kernel, record, save, progress=False)
    return record


def _group_progress(path: Path, s: SamplerSettings) -> int:
    """Blocks (warm-up and draws) a group's checkpoint records as done."""
    try:
        with np.load(path) as data:
            if "blocks_done" in data.files:
                return -(-s.warmup // s.block) + int(data["blocks_done"])
            return -(-int(data["warmup_done"]) // s.block) if "warmup_done" in data.files else 0
    except (OSError, ValueError, KeyError, EOFError):  # not written yet, or being replaced
        return 0


def run_in_groups(problem, log_density, z0, s: SamplerSettings, meta: dict, path: Path | None, resume: bool,
                  workers: int, executor, record: dict, save: Callable, progress: bool) -> None:
    """The chains of a NUTS run split into ``workers`` groups that run at once (one task
    each, :class:`Executor`); the merged sampler state and draws go into ``record`` and are
    saved. Without a checkpoint file, the groups of local processes checkpoint into a
    temporary folder, for the progress bar."""
    groups = chain_groups(s.chains, workers)
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(Executor(executor, workers=len(groups)))
        if path is None and pool.kind != "dask":
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="celltwin-nuts-"))) / "run.npz"
        paths = [None if path is None else group_checkpoint(path, ids) for ids in groups]
        key, source = stack.enter_context(pool.share(problem))
        if pool.kind != "serial":
            try:
                pickle.dumps(log_density)
            except Exception as exc:  # noqa: BLE001 - any pickling failure means the same to the user
                raise CelltwinInputError(
                    f"log_density cannot be sent to worker processes ({exc}): pass a module-level function or an "
                    "Evidence's log_density, or use workers=1") from None
        tasks = [(key, source, log_density, s, ids, np.asarray(z0)[ids], None if p is None else str(p), resume, meta)
                 for ids, p in zip(groups, paths)]
        per_group = -(-s.warmup // s.block) + -(-s.draws // s.block)
        label = f"NUTS: {s.chains} chains in {len(groups)} processes, {s.warmup} warm-up steps + {s.draws} draws"
        results: dict[int, dict] = {}
        with progress_bar(label, per_group * len(groups), unit="blocks", enabled=progress) as advance:
            shown = 0

            def update() -> None:
                nonlocal shown
                now = sum(per_group if g in results else (_group_progress(p, s) if p is not None else 0)
                          for g, p in enumerate(paths))
                advance(now - shown)
                shown = now

            for g, result in pool.map_unordered(_nuts_group, tasks, poll=update if progress else None):
                results[g] = result
                update()
        record.update({k: (np.concatenate([results[g][k] for g in range(len(groups))], axis=0) if np.ndim(v) else v)
                       for k, v in results[0].items()})
        save()
        for p in paths:
            if p is not None:
                p.unlink(missing_ok=True)
