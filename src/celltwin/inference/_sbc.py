"""Simulation-based calibration (Talts et al. 2018) of the NUTS sampler on a problem.

Each replicate draws ``theta*`` from the prior, simulates a data set from the model's noise
model at ``theta*``, samples the posterior given those data with the same NUTS code as
:func:`~celltwin.inference.sample` (window adaptation, then draws; started from other prior
draws, not at ``theta*``), thins the draws, and records the rank of ``theta*`` among them
per parameter. If the sampler (and the likelihood, priors and noise model) are right, the
ranks are uniform on ``0..L``. Replicates run one after another (or vectorised in
batches): the data enter the log-density as an argument
(:meth:`~celltwin.problem.Problem.with_measurements`), so the sampler compiles once.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from ._nuts import nuts_draws
from ._progress import progress_bar
from ._settings import SamplerSettings
from ._space import BoundedSpace, finite_or_minus_inf

if TYPE_CHECKING:
    from ..problem import Problem

N_BINS = 10


@dataclasses.dataclass
class CalibrationResult:
    """Ranks of the true parameters among ``n_draws`` thinned posterior draws.

    Attributes:
        ranks: one row per replicate, one column per parameter (values in ``0..n_draws``).
        truth: the prior draws ``theta*`` (same layout).
        n_draws: thinned posterior draws per replicate.
        tests: per parameter the chi-square statistic and p-value of the ranks in
            ``N_BINS`` equal bins, and the KS p-value of the randomised ranks
            ``(rank + U) / (n_draws + 1)`` against uniform.
        divergences: divergent transitions per replicate.
    """

    ranks: pd.DataFrame
    truth: pd.DataFrame
    n_draws: int
    tests: pd.DataFrame
    divergences: np.ndarray

    def plot(self):
        """Rank histograms (one panel per parameter) with the 99 % band of a uniform bin count."""
        import matplotlib.pyplot as plt

        cols = list(self.ranks.columns)
        fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 2.8), squeeze=False)
        n = len(self.ranks)
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / N_BINS)
        edges = np.linspace(0, self.n_draws + 1, N_BINS + 1)
        for ax, pid in zip(axes[0], cols):
            ax.axhspan(lo, hi, color="0.85", label="99 % band (uniform)")
            ax.hist(self.ranks[pid], bins=edges, color="tab:blue", edgecolor="white")
            ax.set_title(f"{pid}  (chi2 p = {self.tests.loc[pid, 'chi2_p']:.2f})", fontsize=9)
            ax.set_xlabel(f"rank of true value among {self.n_draws} draws")
        axes[0][0].set_ylabel("replicates")
        axes[0][0].legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        return fig


def rank_tests(ranks: pd.DataFrame, n_draws: int, seed: int = 0) -> pd.DataFrame:
    """Chi-square (``N_BINS`` equal-width bins of the ranks ``0..n_draws``) and KS (of the
    randomised ranks) tests of uniformity, per column."""
    rng = np.random.default_rng(seed)
    rows = {}
    for pid in ranks.columns:
        r = ranks[pid].to_numpy()
        edges = np.linspace(0, n_draws + 1, N_BINS + 1)
        counts = np.histogram(r, bins=edges)[0]
        # expected counts from the number of possible rank values (0..n_draws) in each bin
        values = np.histogram(np.arange(n_draws + 1), bins=edges)[0]
        chi2 = stats.chisquare(counts, f_exp=r.size * values / values.sum())
        u = (r + rng.uniform(size=r.size)) / (n_draws + 1)
        rows[pid] = {"chi2": chi2.statistic, "chi2_p": chi2.pvalue, "ks_p": stats.kstest(u, "uniform").pvalue}
    return pd.DataFrame.from_dict(rows, orient="index")


def calibrate(problem: Problem, replicates: int = 100, settings: SamplerSettings | None = None, *, thin: int = 4,
              batch: int = 1, seed: int = 0, progress: bool = True) -> CalibrationResult:
    """Run simulation-based calibration of NUTS on ``problem``.

    Arguments:
        problem: a :class:`~celltwin.problem.Problem` whose priors can be drawn from
            (:meth:`~celltwin.problem.Problem.prior_distributions`); its measured values are
            replaced by simulated ones (its measurement times, conditions and noise model
            are used).
        replicates: number of (prior draw, data set, posterior) replicates.
        settings: NUTS settings (``chains``, ``draws``, ``warmup``, ``target_accept``);
            ``method`` must be ``nuts``.
        thin: keep every ``thin``-th draw of each chain for the ranks (reduces the
            autocorrelation that would make the ranks non-uniform without any bias).
        batch: replicates sampled together in one vectorised call. Vectorised NUTS waits
            for the longest trajectory (and the stiffest ODE solve) of all its lanes, so
            on a CPU one replicate per call (its chains vectorised) is fastest; on a GPU
            larger batches pay.
        seed: seeds the prior draws, data and samplers.
    """
    s = settings or SamplerSettings(method="nuts", chains=4, draws=200, warmup=300)
    if s.method != "nuts":
        raise ValueError("calibrate runs NUTS (settings.method='nuts')")
    space = BoundedSpace(problem.lower, problem.upper)
    key_truth, key_data, key_init, key_run = jax.random.split(jax.random.PRNGKey(seed), 4)
    truth = problem.sample_prior(key_truth, replicates)
    data = jax.jit(jax.vmap(problem.predictive_sample))(truth, jax.random.split(key_data, replicates))
    starts = problem.sample_prior(key_init, replicates * s.chains).reshape(replicates, s.chains, -1)

    def one_replicate(y, theta0, key):
        target = finite_or_minus_inf(problem.with_measurements(y).differentiable_log_posterior())

        def logdensity_z(z):
            return target(space.theta(z)) + space.log_jacobian(z)

        positions, nuts_stats = nuts_draws(logdensity_z, space.z(theta0), s, key)
        return space.theta(positions[:, ::thin]), jnp.sum(nuts_stats["diverging"])

    run = jax.jit(jax.vmap(one_replicate))
    keys = jax.random.split(key_run, replicates)
    ranks, divergences = [], []
    with progress_bar(f"SBC: {replicates} replicates", replicates, enabled=progress) as advance:
        for lo in range(0, replicates, batch):
            idx = np.arange(lo, min(lo + batch, replicates))
            pad = np.concatenate([idx, np.full(batch - idx.size, idx[-1])])  # same shape: one compilation
            draws, div = run(data[pad], starts[pad], keys[pad])
            draws = np.asarray(draws)[: idx.size].reshape(idx.size, -1, problem.n_parameters)
            ranks.append(np.sum(draws < np.asarray(truth)[idx, None, :], axis=1))
            divergences.append(np.asarray(div)[: idx.size])
            advance(idx.size)
    ids = list(problem.parameter_ids)
    rank_df = pd.DataFrame(np.concatenate(ranks), columns=ids)
    n_draws = s.chains * len(range(0, s.draws, thin))
    return CalibrationResult(rank_df, pd.DataFrame(np.asarray(truth), columns=ids), n_draws,
                             rank_tests(rank_df, n_draws, seed), np.concatenate(divergences))
