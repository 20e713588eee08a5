"""Independence Metropolis-Hastings moves after NUTS draws (``imh_proposals``).

References: scipy's multivariate and univariate t distributions for the proposal, closed-form
Gaussian moments for the kernel's invariant distribution.
"""

from __future__ import annotations

import math

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from celltwin.errors import CelltwinInputError
from celltwin.inference import NUTSSettings, SamplerSettings, nuts_draws, sample
from celltwin.inference._checkpoint import load_checked, save_checkpoint
from celltwin.inference._independence import DEGREES_OF_FREEDOM, WIDE, independence_proposal as proposal, moves
from celltwin.inference._warmup import Warmup

MEAN = np.array([0.5, -1.0, 2.0])
COV = np.array([[1.0, 0.6, 0.2], [0.6, 2.0, -0.3], [0.2, -0.3, 0.5]])


def _gaussian_log_density(mean=MEAN, cov=COV):
    prec = jnp.asarray(np.linalg.inv(cov))

    def logdensity(x):
        r = x - mean
        return -0.5 * r @ prec @ r

    return logdensity


def test_proposal_log_density_is_the_mixture_of_two_t_distributions():
    """``log_density`` differs from log(0.5 t(x; m, S) + 0.5 t(x; m, WIDE^2 S)) (scipy) by
    one constant: the constant cancels in the acceptance ratio, nothing else may."""
    q = proposal(jnp.asarray(MEAN), jnp.asarray(COV))
    x = np.random.default_rng(0).normal(size=(50, 3)) * 3 + MEAN
    narrow = stats.multivariate_t(MEAN, COV, df=DEGREES_OF_FREEDOM)
    wide = stats.multivariate_t(MEAN, COV * WIDE**2, df=DEGREES_OF_FREEDOM)
    reference = np.logaddexp(np.log(0.5) + narrow.logpdf(x), np.log(0.5) + wide.logpdf(x))
    ours = np.asarray(q.log_prob(jnp.asarray(x)))
    np.testing.assert_allclose(ours - reference, (ours - reference)[0], atol=1e-10)


def test_diagonal_mass_matrix_gives_the_same_proposal_as_its_dense_matrix():
    variances = np.array([0.5, 2.0, 3.0])
    diagonal, dense = proposal(jnp.asarray(MEAN), jnp.asarray(variances)), proposal(jnp.asarray(MEAN),
                                                                                    jnp.diag(variances))
    np.testing.assert_allclose(diagonal.component_distribution.scale_tril, dense.component_distribution.scale_tril)


def test_proposal_draws_follow_the_mixture():
    """Each coordinate of a multivariate t is a univariate t with the coordinate's scale:
    the draws' marginals pass a Kolmogorov-Smirnov test against the mixture of the two."""
    q = proposal(jnp.asarray(MEAN), jnp.asarray(COV))
    x = np.asarray(q.sample(jax.random.PRNGKey(3), (20_000,)))
    for k in range(3):
        s = math.sqrt(COV[k, k])

        def cdf(v, k=k, s=s):
            return 0.5 * stats.t.cdf(v, DEGREES_OF_FREEDOM, MEAN[k], s) + \
                0.5 * stats.t.cdf(v, DEGREES_OF_FREEDOM, MEAN[k], WIDE * s)

        assert stats.kstest(x[:, k], cdf).pvalue > 1e-3, k


def _imh_chain(logdensity, q, x0, n, key):
    """``n`` single independence steps from ``x0``: the chain's positions and accept count."""
    def step(carry, k):
        x, lp, accepted = carry
        x, lp, a = moves(logdensity, q, x, lp, k, 1)
        return (x, lp, accepted + a), x

    (_, _, accepted), xs = jax.lax.scan(step, (x0, logdensity(x0), 0), jax.random.split(key, n))
    return np.asarray(xs), int(accepted)


@pytest.mark.parametrize("shift, scale", [(0.0, 1.0), (0.8, 0.6), (-0.5, 1.8)])
def test_independence_moves_leave_the_target_invariant(shift, scale):
    """A chain of independence moves alone, from a proposal off the target (shifted and too
    narrow or too wide), recovers the target's mean and covariance: means within 4 Monte
    Carlo errors (ESS from arviz), covariance within 10 % of sqrt(var_i var_j). Without the
    proposal's density in the acceptance ratio the draws would follow target x proposal."""
    logdensity = _gaussian_log_density()
    q = proposal(jnp.asarray(MEAN + shift), jnp.asarray(COV * scale**2))
    xs, accepted = _imh_chain(logdensity, q, jnp.asarray(MEAN), 40_000, jax.random.PRNGKey(11))
    assert accepted > 4000
    sd = np.sqrt(np.diag(COV))
    for k in range(3):
        ess = float(az.ess(xs[None, :, k]))
        assert abs(xs[:, k].mean() - MEAN[k]) < 4 * sd[k] / math.sqrt(ess), (k, xs[:, k].mean(), ess)
    np.testing.assert_array_less(np.abs(np.cov(xs.T) - COV) / np.outer(sd, sd), 0.10)


def test_a_proposal_where_the_target_is_undefined_is_rejected():
    """Where the log density is -inf (a failed simulation) no proposal is taken."""
    def logdensity(x):
        return jnp.where(x[0] > MEAN[0], -jnp.inf, _gaussian_log_density()(x))

    q = proposal(jnp.asarray(MEAN), jnp.asarray(COV))
    xs, accepted = _imh_chain(logdensity, q, jnp.asarray(MEAN - 0.5), 2000, jax.random.PRNGKey(2))
    assert accepted > 100
    assert (xs[:, 0] <= MEAN[0]).all()


@pytest.mark.parametrize("pooled", [False, True])
def test_warmup_records_the_mean_of_its_last_slow_window(pooled):
    """The proposal's centre: the warm-up's last slow window's mean position, near the
    target's mean (4 chains x the window's ~200 draws; tolerance 0.25 sd, about 4 Monte
    Carlo errors); and the starting points where no slow window ended."""
    logdensity = _gaussian_log_density()
    z0 = jnp.asarray(MEAN + np.random.default_rng(1).normal(size=(4, 3)))
    warm = Warmup(logdensity, dense_mass=True, pooled=pooled)
    *_, mean = warm.run(z0, jax.random.PRNGKey(4), 500)
    mean = np.asarray(mean)
    np.testing.assert_array_less(np.abs(mean - MEAN) / np.sqrt(np.diag(COV)), 0.25)
    if pooled:
        np.testing.assert_array_equal(mean, np.broadcast_to(mean[0], mean.shape))
    *_, unmoved = warm.run(z0, jax.random.PRNGKey(4), 10)  # too short for a slow window
    np.testing.assert_array_equal(np.asarray(unmoved), np.asarray(z0))


def test_proposals_start_after_stans_first_slow_window():
    """Stan's schedule (75 fast steps, then slow windows of 25, 50, 100, ...): the warm-up's
    proposals follow every step after the first slow window, which ends at step 100; a warm-up
    too short for a slow window has none."""
    from celltwin.inference._warmup import proposal_steps

    for n in (300, 500, 1000):
        steps = proposal_steps(n)
        assert not steps[:100].any() and steps[100:].all()
    assert not proposal_steps(10).any()


@pytest.mark.parametrize("pooled", [False, True])
def test_warmup_proposals_start_after_the_first_slow_window(pooled):
    """With ``imh_proposals`` the warm-up is the same step for step until the first slow
    window ends (the proposals need its mean and covariance) and differs after it; each later
    window's mean and covariance then come from chains that the proposals moved."""
    n, start = 300, 100
    logdensity = _gaussian_log_density()
    z0 = jnp.asarray(MEAN + np.random.default_rng(3).normal(size=(4, 3)))
    keys = jax.random.split(jax.random.PRNGKey(6), 4)
    runs = {}
    for m in (0, 16):
        warm = Warmup(logdensity, dense_mass=True, pooled=pooled, imh_proposals=m)
        before, _ = warm.steps(warm.init(z0), keys, 0, start, n)
        after, _ = warm.steps(before, keys, start, n - start, n)
        runs[m] = (before, after)
    for a, b in zip(jax.tree.leaves(runs[0][0]), jax.tree.leaves(runs[16][0])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for field in ("chain", "window_mean", "mass_state"):
        a, b = (np.concatenate([np.ravel(x) for x in jax.tree.leaves(getattr(runs[m][1], field))]) for m in (0, 16))
        assert not np.allclose(a, b)
    # the adapted covariance still estimates the target's (4 chains x ~150 draws of the last window)
    sd = np.sqrt(np.diag(COV))
    cov = np.asarray(runs[16][1].mass_state.inverse_mass_matrix)[0]
    np.testing.assert_array_less(np.abs(cov - COV) / np.outer(sd, sd), 0.35)


def test_nuts_with_independence_proposals_recovers_a_correlated_gaussian():
    """NUTS (trees of at most one doubling, so that it moves slowly) followed by 8
    independence proposals per draw: the proposals are accepted, counted per draw, and the
    draws recover the target's moments."""
    logdensity = _gaussian_log_density()
    settings = NUTSSettings(chains=4, draws=1500, warmup=300, max_tree_depth=1, dense_mass=True, pooled_mass=True,
                            imh_proposals=8)
    z0 = jnp.asarray(MEAN + 0.1 * np.random.default_rng(2).normal(size=(4, 3)))
    draws, st = nuts_draws(logdensity, z0, settings, jax.random.PRNGKey(5))
    draws, accepted = np.asarray(draws), np.asarray(st["imh_accepted"])
    assert accepted.shape == (4, 1500) and 1.0 < accepted.mean() < 8.0
    sd = np.sqrt(np.diag(COV))
    ess = np.asarray(az.ess(az.convert_to_dataset(draws))["x"])
    assert ess.min() > 2000  # the proposals, not the one-doubling trees, make the draws nearly independent
    np.testing.assert_array_less(np.abs(draws.reshape(-1, 3).mean(0) - MEAN), 4 * sd / np.sqrt(ess))
    np.testing.assert_array_less(np.abs(np.cov(draws.reshape(-1, 3).T) - COV) / np.outer(sd, sd), 0.10)


def test_without_proposals_the_statistics_are_nuts_only():
    _, st = nuts_draws(_gaussian_log_density(), jnp.asarray(np.tile(MEAN, (2, 1))),
                       NUTSSettings(chains=2, draws=5, warmup=5, max_tree_depth=2), jax.random.PRNGKey(0))
    assert "imh_accepted" not in st


def test_sample_records_the_accepted_proposals_and_resumes_them(tmp_path):
    """Through ``sample`` (checkpointed blocks): the statistic is in the result, and the run
    recovers the closed-form posterior of the linear-Gaussian problem."""
    from test_inference_sample import assert_matches_gaussian, linear_gaussian

    problem, beta, cov = linear_gaussian(0)
    settings = SamplerSettings(method="nuts", chains=4, draws=400, warmup=300, seed=0, block=200,
                               imh_proposals=4)
    idata = sample(problem, settings, init=beta, predictive=False, progress=False,
                   checkpoint=tmp_path / "run.checkpoint.npz")
    assert float(idata.sample_stats["imh_accepted"].mean()) > 0.5
    assert_matches_gaussian(idata, beta, cov)


def test_imh_proposals_settings_are_checked():
    with pytest.raises(CelltwinInputError, match="imh_proposals must be >= 0"):
        SamplerSettings(imh_proposals=-1)
    with pytest.raises(CelltwinInputError, match="imh_proposals follow NUTS draws"):
        SamplerSettings(method="ensemble", chains=8, imh_proposals=4)
    assert SamplerSettings(imh_proposals=3).algorithm.imh_proposals == 3
    assert SamplerSettings.of(NUTSSettings(imh_proposals=3)).imh_proposals == 3


def test_checkpoints_from_before_the_setting_still_resume(tmp_path):
    """A checkpoint whose settings have no ``imh_proposals`` was written by a run without
    them: it resumes a run without them and refuses a run with them."""
    path = tmp_path / "old.checkpoint.npz"
    old_meta = {"problem": "p", "draws": 10}
    save_checkpoint(path, {"x": np.zeros(2)}, old_meta)
    assert "x" in load_checked(path, {**old_meta, "imh_proposals": 0})
    with pytest.raises(CelltwinInputError, match="imh_proposals"):
        load_checked(path, {**old_meta, "imh_proposals": 8})


def test_a_warmup_checkpoint_from_before_the_window_mean_resumes():
    """A warm-up checkpoint written before ``window_mean`` existed (its last leaf) loads with
    the template's value there, and every other leaf as written."""
    from celltwin.inference._warmup import from_arrays, to_arrays

    warm = Warmup(_gaussian_log_density(), dense_mass=True, pooled=True)
    z0 = jnp.asarray(np.tile(MEAN, (2, 1)))
    template = warm.init(z0)
    state, _ = warm.steps(template, jax.random.split(jax.random.PRNGKey(0), 2), 0, 5, 50)
    arrays = to_arrays(state)
    last = max(arrays, key=lambda k: int(k.rsplit("_", 1)[1]))
    np.testing.assert_array_equal(arrays[last], np.asarray(state.window_mean))
    del arrays[last]
    loaded = from_arrays(template, arrays)
    np.testing.assert_array_equal(np.asarray(loaded.window_mean), np.asarray(z0))
    np.testing.assert_array_equal(np.asarray(loaded.chain.position), np.asarray(state.chain.position))
