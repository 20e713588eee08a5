"""The one driver of all samplers: blocks, checkpoints, progress, draws and the stopping rule.

A kernel (:class:`AbstractKernel`; one per algorithm, as numpyro separates its
``MCMCKernel`` from the ``MCMC`` driver) says *what* a run computes: a sequence of
:class:`Phase` s (NUTS: warm-up, then draws; the ensemble: burn-in, then draws; SMC: prior
draws, then tempering stages), each a series of blocks that update the run's ``record`` (the
named arrays of its checkpoint) in place. The driver says *how*: it writes the checkpoint
after every block and shows each phase's progress, so every algorithm is resumable the same
way. Draws are blocks too (:func:`draw_phase`): block ``b`` uses keys derived from ``b`` alone,
so a run killed at any moment and resumed gives exactly the draws of an uninterrupted run.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterator
from typing import ClassVar, NamedTuple

import jax
import numpy as np

from ._progress import progress_bar


class Block(NamedTuple):
    """A finished block: the progress it made (in the phase's unit) and a note to show.
    A block of 0 units only asks for a checkpoint (e.g. the end of a warm-up)."""

    units: int
    note: str | None = None


class Phase(NamedTuple):
    """A stage of a run: ``blocks`` runs it block by block (lazily, updating the record);
    ``title`` ``None`` shows no progress; ``total_is_limit``: it may end before ``total``
    (a stopping rule)."""

    title: str | None
    total: int
    unit: str
    completed: int
    blocks: Iterator[Block]
    total_is_limit: bool = False


class AbstractKernel(abc.ABC):
    """One sampling algorithm as the driver runs it."""

    method: ClassVar[str]

    @abc.abstractmethod
    def phases(self, record: dict) -> Iterator[Phase]:
        """The run's phases from where ``record`` stands (empty: a fresh run), each made
        when the one before has finished."""

    @abc.abstractmethod
    def result(self, record: dict) -> tuple[np.ndarray, dict, dict]:
        """Of a finished run: the draws in ``z`` (chains, draws, parameters), the per-draw
        statistics (chains, draws) and attributes for the result."""


def run_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Warm-up, sampling and initialisation keys of a run."""
    return tuple(jax.random.split(jax.random.PRNGKey(seed), 3))


def run(kernel: AbstractKernel, record: dict, save: Callable[[], None], *, progress: bool) -> None:
    """Run ``kernel``'s phases from ``record``, checkpointing (``save``) after every block.
    ``record["sampling_seconds"]`` counts the wall seconds of all invocations that ran the
    record's blocks (a run resumed from a checkpoint adds to what the checkpoint holds)."""
    earlier, start = float(record.get("sampling_seconds", 0.0)), time.perf_counter()
    for phase in kernel.phases(record):
        shown = progress and phase.title is not None
        with progress_bar(phase.title or "", phase.total, unit=phase.unit, completed=phase.completed,
                          enabled=shown, total_is_limit=phase.total_is_limit) as advance:
            for block in phase.blocks:
                record["sampling_seconds"] = np.array(earlier + time.perf_counter() - start)
                save()
                if block.units or block.note is not None:
                    advance(block.units, note=block.note)


def draw_phase(record: dict, draw_block: Callable, stat_names: tuple[str, ...], *, title: str, draws: int,
               block: int, stop: Callable[[np.ndarray], bool] | None = None,
               note: Callable[[dict], str | None] = lambda record: None) -> Phase:
    """Draw blocks ``record["blocks_done"] ..`` of ``draws`` per chain: ``draw_block(b, size)``
    advances the kernel's own state in ``record`` and returns the block's positions and
    statistics (chains first), which are appended to ``record`` (``draws_z``, ``stat_<name>``).
    With ``stop`` (the stopping rule, given the draws so far) the draws end at the first block
    boundary where it holds, also when a run that stopped there is resumed."""
    n_blocks = -(-draws // block)
    drawn = record["draws_z"].shape[1] if "draws_z" in record else 0

    def blocks() -> Iterator[Block]:
        for b in range(int(record["blocks_done"]), n_blocks):
            if stop is not None and b > 0 and stop(record["draws_z"]):
                break
            positions, stats = draw_block(b, min(block, draws - b * block))
            new = {"draws_z": np.asarray(positions), **{f"stat_{k}": np.asarray(v) for k, v in zip(stat_names, stats)}}
            for k, v in new.items():
                record[k] = v if k not in record else np.concatenate([record[k], v], axis=1)
            record["blocks_done"] = np.array(b + 1)
            yield Block(positions.shape[1], note(record))

    return Phase(title, draws, "draws per chain", drawn, blocks(), total_is_limit=stop is not None)


def drawn(record: dict, stat_names: tuple[str, ...]) -> tuple[np.ndarray, dict]:
    """The draws in ``z`` and the statistics a :func:`draw_phase` collected."""
    return record["draws_z"], {k: record[f"stat_{k}"] for k in stat_names}


class Convergence(NamedTuple):
    """Where draws stand against the stopping rule: the largest rank-normalised R-hat and
    the smallest bulk and tail ESS over the parameters (arviz; NaN with too few draws)."""

    max_rhat: float
    min_bulk_ess: float
    min_tail_ess: float

    def meets(self, max_rhat: float | None, min_ess: float | None) -> bool:
        """Whether the rule holds (``None``: no bound; NaN never meets a bound)."""
        return ((max_rhat is None or self.max_rhat <= max_rhat)
                and (min_ess is None or min(self.min_bulk_ess, self.min_tail_ess) >= min_ess))

    def note(self, max_rhat: float | None, min_ess: float | None) -> str:
        """For the progress display: the measures the rule bounds, each with its bound."""
        parts = []
        if max_rhat is not None:
            parts.append(f"R-hat {self.max_rhat:.3f} (<= {max_rhat:g})")
        if min_ess is not None:
            parts.append(f"ESS bulk {self.min_bulk_ess:.0f}, tail {self.min_tail_ess:.0f} (>= {min_ess:g})")
        return ", ".join(parts)


def convergence(draws: np.ndarray) -> Convergence:
    """:class:`Convergence` of draws ``(chains, draws, parameters)``."""
    import arviz as az

    rhat, bulk, tail = [], [], []
    for k in range(draws.shape[-1]):
        x = draws[..., k]
        rhat.append(float(az.rhat(x)))
        bulk.append(float(az.ess(x, method="bulk")))
        tail.append(float(az.ess(x, method="tail")))
    return Convergence(_worst(rhat, max), _worst(bulk, min), _worst(tail, min))


def _worst(values: list[float], pick) -> float:
    """``pick`` of ``values``, NaN if any is NaN (too few draws: no bound can be met)."""
    return float("nan") if np.isnan(values).any() else pick(values)


def converged(draws: np.ndarray, max_rhat: float | None, min_ess: float | None) -> bool:
    """Whether draws ``(chains, draws, parameters)`` meet the stopping rule: max rank-normalised
    R-hat at most ``max_rhat`` and min bulk and tail ESS at least ``min_ess`` (arviz; ``None``:
    no bound)."""
    return convergence(draws).meets(max_rhat, min_ess)
