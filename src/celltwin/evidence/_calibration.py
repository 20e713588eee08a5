"""Calibrated error model of an affinity predictor, from (prediction, measurement) pairs.

``measured = a + b * predicted + noise`` on log10(Kd / M), with Gaussian or Student-t noise
and posterior uncertainty in ``a``, ``b`` and the noise:

* Gaussian noise, reference prior ``p(a, b, sigma) ~ 1/sigma``: the posterior and the
  predictive distribution are closed form (a Student-t with ``n - 2`` degrees of freedom,
  centred at the least-squares line, scale ``s sqrt(1 + x (X'X)^-1 x')``).
* Student-t noise (robust to outlying complexes): flat priors on ``a``, ``b``, ``log sigma``
  and the Gamma(2, 0.1) prior on the degrees of freedom (Juarez & Steel 2010), sampled with
  NUTS (blackjax); the predictive distribution is the mixture over posterior draws.

The evidence terms use :meth:`PredictorCalibration.log_predictive` - the density of the true
log10 Kd given a prediction - inside the model's log-posterior.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp
from jax.scipy.stats import t as student_t
from scipy import stats

NOISE_MODELS = ("gaussian", "student_t")
MIXTURE_DRAWS = 400  # posterior draws kept for the Student-t predictive mixture


@dataclasses.dataclass(frozen=True)
class PredictorCalibration:
    """The fitted error model; all values are log10(Kd / M).

    Attributes:
        noise: ``gaussian`` or ``student_t``.
        n_pairs: number of (prediction, measurement) pairs it was fitted on.
        params: Gaussian: ``a, b`` (least squares), ``s`` (residual sd), ``dof`` (n - 2) and
            ``xtx_inv`` (2 x 2); Student-t: posterior draws ``a, b, sigma, nu`` (arrays).
    """

    noise: str
    n_pairs: int
    params: dict

    # --- the predictive distribution of the true value given a prediction ---------------
    def log_predictive(self, true_log10, predicted_log10):
        """log density of the true log10 Kd given the predicted one (JAX; broadcasts)."""
        p = self.params
        if self.noise == "gaussian":
            loc, scale = self._gaussian_loc_scale(predicted_log10)
            return student_t.logpdf(true_log10, p["dof"], loc, scale)
        x = jnp.asarray(predicted_log10)[..., None]
        y = jnp.asarray(true_log10)[..., None]
        dens = student_t.logpdf(y, p["nu"], p["a"] + p["b"] * x, p["sigma"])
        return logsumexp(dens, axis=-1) - math.log(p["a"].shape[0])

    def _gaussian_loc_scale(self, x):
        p = self.params
        x = jnp.asarray(x)
        c = p["xtx_inv"]
        leverage = c[0, 0] + 2 * c[0, 1] * x + c[1, 1] * x**2
        return p["a"] + p["b"] * x, p["s"] * jnp.sqrt(1.0 + leverage)

    def interval(self, predicted_log10, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Central predictive interval of the true log10 Kd at ``level``."""
        x = np.asarray(predicted_log10, dtype=float)
        q = (1 - level) / 2
        if self.noise == "gaussian":
            loc, scale = (np.asarray(v) for v in self._gaussian_loc_scale(x))
            lo, hi = stats.t.ppf([q, 1 - q], self.params["dof"])
            return loc + lo * scale, loc + hi * scale
        draws = self.predictive_draws(x, 4000, seed=0)
        return np.quantile(draws, q, axis=0), np.quantile(draws, 1 - q, axis=0)

    def median(self, predicted_log10) -> np.ndarray:
        """Predictive median of the true log10 Kd."""
        x = np.asarray(predicted_log10, dtype=float)
        if self.noise == "gaussian":  # symmetric: the centre of the Student-t
            return np.asarray(self._gaussian_loc_scale(x)[0])
        return np.median(self.predictive_draws(x, 4000, seed=0), axis=0)

    def predictive_draws(self, predicted_log10, n: int, seed: int = 0) -> np.ndarray:
        """``(n, *shape)`` draws of the true log10 Kd given the predictions."""
        rng = np.random.default_rng(seed)
        x = np.asarray(predicted_log10, dtype=float)
        p = {k: np.asarray(v) for k, v in self.params.items()}
        if self.noise == "gaussian":
            loc, scale = (np.asarray(v) for v in self._gaussian_loc_scale(x))
            return loc + scale * rng.standard_t(p["dof"], size=(n, *x.shape))
        k = rng.integers(0, p["a"].shape[0], size=n)
        shape = (n,) + (1,) * x.ndim
        noise = rng.standard_t(p["nu"][k].reshape(shape), size=(n, *x.shape))
        return (p["a"][k].reshape(shape) + p["b"][k].reshape(shape) * x + p["sigma"][k].reshape(shape) * noise)

    def to_dict(self) -> dict:
        """Plain numbers and lists (JSON); :meth:`from_dict` reads it back."""
        params = {k: (np.asarray(v).tolist() if np.ndim(v) else float(v)) for k, v in self.params.items()}
        return {"noise": self.noise, "n_pairs": self.n_pairs, "params": params}

    @classmethod
    def from_dict(cls, data: dict) -> "PredictorCalibration":
        p = data["params"]
        if data["noise"] == "gaussian":
            params = {"a": float(p["a"]), "b": float(p["b"]), "s": float(p["s"]), "dof": int(p["dof"]),
                      "xtx_inv": np.asarray(p["xtx_inv"], dtype=float)}
        else:
            params = {k: jnp.asarray(np.asarray(p[k], dtype=float)) for k in ("a", "b", "sigma", "nu")}
        return cls(data["noise"], int(data["n_pairs"]), params)

    def summary(self) -> pd.DataFrame:
        """Posterior mean and 90 % interval of ``a``, ``b`` and the noise scale."""
        p = self.params
        if self.noise == "gaussian":
            rng = np.random.default_rng(0)
            sigma = p["s"] * np.sqrt(p["dof"] / rng.chisquare(p["dof"], 20000))
            beta = np.array([p["a"], p["b"]]) + (np.linalg.cholesky(p["xtx_inv"]) @ rng.normal(size=(2, 20000))).T * sigma[:, None]
            draws = {"a": beta[:, 0], "b": beta[:, 1], "sigma": sigma}
        else:
            draws = {k: np.asarray(v) for k, v in p.items()}
        return pd.DataFrame({k: {"mean": v.mean(), "q05": np.quantile(v, 0.05), "q95": np.quantile(v, 0.95)}
                             for k, v in draws.items()}).T


def calibrate_predictor(predicted_log10, measured_log10, noise: str = "gaussian", *, seed: int = 0,
                        draws: int = 1000, slope: float | None = None) -> PredictorCalibration:
    """Fit ``measured = a + b * predicted + noise`` (both log10 Kd / M; see
    :mod:`celltwin.units` to convert Kd, pKd or dG).

    ``slope``: hold ``b`` at this value and fit only the bias ``a`` and the noise (for a
    handful of pairs whose measured values span too narrow a range to identify a slope)."""
    x = np.asarray(predicted_log10, dtype=float)
    y = np.asarray(measured_log10, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"predicted and measured must be 1-D of the same length, got {x.shape} and {y.shape}")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise ValueError(f"pairs {np.flatnonzero(bad).tolist()} are not finite")
    if len(x) < 4:
        raise ValueError(f"at least 4 pairs are needed to calibrate a predictor, got {len(x)}")
    if noise not in NOISE_MODELS:
        raise ValueError(f"noise model {noise!r}: use one of {', '.join(NOISE_MODELS)}")
    if slope is None:
        X = np.column_stack([np.ones_like(x), x])
        xtx_inv = np.linalg.inv(X.T @ X)
        beta = xtx_inv @ X.T @ y
        dof = len(x) - 2
    else:  # only the intercept is free: its (X'X)^-1 is 1/n, the slope's entries vanish
        beta = np.array([np.mean(y - slope * x), float(slope)])
        xtx_inv = np.array([[1.0 / len(x), 0.0], [0.0, 0.0]])
        dof = len(x) - 1
    s = math.sqrt(float(np.sum((y - beta[0] - beta[1] * x) ** 2)) / dof)
    if noise == "gaussian":
        return PredictorCalibration("gaussian", len(x), {"a": float(beta[0]), "b": float(beta[1]), "s": s,
                                                         "dof": dof, "xtx_inv": xtx_inv})
    return PredictorCalibration("student_t", len(x), _student_t_posterior(x, y, beta, s, seed, draws,
                                                                          fixed_slope=slope is not None))


def _student_t_posterior(x, y, beta, s, seed: int, draws: int, fixed_slope: bool = False) -> dict:
    key = jax.random.PRNGKey(seed)
    z0 = jnp.array([beta[0], 0.0 if fixed_slope else beta[1], math.log(s), math.log(10.0)])
    positions = np.asarray(_student_t_nuts(jnp.asarray(x), jnp.asarray(y), z0, key, draws, fixed_slope,
                                           float(beta[1]))).reshape(-1, 4)
    keep = positions[np.linspace(0, len(positions) - 1, MIXTURE_DRAWS).astype(int)]
    b = np.full(len(keep), beta[1]) if fixed_slope else keep[:, 1]
    return {"a": jnp.asarray(keep[:, 0]), "b": jnp.asarray(b), "sigma": jnp.asarray(np.exp(keep[:, 2])),
            "nu": jnp.asarray(1.0 + np.exp(keep[:, 3]))}


@functools.partial(jax.jit, static_argnums=(4, 5))
def _student_t_nuts(x, y, z0, key, draws: int, fixed_slope: bool = False, slope=1.0):
    """4 NUTS chains (window adaptation, 500 steps) on ``z = (a, b, log sigma, log(nu - 1))``;
    the data are arguments, so one compilation serves every fit of the same size. With
    ``fixed_slope`` the slope is ``slope`` and ``z[1]`` is an independent standard normal
    placeholder (ignored), so that both variants share the code."""
    import blackjax

    def logdensity(z):
        a, sigma, nu = z[0], jnp.exp(z[2]), 1.0 + jnp.exp(z[3])
        b = slope if fixed_slope else z[1]
        lik = jnp.sum(student_t.logpdf(y, nu, a + b * x, sigma))
        log_prior_nu = math.log(0.1**2) + jnp.log(nu) - 0.1 * nu  # Gamma(2, rate 0.1)
        placeholder = -0.5 * z[1] ** 2 if fixed_slope else 0.0
        return lik + log_prior_nu + z[3] + placeholder  # + log |d nu / d z3|; log sigma flat = 1/sigma prior

    def one(k, start):
        k1, k2 = jax.random.split(k)
        (state, params), _ = blackjax.window_adaptation(blackjax.nuts, logdensity).run(k1, start, num_steps=500)
        kernel = blackjax.nuts(logdensity, **params)

        def step(st, kk):
            st, _ = kernel.step(kk, st)
            return st, st.position

        return jax.lax.scan(step, state, jax.random.split(k2, draws))[1]

    chains = 4
    k_start, k_run = jax.random.split(key)
    starts = z0 + 0.05 * jax.random.normal(k_start, (chains, 4))
    return jax.vmap(one)(jax.random.split(k_run, chains), starts)


def cross_validate(predicted_log10, measured_log10, noise: str = "gaussian", *, folds: int = 10,
                   seed: int = 0, slope: float | None = None) -> pd.DataFrame:
    """K-fold cross-validation of the calibrated error model: per held-out pair its fold,
    prediction, measurement, calibrated median, 50 % and 90 % intervals, whether they
    cover the measurement, and the log10 errors of the raw and calibrated predictions.
    ``table[["covered_50", "covered_90"]].mean()`` are the coverages; ``folds`` equal to the
    number of pairs is leave-one-out."""
    x = np.asarray(predicted_log10, dtype=float)
    y = np.asarray(measured_log10, dtype=float)
    fold = np.random.default_rng(seed).permutation(np.arange(len(x)) % folds)
    rows = []
    for f in range(folds):
        test = fold == f
        cal = calibrate_predictor(x[~test], y[~test], noise, seed=seed + f, slope=slope)
        lo50, hi50 = cal.interval(x[test], 0.5)
        lo90, hi90 = cal.interval(x[test], 0.9)
        med = cal.median(x[test])
        for k, i in enumerate(np.flatnonzero(test)):
            rows.append({"pair": i, "fold": f, "predicted": x[i], "measured": y[i], "calibrated": med[k],
                         "lower_50": lo50[k], "upper_50": hi50[k], "lower_90": lo90[k], "upper_90": hi90[k],
                         "covered_50": bool(lo50[k] <= y[i] <= hi50[k]), "covered_90": bool(lo90[k] <= y[i] <= hi90[k]),
                         "raw_error": x[i] - y[i], "calibrated_error": med[k] - y[i]})
    return pd.DataFrame(rows).sort_values("pair").reset_index(drop=True)
