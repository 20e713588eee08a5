"""Bayesian sparse regression with the regularised horseshoe prior: the model written in
numpyro (its priors and transforms to an unconstrained space), sampled by celltwin's NUTS
(:func:`celltwin.inference.nuts_draws`, the sampler of ``celltwin sample``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .base import AbstractSparseOptimizer, SparseFit


def _model(features, target, tau0, local_scale, slab_scale, slab_df):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    p = features.shape[1]
    tau = numpyro.sample("tau", dist.HalfCauchy(tau0))
    lam = numpyro.sample("lam", dist.HalfCauchy(jnp.asarray(local_scale)))
    c2 = numpyro.sample("c2", dist.InverseGamma(slab_df / 2, slab_df * slab_scale**2 / 2))
    lam_t = jnp.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))
    z = numpyro.sample("z", dist.Normal(jnp.zeros(p), 1.0))
    beta = numpyro.deterministic("beta", z * tau * lam_t)
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    numpyro.sample("obs", dist.Normal(features @ beta, sigma), obs=target)


@dataclasses.dataclass(frozen=True)
class Horseshoe(AbstractSparseOptimizer):
    """The regularised horseshoe (Piironen & Vehtari 2017) on normalised columns.

    The global scale's prior is set from ``expected_terms`` (the guessed number of active
    terms); each term's local scale is multiplied by ``1 / penalty`` (prior knowledge).
    A term's inclusion probability is the posterior probability that its normalised
    coefficient exceeds ``relevance`` in size (the same scale as the STLSQ threshold: 0.05
    means 5 % of the target's magnitude); the terms with inclusion >= ``min_probability`` are
    reported with their posterior-mean coefficients.
    """

    expected_terms: float = 2.0
    slab_scale: float = 2.0
    slab_df: float = 4.0
    num_warmup: int = 500
    num_samples: int = 500
    relevance: float = 0.05
    min_probability: float = 0.5

    def fit_normalized(self, features, target, penalty, rng):
        import jax
        import jax.numpy as jnp
        from jax.flatten_util import ravel_pytree
        from numpyro.infer.util import initialize_model

        from ...inference import SamplerSettings, nuts_draws

        n, p = features.shape
        p0 = min(self.expected_terms, p - 0.5)
        tau0 = p0 / (p - p0) / np.sqrt(n)  # sigma ~ 1 on the normalised target
        local = 1.0 / np.maximum(penalty, 1e-3)
        key = jax.random.PRNGKey(int(rng.integers(2**31)))
        init_key, run_key = jax.random.split(key)
        args = (jnp.asarray(features), jnp.asarray(target), tau0, local, self.slab_scale, self.slab_df)
        info, potential, constrain, _ = initialize_model(init_key, _model, model_args=args)
        z0, unravel = ravel_pytree(info.z)

        def logdensity(x):
            return -potential(unravel(x))

        settings = SamplerSettings(method="nuts", chains=1, draws=self.num_samples, warmup=self.num_warmup,
                                   target_accept=0.9)
        draws, _ = nuts_draws(logdensity, z0[None], settings, run_key)
        beta = jax.vmap(lambda x: constrain(unravel(x))["beta"])(draws.reshape(-1, z0.size))
        inclusion = np.asarray(jnp.mean(jnp.abs(beta) > self.relevance, axis=0))
        mean = np.asarray(jnp.mean(beta, axis=0))
        return SparseFit(np.where(inclusion >= self.min_probability, mean, 0.0), inclusion)
