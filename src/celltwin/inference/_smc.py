"""Adaptive tempered sequential Monte Carlo (blackjax) for multimodal posteriors.

Particles start as prior draws and move through the tempered targets
``prior x likelihood^lambda``; each stage picks the next ``lambda`` so that the effective
sample size of the reweighted particles is ``target_ess`` of their number (blackjax's
adaptive tempering), resamples, and moves every particle with ``mcmc_steps`` random-walk
Metropolis steps whose Gaussian proposal has the particles' weighted covariance (scaled
by 2.38 / sqrt(d) and tuned towards 23 % acceptance). Several independent SMC runs
("chains") run vectorised; after the last one reaches ``lambda = 1`` one more stage
resamples and moves all particles at the posterior, so the draws carry equal weights.
The sum of the log-likelihood increments estimates the log marginal likelihood.

The state is :class:`SMCState`; a stage is a pure function of it and the keys
``split(fold_in(sample_key, stage), runs)``, so the driver checkpoints it after each stage
and a resumed run gives the same draws.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from ._driver import AbstractKernel, Block, Phase
from ._settings import SMCSettings

# A failed simulation gives log-likelihood -inf; tempering multiplies it by lambda = 0 at
# the start (0 x -inf = nan), so it is replaced by this (weight 0 for any lambda > 0).
FAILED_LOG_LIKELIHOOD = -1e300
TARGET_ACCEPTANCE = 0.234
MAX_STAGES = 1000


class SMCState(NamedTuple):
    """Every run's particles ``(runs, N, d)``, weights ``(runs, N)``, temperature ``lam``,
    log evidence so far and proposal scale (each ``(runs,)``): numpy arrays from :func:`init`
    and in checkpoints, jax arrays after a step."""

    particles: jax.Array | np.ndarray
    weights: jax.Array | np.ndarray
    lam: jax.Array | np.ndarray
    log_evidence: jax.Array | np.ndarray
    proposal_scale: jax.Array | np.ndarray


def init(prior_draws_z: np.ndarray) -> SMCState:
    """Equally weighted prior particles, ``lambda = 0``, for ``(runs, particles, d)`` draws."""
    runs, n, _ = prior_draws_z.shape
    return SMCState(np.asarray(prior_draws_z), np.full((runs, n), 1.0 / n), np.zeros(runs), np.zeros(runs),
                    np.ones(runs))


def _random_walk_step():
    from blackjax.mcmc.random_walk import build_additive_step

    additive = build_additive_step()

    def step(rng_key, state, logdensity_fn, chol):
        return additive(rng_key, state, logdensity_fn, lambda k, x: chol @ jax.random.normal(k, x.shape))

    return step


def build_kernel(log_prior_z: Callable, log_likelihood_z: Callable, n_dim: int, mcmc_steps: int,
                 target_ess: float) -> Callable:
    """A jitted ``(state, keys) -> state``: one tempering stage of every run."""
    from blackjax.mcmc.random_walk import init as rw_init
    from blackjax.smc import adaptive_tempered
    from blackjax.smc.resampling import systematic
    from blackjax.smc.tempered import TemperedSMCState

    def safe_log_likelihood(z):
        v = log_likelihood_z(z)
        return jnp.where(jnp.isfinite(v), v, FAILED_LOG_LIKELIHOOD)

    kernel = adaptive_tempered.build_kernel(log_prior_z, safe_log_likelihood, _random_walk_step(), rw_init,
                                            systematic, target_ess)

    def one_run(state: SMCState, key) -> SMCState:
        particles, weights = state.particles, state.weights
        centred = particles - weights @ particles
        cov = (weights[:, None] * centred).T @ centred + 1e-10 * jnp.eye(n_dim)
        chol = jnp.linalg.cholesky(cov) * state.proposal_scale * 2.38 / jnp.sqrt(n_dim)
        tempered, info = kernel(key, TemperedSMCState(particles, weights, state.lam), mcmc_steps, {"chol": chol[None]})
        accepted = jnp.mean(info.update_info.is_accepted)
        new_scale = jnp.clip(state.proposal_scale * jnp.exp(accepted - TARGET_ACCEPTANCE), 0.01, 10.0)
        return SMCState(tempered.particles, tempered.weights, tempered.tempering_param,
                        state.log_evidence + info.log_likelihood_increment, new_scale)

    return jax.jit(jax.vmap(one_run))


class SMCKernel(AbstractKernel):
    """``runs`` independent SMC runs of ``particles`` particles: prior draws where the model
    can be simulated, then tempering stages to the posterior, one checkpoint each."""

    method = "smc"

    def __init__(self, problem, space, target: Callable, settings: SMCSettings, init_key, sample_key):
        self.problem, self.space, self.target, self.settings = problem, space, target, settings
        self.init_key, self.sample_key = init_key, sample_key

    def log_prior_z(self, z):
        return self.problem.log_prior(self.space.theta(z)) + self.space.log_jacobian(z)

    def log_likelihood_z(self, z):
        theta = self.space.theta(z)
        prior = self.problem.log_prior(theta)
        return jnp.where(jnp.isfinite(prior), self.target(theta) - prior, -jnp.inf)

    def phases(self, record: dict) -> Iterator[Phase]:
        if not record:
            yield Phase(None, 0, "", 0, self._prior_draws(record))
        yield self._tempering(record)

    def _prior_draws(self, record: dict) -> Iterator[Block]:
        s = self.settings
        z0, log_fraction = simulable_prior_draws(self.problem, self.space, self.log_likelihood_z,
                                                 s.runs * s.particles, self.init_key)
        record.update(init(z0.reshape(s.runs, s.particles, -1))._asdict(), stages_done=np.array(0),
                      finished=np.array(False), restricted=np.array(log_fraction < 0))
        record["log_evidence"] = record["log_evidence"] + log_fraction
        yield Block(0)

    def _tempering(self, record: dict) -> Phase:
        s = self.settings
        prior_z = self.log_prior_z
        if bool(record.get("restricted", False)):
            # Where some of the prior cannot be simulated, the tempered targets use the prior
            # restricted to where it can: at temperature 0 the moves would otherwise carry
            # particles into the failing region, whose weights then drop to 0 at the next
            # temperature and bias the evidence (one more simulation per move).
            def prior_z(z):
                return jnp.where(jnp.isfinite(self.log_likelihood_z(z)), self.log_prior_z(z), -jnp.inf)

        stage = build_kernel(prior_z, self.log_likelihood_z, self.problem.n_parameters, s.mcmc_steps, s.target_ess)
        start = int(1000 * float(np.min(record["lam"])))

        def blocks() -> Iterator[Block]:
            shown = start
            while not bool(record["finished"]):
                done = int(record["stages_done"])
                if done >= MAX_STAGES:
                    raise CelltwinInputError(f"SMC did not reach the posterior in {MAX_STAGES} stages (temperatures "
                                             f"{np.round(record['lam'], 4).tolist()}); the likelihood may be -inf "
                                             "almost everywhere in the prior")
                last = bool(np.all(record["lam"] >= 1.0 - 1e-12))  # one more stage: resample and move at the posterior
                keys = jax.random.split(jax.random.fold_in(self.sample_key, done), s.runs)
                out = stage(SMCState(*(jnp.asarray(record[k]) for k in SMCState._fields)), keys)
                record.update({k: np.asarray(v) for k, v in out._asdict().items()})
                record["stages_done"], record["finished"] = np.array(done + 1), np.array(last)
                now = int(1000 * float(np.min(record["lam"])))
                yield Block(now - shown, note=f"stage {done + 1}")
                shown = now

        return Phase(f"SMC: {s.runs} runs x {s.particles} particles, temperature x 1000", 1000, "", start, blocks())

    def result(self, record: dict) -> tuple[np.ndarray, dict, dict]:
        """The final, equally weighted particles, their log density and each run's log evidence."""
        particles = jnp.asarray(record["particles"])
        lp = np.asarray(jax.jit(jax.vmap(jax.vmap(lambda z: self.target(self.space.theta(z)))))(particles))
        attrs = {"log_evidence": json.dumps(np.round(record["log_evidence"], 6).tolist()),
                 "smc_stages": int(record["stages_done"])}
        return record["particles"], {"lp": lp}, attrs


def simulable_prior_draws(problem, space, log_likelihood_z, n: int, key, max_rounds: int = 50):
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
