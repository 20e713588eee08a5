"""Posterior sampling: NUTS (blackjax), the affine-invariant ensemble sampler (stretch
move) and adaptive tempered SMC, each one kernel (``_nuts``, ``_ensemble``, ``_smc``) run
by one driver (``_driver``) that checkpoints after every block of draws (every warm-up block
for NUTS, every tempering stage for SMC); arviz ``InferenceData`` as result.

The samplers work in the unconstrained space of ``_space`` (the bounds of every parameter
mapped to the real line, with the log-Jacobian in the target). Reproducibility: the draws
depend only on the seed and the settings; a run killed at any moment and resumed from its
checkpoint gives exactly the draws of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from . import _checkpoint, _driver
from ._checkpoint import checkpoint_files, group_checkpoint, load_checked
from ._driver import AbstractKernel
from ._ensemble import EnsembleKernel
from ._groups import chain_groups, run_in_groups
from ._idata import inference_data
from ._nuts import NUTSKernel
from ._settings import AlgorithmSettings, NUTSSettings, SamplerSettings, SMCSettings
from ._smc import SMCKernel
from ._space import BoundedSpace, finite_or_minus_inf, z_target


def sample(problem, settings: SamplerSettings | AlgorithmSettings | None = None, *,
           init: np.ndarray | None = None, log_density: Callable | None = None,
           checkpoint: str | os.PathLike | None = None, resume: bool = False, predictive: bool = True,
           progress: bool = True, workers: int = 1, executor=None):
    """Sample the posterior of ``problem``; returns an ``arviz.InferenceData``.

    Arguments:
        problem: a :class:`~celltwin.problem.Problem`.
        settings: method, chains, draws, warm-up, seed, ... (:class:`SamplerSettings`), or
            the typed settings of one algorithm (:class:`NUTSSettings`,
            :class:`EnsembleSettings`, :class:`SMCSettings`); default ``SamplerSettings()``.
        init: starting point(s) on the parameter scale: one ``(n_parameters,)`` point that
            chains start around (``settings.init_scale`` in ``z``), or one row per chain.
            Default: the nominal parameters. SMC starts from prior draws and ignores it.
        log_density: the target on the parameter scale (default ``problem.log_posterior``,
            differentiated in the problem's gradient mode);
            pass e.g. the log-posterior plus extra evidence terms. SMC tempers
            ``log_density - problem.log_prior`` and needs priors it can draw from
            (:meth:`~celltwin.problem.Problem.prior_distributions`).
        checkpoint: file for the sampler state and draws so far (``.npz``), written after
            every block of warm-up steps and of draws (every stage for SMC).
        resume: continue from ``checkpoint`` (it must have been written with the same
            settings and problem).
        predictive: add the ``log_likelihood`` (pointwise) and ``posterior_predictive``
            groups (one simulation per draw).
        progress: show a progress bar.
        workers: NUTS only: run the chains in this many groups at once, one worker process
            each (on the 2-core development machine this is no faster, 0.90x: a small batch
            of chains costs little more than one chain and each group compiles on its own;
            more chains in one process are the cheaper lever there, see docs/inference.md). Each
            process rebuilds the problem from its ``source`` (as :func:`from_petab` and
            ``Problem.from_tables`` record it), so ``log_density`` must be picklable:
            ``None``, an :class:`~celltwin.evidence.Evidence`'s ``log_density``, or a
            module-level function. Chain ``c`` uses the same random keys as in one process,
            so the draws agree with a one-process run up to rounding (the chains' batch size
            changes the order of some floating-point sums). Each group writes its own
            checkpoint next to ``checkpoint`` (see :func:`checkpoint_files`), merged at the end.
        executor: where the groups run: ``None`` (local processes), ``"serial"`` (one
            after another in this process), a Dask scheduler address or client
            (:class:`~celltwin.inference.Executor`).
    """
    s = SamplerSettings.of(settings or SamplerSettings())
    n = problem.n_parameters
    if workers < 1:
        raise CelltwinInputError(f"workers must be at least 1, got {workers}")
    if workers > 1 and s.method != "nuts":
        raise CelltwinInputError(f"workers > 1 runs groups of NUTS chains; the {s.method} sampler runs in one process")
    if workers > 1 and s.stops_early and s.chains > 1:
        raise CelltwinInputError("stop_rhat / stop_ess judge all chains together after each block; "
                                 "they need workers=1 (the groups of workers > 1 run apart)")
    if workers > 1 and s.pooled_mass and s.chains > 1:
        raise CelltwinInputError("pooled_mass adapts one mass matrix from all chains together; "
                                 "it needs workers=1 (the groups of workers > 1 run apart)")
    if s.method == "ensemble" and s.chains < 2 * n:
        raise CelltwinInputError(f"the ensemble sampler needs at least 2 x {n} = {2 * n} walkers (--chains), got {s.chains}")
    space = BoundedSpace(problem.lower, problem.upper)
    target = finite_or_minus_inf(log_density or problem.differentiable_log_posterior())
    meta = {"problem": problem.name, "parameters": list(problem.parameter_ids), **dataclasses.asdict(s)}
    path = Path(checkpoint) if checkpoint is not None else None
    in_groups = s.method == "nuts" and min(workers, s.chains) > 1

    record: dict[str, np.ndarray] = {}
    if resume:
        if path is None or not checkpoint_files(path):
            raise CelltwinInputError(f"--resume: no checkpoint at {path}")
        if path.is_file():  # a one-process run, or the merged groups: continued here
            record = load_checked(path, meta)
            in_groups = False
        else:
            expected = {group_checkpoint(path, ids) for ids in chain_groups(s.chains, workers)} if in_groups else set()
            other = [f.name for f in checkpoint_files(path) if f not in expected]
            if other:
                raise CelltwinInputError(f"--resume: the checkpoint is in group files from a run with other workers "
                                         f"({', '.join(other)}); resume with the same number of workers")

    def save() -> None:
        if path is not None:
            _checkpoint.save_checkpoint(path, record, meta)  # looked up at call time: tests interrupt it

    kernel = _kernel(problem, s, space, target, init)
    if in_groups and isinstance(kernel, NUTSKernel):  # in_groups: NUTS (above)
        run_in_groups(problem, log_density, kernel.z0, s, meta, path, resume, workers, executor, record, save,
                      progress)
    else:
        _driver.run(kernel, record, save, progress=progress)
    draws_z, stats, attrs = kernel.result(record)
    if "sampling_seconds" in record:  # over every invocation that sampled this run
        attrs = {**attrs, "sampling_seconds_all_invocations": float(record["sampling_seconds"])}
    theta_draws = np.asarray(space.theta(jnp.asarray(draws_z)))
    return inference_data(problem, theta_draws, stats, {**meta, **attrs}, predictive=predictive, seed=s.seed)


def _kernel(problem, s: SamplerSettings, space: BoundedSpace, target: Callable, init) -> AbstractKernel:
    """The kernel of ``s.method`` for the target ``target`` (on the parameter scale)."""
    warm_key, sample_key, init_key = _driver.run_keys(s.seed)
    algorithm = s.algorithm  # the typed settings of s.method
    if isinstance(algorithm, SMCSettings):
        return SMCKernel(problem, space, target, algorithm, init_key, sample_key)
    z0 = starting_points(space, problem, init, s.chains, s.init_scale, init_key)
    if isinstance(algorithm, NUTSSettings):
        return NUTSKernel(z_target(space, target), algorithm, z0, warm_key, sample_key)
    return EnsembleKernel(z_target(space, target), algorithm, z0, warm_key, sample_key)


def starting_points(space: BoundedSpace, problem, init, chains: int, init_scale: float, init_key) -> jax.Array:
    """One starting point per chain in ``z``: ``init`` (or the nominal parameters), jittered
    by ``init_scale`` unless ``init`` gives one row per chain."""
    theta0 = np.broadcast_to(np.asarray(problem.x_nominal if init is None else init, dtype=float),
                             (chains, problem.n_parameters))
    z0 = space.z(jnp.asarray(theta0))
    if init is None or np.ndim(init) == 1:
        z0 = z0 + init_scale * jax.random.normal(init_key, z0.shape)
    return z0
