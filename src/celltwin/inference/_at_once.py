"""Several posteriors of one problem sampled at the same time, one worker process each.

Why: a twin case samples two posteriors of one problem (without and with the evidence
terms). One sampling process keeps about one core busy on a small model (its batches are
too small to pay for threads), so on a 2-core machine the two runs side by side take about
the time of one. Each run checkpoints as in :func:`~._sample.sample`; this process shows
their progress from the checkpoints and returns each posterior as soon as it is done.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import CelltwinInputError
from ._checkpoint import checkpoint_files, load_checkpoint
from ._driver import convergence
from ._executor import Executor, problem_in_worker
from ._progress import progress_bar
from ._sample import sample
from ._settings import SamplerSettings


def _sample_task(key: str, source, log_density: Callable, settings: SamplerSettings, checkpoint: str | None):
    problem = problem_in_worker(key, source)
    resume = checkpoint is not None and bool(checkpoint_files(checkpoint))
    start = time.perf_counter()
    idata = sample(problem, settings, log_density=log_density, checkpoint=checkpoint, resume=resume, progress=False)
    idata.posterior.attrs["sampling_seconds"] = time.perf_counter() - start  # this invocation's share
    return idata


def _blocks(settings: SamplerSettings, draws: int | None = None) -> int:
    """The blocks of a run: its warm-up's and those of ``draws`` draws (default: all it may take)."""
    return _blocks_of(settings.warmup, settings) + _blocks_of(settings.draws if draws is None else draws, settings)


def _blocks_of(steps: int, settings: SamplerSettings) -> int:
    """The checkpointed blocks that ``steps`` warm-up steps or draws take (the last may be partial)."""
    return -(-steps // settings.block)


def _where(path: Path | None, settings: SamplerSettings, seen: dict | None = None) -> tuple[int, str]:
    """Blocks done and a note (the stopping rule's measures) from a run's checkpoint.

    ``seen`` (path -> (modification time, answer)): answers already read; a checkpoint not
    written since is not loaded and measured again.
    """
    if settings.method != "nuts":  # (the other samplers' checkpoints count otherwise)
        return 0, "running"
    if path is None or not path.is_file():
        return 0, "starting"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:  # being replaced right now: ask again at the next poll
        return -1, ""
    if seen is not None and path in seen and seen[path][0] == stamp:
        return seen[path][1]
    answer = _read_where(path, settings)
    if seen is not None and answer[0] >= 0:
        seen[path] = (stamp, answer)
    return answer


def _read_where(path: Path, settings: SamplerSettings) -> tuple[int, str]:
    try:
        data, _ = load_checkpoint(path)
    except CelltwinInputError:  # being replaced right now: ask again at the next poll
        return -1, ""
    if "blocks_done" not in data:
        done = int(data.get("warmup_done", 0))
        return _blocks_of(done, settings), f"warm-up {done}/{settings.warmup}"
    drawn = int(data["draws_z"].shape[1]) if "draws_z" in data else 0
    note = f"{drawn} draws"
    if drawn >= 4 and settings.stops_early:
        note += "; " + convergence(np.asarray(data["draws_z"])).note(settings.stop_rhat, settings.stop_ess)
    return _blocks_of(settings.warmup, settings) + int(data["blocks_done"]), note


def sample_at_once(problem, settings: SamplerSettings, log_densities: dict[str, Callable], *,
                   checkpoints: dict[str, Path] | None = None, progress: bool = True,
                   executor=None) -> Iterator[tuple[str, object]]:
    """Sample the posterior of each log density in ``log_densities`` (name -> picklable
    ``f(theta)``, e.g. an :class:`~celltwin.evidence.Evidence`'s ``log_density``), all at
    once, one worker process each; yields ``(name, InferenceData)`` as each finishes.

    ``checkpoints`` (name -> path): each run's checkpoint; a run with one continues from it.
    ``executor``: where the runs go (:class:`~._executor.Executor`; default local processes).
    The progress bar counts the blocks of all runs, with each run's stopping-rule measures.
    """
    names = list(log_densities)
    paths = {name: (checkpoints or {}).get(name) for name in names}
    per_run = _blocks(settings)
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(Executor(executor, workers=len(names)))
        key, source = stack.enter_context(pool.share(problem))
        tasks = [(key, source, log_densities[n], settings, None if paths[n] is None else str(paths[n])) for n in names]
        label = f"{' and '.join(names)} at once ({len(names)} processes)"
        finished: dict[str, int] = {}  # name -> the blocks it took (fewer than per_run if the rule stopped it)
        read: dict = {}  # checkpoint -> (modification time, blocks done and note)
        # blocks done before this invocation (resumed runs): not counted in the rate of progress
        # (read only for the display: without progress nothing is shown)
        where = {n: _where(paths[n], settings, read) if progress else (0, "") for n in names}
        seen = {n: (max(done, 0), note) for n, (done, note) in where.items()}
        shown = sum(done for done, _ in seen.values())
        with progress_bar(label, per_run * len(names), unit="blocks", enabled=progress, completed=shown,
                          total_is_limit=settings.stops_early) as advance:

            def update() -> None:
                nonlocal shown
                for n in names:
                    done, note = (finished[n], "done") if n in finished else _where(paths[n], settings, read)
                    if done >= 0:
                        seen[n] = (done, note)
                now = sum(done for done, _ in seen.values())
                advance(now - shown, note="; ".join(f"{n}: {note}" for n, (_, note) in seen.items()),
                        total=sum(finished.get(n, per_run) for n in names))
                shown = now

            for i, idata in pool.map_unordered(_sample_task, tasks, poll=update if progress else None):
                finished[names[i]] = _blocks(settings, int(idata.posterior.sizes["draw"]))
                update()
                yield names[i], idata
