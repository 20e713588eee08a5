"""Posterior sampling: NUTS (blackjax), the affine-invariant ensemble sampler (stretch
move) and adaptive tempered SMC (``_smc``), with checkpoints after every block of draws
(every tempering stage for SMC) and arviz ``InferenceData`` as result.

Both samplers work in an unconstrained space ``z``: each parameter (on its PEtab scale)
is ``theta = lower + (upper - lower) * sigmoid(z)``, and the target density in ``z``
includes the log-Jacobian, so the draws of ``theta`` follow the posterior restricted to
the bounds (the PEtab problem's support). A failed ODE solve gives log-density ``-inf``:
a rejected proposal (NUTS counts it as a divergence), never an exception.

Reproducibility: the draws depend only on the seed and the settings. NUTS warm-up and
sampling run in blocks (SMC: stages); warm-up step ``i`` of chain ``c`` uses the key
``fold_in(chain_key[c], i)`` (``_warmup``) and draw block ``b`` the key ``fold_in(key, b)``;
after each block the state and all draws so far are written atomically to the checkpoint, so a run killed at any moment and
resumed gives exactly the draws of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import glob
import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .._atomic import atomic_path
from ..errors import CelltwinInputError
from . import _smc
from ._executor import Executor, problem_in_worker
from ._progress import progress_bar
from ._warmup import Warmup, from_arrays, to_arrays

METHODS = ("nuts", "ensemble", "smc")
MAX_SMC_STAGES = 1000


@dataclasses.dataclass(frozen=True)
class SamplerSettings:
    """Everything that determines the draws (recorded in the result and the checkpoint).

    Attributes:
        method: ``nuts``, ``ensemble`` or ``smc``.
        chains: NUTS chains, ensemble walkers (at least twice the number of parameters),
            or independent SMC runs.
        draws: kept draws per chain (after thinning, for the ensemble; particles per run
            for SMC).
        warmup: NUTS window-adaptation steps, or ensemble burn-in iterations (discarded).
        seed: the random seed.
        thin: keep every ``thin``-th ensemble iteration.
        block: draws (and NUTS warm-up steps) per checkpoint.
        target_accept: NUTS target acceptance rate.
        max_tree_depth: NUTS: at most ``2**max_tree_depth - 1`` leapfrog steps per draw.
        dense_mass: NUTS: adapt a dense inverse mass matrix (for strongly correlated
            posteriors) instead of a diagonal one.
        pooled_mass: NUTS: adapt one mass matrix for all chains from their merged warm-up
            draws (within- and between-chain spread) instead of one per chain, and one
            step size, adapted to the chains' mean acceptance; needs ``workers=1`` (the
            chains must run together).
        stretch: the ensemble's stretch scale ``a``.
        init_scale: spread of the initial points around the starting point, in ``z``.
        mcmc_steps: SMC: random-walk Metropolis steps per particle and tempering stage.
        target_ess: SMC: the effective sample size (fraction of the particles) that sets
            each next temperature.
        stop_rhat, stop_ess: NUTS: a stopping rule. After each block of ``block`` draws,
            stop drawing if the max rank-normalised R-hat is at most ``stop_rhat`` and the
            min bulk and tail ESS at least ``stop_ess`` over all parameters (either may be left
            ``None``); ``draws`` is then the most draws per chain. The result records where
            it stopped (the posterior's attribute ``stopped_after_draws``).
    """

    method: str = "nuts"
    chains: int = 4
    draws: int = 1000
    warmup: int = 1000
    seed: int = 0
    thin: int = 1
    block: int = 100
    target_accept: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    pooled_mass: bool = False
    stretch: float = 2.0
    init_scale: float = 0.1
    mcmc_steps: int = 10
    target_ess: float = 0.5
    stop_rhat: float | None = None
    stop_ess: float | None = None

    @property
    def stops_early(self) -> bool:
        return self.stop_rhat is not None or self.stop_ess is not None

    def __post_init__(self):
        if self.method not in METHODS:
            raise CelltwinInputError(f"sampling method {self.method!r}: choose one of {', '.join(METHODS)}")
        for name in ("chains", "draws", "thin", "block", "mcmc_steps", "max_tree_depth"):
            if getattr(self, name) < 1:
                raise CelltwinInputError(f"sampler setting {name} must be at least 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise CelltwinInputError(f"sampler setting warmup must be >= 0, got {self.warmup}")
        if not 0 < self.target_ess < 1:
            raise CelltwinInputError(f"sampler setting target_ess must be in (0, 1), got {self.target_ess}")
        if self.stops_early and self.method != "nuts":
            raise CelltwinInputError(f"stop_rhat / stop_ess stop NUTS runs; the {self.method} sampler runs to its draws")
        if self.stop_rhat is not None and not self.stop_rhat > 1:
            raise CelltwinInputError(f"sampler setting stop_rhat must be above 1, got {self.stop_rhat}")
        if self.stop_ess is not None and not self.stop_ess > 0:
            raise CelltwinInputError(f"sampler setting stop_ess must be positive, got {self.stop_ess}")
        if self.method == "smc" and self.draws < 10:
            raise CelltwinInputError(f"SMC needs at least 10 particles per run (draws), got {self.draws}")


class BoundedSpace:
    """``theta = lower + (upper - lower) * sigmoid(z)`` and its log-Jacobian."""

    def __init__(self, lower, upper):
        self.lower = jnp.asarray(lower, dtype=float)
        self.width = jnp.asarray(upper, dtype=float) - self.lower

    def theta(self, z):
        return self.lower + self.width * jax.nn.sigmoid(z)

    def z(self, theta):
        u = jnp.clip((jnp.asarray(theta) - self.lower) / self.width, 1e-12, 1 - 1e-12)
        return jnp.log(u) - jnp.log1p(-u)

    def log_jacobian(self, z):
        return jnp.sum(jnp.log(self.width) + jax.nn.log_sigmoid(z) + jax.nn.log_sigmoid(-z), axis=-1)


def _safe(logdensity: Callable) -> Callable:
    def f(x):
        v = logdensity(x)
        return jnp.where(jnp.isfinite(v), v, -jnp.inf)

    return f


def _z_target(space: BoundedSpace, target: Callable) -> Callable:
    """The target in ``z``: the log density of ``theta(z)`` plus the log-Jacobian."""
    def logdensity_z(z):
        return target(space.theta(z)) + space.log_jacobian(z)

    return logdensity_z


def _keys(settings: SamplerSettings) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Warm-up, sampling and initialisation keys of a run."""
    return tuple(jax.random.split(jax.random.PRNGKey(settings.seed), 3))


# --- NUTS ------------------------------------------------------------------------------------

def _warmup(logdensity_z, settings: SamplerSettings) -> Warmup:
    return Warmup(logdensity_z, target_accept=settings.target_accept, max_tree_depth=settings.max_tree_depth,
                  dense_mass=settings.dense_mass, pooled=settings.pooled_mass)


def _nuts_warmup(logdensity_z, z0, key, settings: SamplerSettings):
    """The whole warm-up in one traceable call: positions, step sizes, inverse mass matrices."""
    if settings.warmup == 0:
        return _unadapted(z0, settings)
    return _warmup(logdensity_z, settings).run(z0, key, settings.warmup)


def _unadapted(z0, settings: SamplerSettings):
    """Without warm-up: the starting points, step size 0.1 and unit mass matrices."""
    n = z0.shape[1]
    eye = jnp.eye(n) if settings.dense_mass else jnp.ones(n)
    return z0, jnp.full((z0.shape[0],), 0.1), jnp.broadcast_to(eye, (z0.shape[0], *eye.shape))


def _nuts_block_fn(logdensity_z, n_steps: int, max_tree_depth: int = 10):
    import blackjax

    def one_chain(position, step_size, inv_mass, key):
        kernel = blackjax.nuts(logdensity_z, step_size=step_size, inverse_mass_matrix=inv_mass,
                               max_num_doublings=max_tree_depth)
        state = kernel.init(position)

        def step(state, k):
            state, info = kernel.step(k, state)
            stats = (info.is_divergent, info.num_trajectory_expansions, info.num_integration_steps,
                     info.acceptance_rate, info.energy, state.logdensity)
            return state, (state.position, stats)

        state, (positions, stats) = jax.lax.scan(step, state, jax.random.split(key, n_steps))
        return state.position, positions, stats

    return jax.jit(jax.vmap(one_chain))


NUTS_STATS = ("diverging", "tree_depth", "n_steps", "acceptance_rate", "energy", "lp")


def nuts_draws(logdensity: Callable, z0, settings: SamplerSettings, key) -> tuple[jax.Array, dict]:
    """NUTS on any log density of a flat, unconstrained position: the sampler's warm-up
    (Stan's windows) and kernel, chains vectorised, no checkpoints; traceable.

    Arguments:
        logdensity: the target, ``f(x) -> scalar`` (``-inf`` where undefined).
        z0: starting points, one row per chain (``settings.chains`` rows).
        settings: warm-up, draws, target acceptance, tree depth, mass matrix.
        key: a JAX random key.

    Returns:
        ``(draws, stats)``: draws of shape ``(chains, draws, dimension)`` and the per-draw
        statistics of :data:`NUTS_STATS` (each ``(chains, draws)``).
    """
    target = _safe(logdensity)
    warm_key, draw_key = jax.random.split(key)
    pos, step, inv_mass = _nuts_warmup(target, z0, warm_key, settings)
    _, positions, stats = _nuts_block_fn(target, settings.draws, settings.max_tree_depth)(
        pos, step, inv_mass, jax.random.split(draw_key, z0.shape[0]))
    return positions, dict(zip(NUTS_STATS, stats))


# --- ensemble ---------------------------------------------------------------------------------

def _ensemble_block_fn(logdensity_z, n_iterations: int, thin: int, a: float):
    """``n_iterations`` kept iterations (each ``thin`` stretch-move sweeps) of all walkers."""
    batch_logp = jax.vmap(logdensity_z)

    def half_move(walkers, lps, key, first: bool):
        n = walkers.shape[0]
        half = n // 2
        idx_active = jnp.arange(half) if first else jnp.arange(half, n)
        idx_other = jnp.arange(half, n) if first else jnp.arange(half)
        active, other = walkers[idx_active], walkers[idx_other]
        k1, k2, k3 = jax.random.split(key, 3)
        d = walkers.shape[1]
        z = ((a - 1.0) * jax.random.uniform(k1, (active.shape[0],)) + 1.0) ** 2 / a  # g(z) ~ 1/sqrt(z) on [1/a, a]
        partners = other[jax.random.randint(k2, (active.shape[0],), 0, other.shape[0])]
        proposal = partners + z[:, None] * (active - partners)
        lp_new = batch_logp(proposal)
        log_ratio = (d - 1) * jnp.log(z) + lp_new - lps[idx_active]
        accept = jnp.log(jax.random.uniform(k3, (active.shape[0],))) < log_ratio
        accept = accept & jnp.isfinite(lp_new)
        walkers = walkers.at[idx_active].set(jnp.where(accept[:, None], proposal, active))
        lps = lps.at[idx_active].set(jnp.where(accept, lp_new, lps[idx_active]))
        accepted = jnp.zeros(n, dtype=bool).at[idx_active].set(accept)
        return walkers, lps, accepted

    def sweep(carry, key):
        walkers, lps = carry
        k1, k2 = jax.random.split(key)
        walkers, lps, acc1 = half_move(walkers, lps, k1, True)
        walkers, lps, acc2 = half_move(walkers, lps, k2, False)
        return (walkers, lps), acc1 | acc2

    def kept(carry, key):
        carry, accepted = jax.lax.scan(sweep, carry, jax.random.split(key, thin))
        return carry, (carry[0], (jnp.mean(accepted, axis=0), carry[1]))

    def run(walkers, lps, key):
        (walkers, lps), (positions, stats) = jax.lax.scan(kept, (walkers, lps), jax.random.split(key, n_iterations))
        # (iterations, walkers, d) -> (walkers, iterations, d): walkers are arviz chains
        return walkers, lps, jnp.swapaxes(positions, 0, 1), tuple(jnp.swapaxes(s, 0, 1) for s in stats)

    return jax.jit(run)


ENSEMBLE_STATS = ("acceptance_rate", "lp")


# --- checkpoints ------------------------------------------------------------------------------

def _save_checkpoint(path: Path, arrays: dict, meta: dict) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


def load_checkpoint(path: Path) -> tuple[dict, dict]:
    """The arrays and settings of a checkpoint; a damaged file (truncated, not written by
    celltwin) is bad input: resuming from it cannot work."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            if not isinstance(meta, dict):
                raise ValueError("its settings record is not a mapping")
            return {k: np.array(data[k]) for k in data.files if k != "__meta__"}, meta
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CelltwinInputError(f"{path}: the checkpoint cannot be read (truncated or not written by celltwin "
                                 f"sample: {exc}); delete it and run again without --resume") from None


def _load_checked(path: Path, meta: dict) -> dict:
    """The checkpoint's arrays; raises if it was written with other settings than ``meta``."""
    state, saved = load_checkpoint(path)
    differs = {k: (saved.get(k), v) for k, v in meta.items() if saved.get(k) != v}
    if differs:
        detail = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in differs.items())
        raise CelltwinInputError(f"{path}: the checkpoint was written with other settings ({detail})")
    return state


def _group_checkpoint(path: Path, ids: np.ndarray) -> Path:
    return path.with_name(f"{path.stem}.chains{ids[0]}-{ids[-1]}{path.suffix}")


def checkpoint_files(path: str | os.PathLike) -> list[Path]:
    """The files of the checkpoint ``path``: itself and, while a run with ``workers > 1``
    is under way, one per group of chains (``<stem>.chains<first>-<last><suffix>``)."""
    path = Path(path)
    groups = sorted(path.parent.glob(f"{glob.escape(path.stem)}.chains*{glob.escape(path.suffix)}"))
    return ([path] if path.is_file() else []) + groups


# --- the sampler ------------------------------------------------------------------------------

def sample(problem, settings: SamplerSettings = SamplerSettings(), *, init: np.ndarray | None = None,
           log_density: Callable | None = None, checkpoint: str | os.PathLike | None = None, resume: bool = False,
           predictive: bool = True, progress: bool = True, workers: int = 1, executor=None):
    """Sample the posterior of ``problem``; returns an ``arviz.InferenceData``.

    Arguments:
        problem: a :class:`~celltwin.problem.Problem`.
        settings: method, chains, draws, warm-up, seed, ... (:class:`SamplerSettings`).
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
    s = settings
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
    space = BoundedSpace(problem.lower, problem.upper)
    target = _safe(log_density or problem.differentiable_log_posterior())
    logdensity_z = _z_target(space, target)
    if s.method == "ensemble" and s.chains < 2 * n:
        raise CelltwinInputError(f"the ensemble sampler needs at least 2 x {n} = {2 * n} walkers (--chains), got {s.chains}")
    meta = {"problem": problem.name, "parameters": list(problem.parameter_ids), **dataclasses.asdict(s)}
    path = Path(checkpoint) if checkpoint is not None else None
    warm_key, sample_key, init_key = _keys(s)
    in_groups = s.method == "nuts" and min(workers, s.chains) > 1

    state: dict[str, np.ndarray] = {}
    if resume:
        if path is None or not checkpoint_files(path):
            raise CelltwinInputError(f"--resume: no checkpoint at {path}")
        if path.is_file():  # a one-process run, or the merged groups: continued here
            state = _load_checked(path, meta)
            in_groups = False
        else:
            expected = {_group_checkpoint(path, ids) for ids in _chain_groups(s.chains, workers)} if in_groups else set()
            other = [f.name for f in checkpoint_files(path) if f not in expected]
            if other:
                raise CelltwinInputError(f"--resume: the checkpoint is in group files from a run with other workers "
                                         f"({', '.join(other)}); resume with the same number of workers")

    def save() -> None:
        if path is not None:
            _save_checkpoint(path, state, meta)

    if s.method == "smc":
        return _run_smc(problem, space, target, s, state, save, meta, init_key, sample_key,
                        predictive=predictive, progress=progress)

    if not state and s.method == "ensemble":
        z0 = _starting_points(space, problem, init, s, init_key)
        lps = jax.vmap(logdensity_z)(z0)
        if not bool(jnp.any(jnp.isfinite(lps))):
            raise CelltwinInputError("the posterior is -inf at every starting point (the model cannot be simulated there)")
        if s.warmup:
            burn = _ensemble_block_fn(logdensity_z, s.warmup, 1, s.stretch)
            z0, lps, _, _ = burn(z0, lps, warm_key)
        state.update(position=np.asarray(z0), lp_state=np.asarray(lps), blocks_done=np.array(0))
        save()
    if in_groups:
        z0 = _starting_points(space, problem, init, s, init_key)
        _nuts_in_groups(problem, log_density, z0, s, meta, path, resume, workers, executor, state, save, progress)
    elif s.method == "nuts":
        z0 = _starting_points(space, problem, init, s, init_key) if "blocks_done" not in state else None
        _nuts_chains(logdensity_z, z0, np.arange(s.chains), s, state, save, warm_key, sample_key, progress)
    else:
        block_fns: dict[int, Callable] = {}  # compiled once per block size

        def run_block(b: int, size: int):
            if size not in block_fns:
                block_fns[size] = _ensemble_block_fn(logdensity_z, size, s.thin, s.stretch)
            pos, lps, positions, stats = block_fns[size](jnp.asarray(state["position"]), jnp.asarray(state["lp_state"]),
                                                         jax.random.fold_in(sample_key, b))
            state["position"], state["lp_state"] = np.asarray(pos), np.asarray(lps)
            return positions, stats

        _draw_blocks(s, state, save, run_block, ENSEMBLE_STATS, progress)

    stat_names = NUTS_STATS if s.method == "nuts" else ENSEMBLE_STATS
    theta_draws = np.asarray(space.theta(jnp.asarray(state["draws_z"])))
    stats = {k: state[f"stat_{k}"] for k in stat_names}
    if s.stops_early:
        meta = {**meta, "stopped_after_draws": int(theta_draws.shape[1])}
    return _inference_data(problem, theta_draws, stats, meta, predictive=predictive, seed=s.seed)


def _starting_points(space: BoundedSpace, problem, init, s: SamplerSettings, init_key) -> jax.Array:
    """One starting point per chain in ``z``: ``init`` (or the nominal parameters), jittered
    by ``s.init_scale`` unless ``init`` gives one row per chain."""
    theta0 = np.broadcast_to(np.asarray(problem.x_nominal if init is None else init, dtype=float),
                             (s.chains, problem.n_parameters))
    z0 = space.z(jnp.asarray(theta0))
    if init is None or np.ndim(init) == 1:
        z0 = z0 + s.init_scale * jax.random.normal(init_key, z0.shape)
    return z0


def _blocked_nuts_warmup(logdensity_z, z0, s: SamplerSettings, state: dict, save: Callable, chain_keys,
                         progress: bool) -> None:
    """NUTS warm-up of the chains started at the rows of ``z0`` (random keys
    ``chain_keys``), ``s.block`` steps per compiled call, with a checkpoint after each
    block (``warmup_done`` and the adaptation state) and a progress bar; on return
    ``state`` holds the adapted positions, step sizes and inverse mass matrices."""
    if s.warmup == 0:
        pos, step, inv_mass = _unadapted(z0, s)
    else:
        warm = _warmup(logdensity_z, s)
        template = jax.jit(warm.init)(z0)
        wstate = from_arrays(template, state) if "warmup_done" in state else template
        done = int(state.get("warmup_done", 0))
        compiled: dict[int, Callable] = {}
        mass = ", ".join(word for word, on in (("dense", s.dense_mass), ("pooled", s.pooled_mass)) if on)
        title = f"NUTS warm-up: {z0.shape[0]} chains x {s.warmup} steps" + (f" ({mass} mass matrix)" if mass else "")
        with progress_bar(title, s.warmup, unit="steps", completed=done, enabled=progress) as advance:
            for first in range(done, s.warmup, s.block):
                last = min(first + s.block, s.warmup)
                if last - first not in compiled:  # the block's start is traced: one compilation per length
                    compiled[last - first] = jax.jit(
                        lambda st, keys, f, n=last - first: _warmup_block(warm, st, keys, f, n, s.warmup))
                wstate = compiled[last - first](wstate, chain_keys, first)
                state.update(to_arrays(wstate), warmup_done=np.array(last))
                save()
                advance(last - first)
        pos, step, inv_mass = warm.final(wstate)
    for k in [k for k in state if k.startswith("warmup_")]:
        del state[k]
    state.update(position=np.asarray(pos), step_size=np.asarray(step), inverse_mass_matrix=np.asarray(inv_mass),
                 blocks_done=np.array(0))
    save()


def _warmup_block(warm: Warmup, wstate, chain_keys, first, length: int, n_steps: int):
    return warm.steps(wstate, chain_keys, first, length, n_steps)[0]


def converged(draws: np.ndarray, max_rhat: float | None, min_ess: float | None) -> bool:
    """Whether draws ``(chains, draws, parameters)`` meet the stopping rule: max rank-normalised
    R-hat at most ``max_rhat`` and min bulk and tail ESS at least ``min_ess`` (arviz; ``None``:
    no bound)."""
    import arviz as az

    for k in range(draws.shape[-1]):
        x = draws[..., k]
        if max_rhat is not None and not float(az.rhat(x)) <= max_rhat:  # NaN (too few draws) fails too
            return False
        if min_ess is not None and not all(float(az.ess(x, method=m)) >= min_ess for m in ("bulk", "tail")):
            return False
    return True


def _draw_blocks(s: SamplerSettings, state: dict, save: Callable, run_block: Callable, stat_names, progress: bool,
                 n_chains: int | None = None) -> None:
    """Draw blocks ``state["blocks_done"] ..`` of a run: ``run_block(b, size)`` returns the
    block's positions and statistics (chains first) and updates the sampler's own state;
    the draws are appended to ``state`` and checkpointed after each block. With a stopping
    rule (``s.stop_rhat`` / ``s.stop_ess``) the draws end at the first block boundary
    where it holds, also when a run that stopped there is resumed."""
    n_blocks = -(-s.draws // s.block)
    label = f"{s.method}: {n_chains or s.chains} chains x {s.draws} draws"
    drawn = state["draws_z"].shape[1] if "draws_z" in state else 0
    with progress_bar(label, s.draws, unit="draws per chain", completed=drawn, enabled=progress) as advance:
        for b in range(int(state["blocks_done"]), n_blocks):
            if s.stops_early and b > 0 and converged(state["draws_z"], s.stop_rhat, s.stop_ess):
                break
            positions, stats = run_block(b, min(s.block, s.draws - b * s.block))
            new = {"draws_z": np.asarray(positions), **{f"stat_{k}": np.asarray(v) for k, v in zip(stat_names, stats)}}
            for k, v in new.items():
                state[k] = v if k not in state else np.concatenate([state[k], v], axis=1)
            state["blocks_done"] = np.array(b + 1)
            save()
            advance(positions.shape[1], note=_divergences(state))


def _divergences(state: dict) -> str | None:
    """The divergent transitions among the draws so far, for the progress display (NUTS only)."""
    if "stat_diverging" not in state:
        return None
    return f"{int(np.sum(state['stat_diverging']))} divergent"


def _nuts_chains(logdensity_z, z0, ids: np.ndarray, s: SamplerSettings, state: dict, save: Callable, warm_key,
                 sample_key, progress: bool) -> None:
    """Warm-up (unless done) and draws of the chains ``ids`` of a run of ``s.chains``
    chains, started at the rows of ``z0``. Chain ``c`` uses row ``c`` of the run's keys
    (``split(warm_key, s.chains)`` for the warm-up, ``split(fold_in(sample_key, b),
    s.chains)`` for draw block ``b``), whichever chains it runs with."""
    if "blocks_done" not in state:
        _blocked_nuts_warmup(logdensity_z, z0, s, state, save, jax.random.split(warm_key, s.chains)[ids], progress)
    block_fns: dict[int, Callable] = {}  # compiled once per block size

    def run_block(b: int, size: int):
        if size not in block_fns:
            block_fns[size] = _nuts_block_fn(logdensity_z, size, s.max_tree_depth)
        keys = jax.random.split(jax.random.fold_in(sample_key, b), s.chains)[ids]
        pos, positions, stats = block_fns[size](jnp.asarray(state["position"]), jnp.asarray(state["step_size"]),
                                                jnp.asarray(state["inverse_mass_matrix"]), keys)
        state["position"] = np.asarray(pos)
        return positions, stats

    _draw_blocks(s, state, save, run_block, NUTS_STATS, progress, n_chains=len(ids))


# --- NUTS chains in worker processes ---------------------------------------------------------------

def _nuts_group(problem_key: str, source, log_density, s: SamplerSettings, ids: np.ndarray, z0: np.ndarray,
                checkpoint: str | None, resume: bool, meta: dict) -> dict:
    """A worker's task: the chains ``ids`` of a NUTS run, with their own checkpoint."""
    problem = problem_in_worker(problem_key, source)
    space = BoundedSpace(problem.lower, problem.upper)
    logdensity_z = _z_target(space, _safe(log_density or problem.differentiable_log_posterior()))
    path = Path(checkpoint) if checkpoint is not None else None
    group_meta = {**meta, "group_chains": [int(c) for c in ids]}
    state = _load_checked(path, group_meta) if resume and path is not None and path.is_file() else {}

    def save() -> None:
        if path is not None:
            _save_checkpoint(path, state, group_meta)

    warm_key, sample_key, _ = _keys(s)
    _nuts_chains(logdensity_z, jnp.asarray(z0), ids, s, state, save, warm_key, sample_key, progress=False)
    return state


def _chain_groups(chains: int, workers: int) -> list[np.ndarray]:
    return np.array_split(np.arange(chains), min(workers, chains))


def _group_progress(path: Path, s: SamplerSettings) -> int:
    """Blocks (warm-up and draws) a group's checkpoint records as done."""
    try:
        with np.load(path) as data:
            if "blocks_done" in data.files:
                return -(-s.warmup // s.block) + int(data["blocks_done"])
            return -(-int(data["warmup_done"]) // s.block) if "warmup_done" in data.files else 0
    except (OSError, ValueError, KeyError, EOFError):  # not written yet, or being replaced
        return 0


def _nuts_in_groups(problem, log_density, z0, s: SamplerSettings, meta: dict, path: Path | None, resume: bool,
                    workers: int, executor, state: dict, save: Callable, progress: bool) -> None:
    """The chains of a NUTS run split into ``workers`` groups that run at once (one task
    each, :class:`Executor`); the merged sampler state and draws go into ``state``, are
    saved, and only then are the groups' checkpoints removed. Without a checkpoint file,
    the groups of local processes checkpoint into a temporary folder, for the progress bar."""
    groups = _chain_groups(s.chains, workers)
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(Executor(executor, workers=len(groups)))
        if path is None and pool.kind != "dask":
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="celltwin-nuts-"))) / "run.npz"
        paths = [None if path is None else _group_checkpoint(path, ids) for ids in groups]
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
        state.update({k: (np.concatenate([results[g][k] for g in range(len(groups))], axis=0) if np.ndim(v) else v)
                      for k, v in results[0].items()})
        save()
        for p in paths:
            if p is not None:
                p.unlink(missing_ok=True)


def _run_smc(problem, space: BoundedSpace, target: Callable, s: SamplerSettings, state: dict, save: Callable,
             meta: dict, init_key, sample_key, *, predictive: bool, progress: bool):
    """Adaptive tempered SMC (``_smc``): ``s.chains`` independent runs of ``s.draws`` particles,
    one checkpoint per stage; the draws are the final, equally weighted particles."""
    def log_prior_z(z):
        return problem.log_prior(space.theta(z)) + space.log_jacobian(z)

    def log_likelihood_z(z):
        theta = space.theta(z)
        prior = problem.log_prior(theta)
        return jnp.where(jnp.isfinite(prior), target(theta) - prior, -jnp.inf)

    if not state:
        z0, log_fraction = _simulable_prior_draws(problem, space, log_likelihood_z, s.chains * s.draws, init_key)
        state.update(_smc.initial_state(z0.reshape(s.chains, s.draws, -1)), stages_done=np.array(0),
                     finished=np.array(False), restricted=np.array(log_fraction < 0))
        state["log_evidence"] = state["log_evidence"] + log_fraction
        save()
    prior_z = log_prior_z
    if bool(state.get("restricted", False)):
        # Where some of the prior cannot be simulated, the tempered targets use the prior
        # restricted to where it can: at temperature 0 the moves would otherwise carry
        # particles into the failing region, whose weights then drop to 0 at the next
        # temperature and bias the evidence (one more simulation per move).
        def prior_z(z):
            return jnp.where(jnp.isfinite(log_likelihood_z(z)), log_prior_z(z), -jnp.inf)

    stage = _smc.stage_fn(prior_z, log_likelihood_z, problem.n_parameters, s.mcmc_steps, s.target_ess)
    label = f"SMC: {s.chains} runs x {s.draws} particles, temperature x 1000"
    shown = int(1000 * float(np.min(state["lam"])))
    with progress_bar(label, 1000, completed=shown, enabled=progress) as advance:
        while not bool(state["finished"]):
            done = int(state["stages_done"])
            if done >= MAX_SMC_STAGES:
                raise CelltwinInputError(f"SMC did not reach the posterior in {MAX_SMC_STAGES} stages (temperatures "
                                         f"{np.round(state['lam'], 4).tolist()}); the likelihood may be -inf "
                                         "almost everywhere in the prior")
            last = bool(np.all(state["lam"] >= 1.0 - 1e-12))  # one more stage: resample and move at the posterior
            keys = jax.random.split(jax.random.fold_in(sample_key, done), s.chains)
            out = stage(*(jnp.asarray(state[k]) for k in _smc.STATE_KEYS), keys)
            state.update({k: np.asarray(v) for k, v in zip(_smc.STATE_KEYS, out)})
            state["stages_done"], state["finished"] = np.array(done + 1), np.array(last)
            save()
            now = int(1000 * float(np.min(state["lam"])))
            advance(now - shown, note=f"stage {done + 1}")
            shown = now

    particles = jnp.asarray(state["particles"])
    theta_draws = np.asarray(space.theta(particles))
    lp = np.asarray(jax.jit(jax.vmap(jax.vmap(lambda z: target(space.theta(z)))))(particles))
    attrs = {"log_evidence": json.dumps(np.round(state["log_evidence"], 6).tolist()),
             "smc_stages": int(state["stages_done"])}
    return _inference_data(problem, theta_draws, {"lp": lp}, {**meta, **attrs}, predictive=predictive, seed=s.seed)


def _simulable_prior_draws(problem, space, log_likelihood_z, n: int, key, max_rounds: int = 50):
    """``n`` prior draws (in ``z``) where the model can be simulated, and the log of the
    simulable fraction of the prior.

    Tempering cannot start from particles whose likelihood is 0 (a failed simulation): any
    temperature above 0 removes them all at once, and the adaptive choice of the next
    temperature stalls. The prior restricted to the simulable region is the same posterior
    (the likelihood is 0 elsewhere), and its evidence is the full one divided by the
    simulable fraction, which is added back to the log evidence."""
    finite = jax.jit(jax.vmap(lambda z: jnp.isfinite(log_likelihood_z(z))))
    kept, tried = [], 0
    for round_ in range(max_rounds):
        try:
            draws = problem.sample_prior(jax.random.fold_in(key, round_), n)
        except ValueError as exc:
            raise CelltwinInputError(f"SMC starts from prior draws: {exc}") from None
        z = np.asarray(space.z(draws))
        ok = np.asarray(finite(jnp.asarray(z)))
        tried += n
        kept.append(z[ok])
        if sum(len(k) for k in kept) >= n:
            z_all = np.concatenate(kept)
            fraction = len(z_all) / tried
            return z_all[:n], float(np.log(fraction))
    raise CelltwinInputError(f"SMC: only {sum(len(k) for k in kept)} of {tried} prior draws could be simulated; "
                             "narrow the bounds or priors to where the model can be solved")


def _inference_data(problem, draws: np.ndarray, stats: dict, meta: dict, *, predictive: bool, seed: int):
    import arviz as az

    ids = list(problem.parameter_ids)
    chains, n_draws, _ = draws.shape
    posterior = {pid: draws[:, :, k] for k, pid in enumerate(ids)}
    sample_stats = dict(stats)
    if "diverging" in sample_stats:
        sample_stats["diverging"] = sample_stats["diverging"].astype(bool)
    groups = {"posterior": posterior, "sample_stats": sample_stats}
    coords = {"measurement": np.arange(problem.n_measurements)}
    dims = {"y": ["measurement"]}
    if predictive:
        flat = jnp.asarray(draws.reshape(-1, draws.shape[-1]))
        both = jax.jit(jax.vmap(problem.pointwise_and_replicate))  # one simulation per draw
        keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 2**20), flat.shape[0])
        ll, pp = [], []
        for lo in range(0, flat.shape[0], 256):
            dens, rep = both(flat[lo:lo + 256], keys[lo:lo + 256])
            ll.append(np.asarray(dens))
            pp.append(np.asarray(rep))
        groups["log_likelihood"] = {"y": np.concatenate(ll).reshape(chains, n_draws, -1)}
        groups["posterior_predictive"] = {"y": np.concatenate(pp).reshape(chains, n_draws, -1)}
    groups["observed_data"] = {"y": problem.measurements}
    idata = az.from_dict(**groups, coords=coords, dims=dims)
    df = problem.measurement_df
    if df is not None:  # which observable, condition and time each measurement is
        labels = {"observable": ("measurement", df["observableId"].astype(str).to_numpy()),
                  "condition": ("measurement", df["simulationConditionId"].astype(str).to_numpy()),
                  "time": ("measurement", df["time"].to_numpy(dtype=float))}
        for group in ("observed_data", "log_likelihood", "posterior_predictive"):
            if group in idata.groups():
                setattr(idata, group, getattr(idata, group).assign_coords(labels))
    netcdf_safe = {k: (json.dumps(v) if isinstance(v, list) else int(v) if isinstance(v, bool) else v)
                   for k, v in meta.items() if v is not None}  # NetCDF attributes have no lists, booleans or None
    attrs = {**netcdf_safe,
             "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
             "parameter_scales": json.dumps(list(problem.parameter_scales)),
             "priors": json.dumps(prior_specs(problem)), "inference_library": "celltwin"}
    for group in idata.groups():
        getattr(idata, group).attrs.update(attrs)
    return idata


def prior_specs(problem) -> dict:
    """Per estimated parameter: its objective prior (``kind`` ``flat`` where none), scale
    and bounds (on the parameter scale), so that a result file can show the prior."""
    specs = {}
    for k, pid in enumerate(problem.parameter_ids):
        prior = problem.parameters.priors.get(pid)
        specs[pid] = {"kind": "flat" if prior is None else prior.kind,
                      "a": None if prior is None else float(prior.a), "b": None if prior is None else float(prior.b),
                      "scale": problem.parameter_scales[k], "lower": float(problem.lower[k]),
                      "upper": float(problem.upper[k])}
    return specs
