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

The stage function is a pure function of the state arrays and a key, so the driver in
``_sample`` checkpoints the state after each stage and a resumed run gives the same draws.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

# A failed simulation gives log-likelihood -inf; tempering multiplies it by lambda = 0 at
# the start (0 x -inf = nan), so it is replaced by this (weight 0 for any lambda > 0).
FAILED_LOG_LIKELIHOOD = -1e300
TARGET_ACCEPTANCE = 0.234


def _random_walk_step():
    from blackjax.mcmc.random_walk import build_additive_step

    additive = build_additive_step()

    def step(rng_key, state, logdensity_fn, chol):
        return additive(rng_key, state, logdensity_fn, lambda k, x: chol @ jax.random.normal(k, x.shape))

    return step


def stage_fn(log_prior_z: Callable, log_likelihood_z: Callable, n_dim: int, mcmc_steps: int,
             target_ess: float) -> Callable:
    """A jitted ``(state, keys) -> state`` for one tempering stage of every chain; ``state``
    holds ``particles (C, N, d), weights (C, N), lam (C,), log_evidence (C,),
    proposal_scale (C,)``."""
    from blackjax.mcmc.random_walk import init as rw_init
    from blackjax.smc import adaptive_tempered
    from blackjax.smc.resampling import systematic
    from blackjax.smc.tempered import TemperedSMCState

    def safe_log_likelihood(z):
        v = log_likelihood_z(z)
        return jnp.where(jnp.isfinite(v), v, FAILED_LOG_LIKELIHOOD)

    kernel = adaptive_tempered.build_kernel(log_prior_z, safe_log_likelihood, _random_walk_step(), rw_init,
                                            systematic, target_ess)

    def one_chain(particles, weights, lam, log_evidence, proposal_scale, key):
        centred = particles - weights @ particles
        cov = (weights[:, None] * centred).T @ centred + 1e-10 * jnp.eye(n_dim)
        chol = jnp.linalg.cholesky(cov) * proposal_scale * 2.38 / jnp.sqrt(n_dim)
        state, info = kernel(key, TemperedSMCState(particles, weights, lam), mcmc_steps, {"chol": chol[None]})
        accepted = jnp.mean(info.update_info.is_accepted)
        new_scale = jnp.clip(proposal_scale * jnp.exp(accepted - TARGET_ACCEPTANCE), 0.01, 10.0)
        return (state.particles, state.weights, state.tempering_param,
                log_evidence + info.log_likelihood_increment, new_scale)

    return jax.jit(jax.vmap(one_chain))


def initial_state(prior_draws_z: np.ndarray) -> dict[str, np.ndarray]:
    """Equally weighted prior particles, ``lambda = 0``, for ``(chains, particles, d)`` draws."""
    chains, n, _ = prior_draws_z.shape
    return {"particles": np.asarray(prior_draws_z), "weights": np.full((chains, n), 1.0 / n),
            "lam": np.zeros(chains), "log_evidence": np.zeros(chains), "proposal_scale": np.ones(chains)}


STATE_KEYS = ("particles", "weights", "lam", "log_evidence", "proposal_scale")
