"""Bayesian sparse regression with the regularised horseshoe prior, sampled by NUTS (numpyro)."""

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
        from numpyro.infer import MCMC, NUTS

        n, p = features.shape
        p0 = min(self.expected_terms, p - 0.5)
        tau0 = p0 / (p - p0) / np.sqrt(n)  # sigma ~ 1 on the normalised target
        local = 1.0 / np.maximum(penalty, 1e-3)
        mcmc = MCMC(NUTS(_model, target_accept_prob=0.9), num_warmup=self.num_warmup,
                    num_samples=self.num_samples, progress_bar=False)
        key = jax.random.PRNGKey(int(rng.integers(2**31)))
        mcmc.run(key, jnp.asarray(features), jnp.asarray(target), tau0, local, self.slab_scale, self.slab_df)
        s = mcmc.get_samples()
        inclusion = np.asarray(jnp.mean(jnp.abs(s["beta"]) > self.relevance, axis=0))
        beta = np.asarray(jnp.mean(s["beta"], axis=0))
        return SparseFit(np.where(inclusion >= self.min_probability, beta, 0.0), inclusion)
