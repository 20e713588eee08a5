"""Predictor error models: unit conversions against scipy's constants, the Gaussian
calibration against its exact posterior, interval coverage across seeds, the Student-t
model's robustness, and cross-validated coverage on the PRODIGY complexes."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from conftest import require_shared
from scipy import constants, integrate, stats

from celltwin.evidence import calibrate_predictor, cross_validate, from_log10_molar, to_log10_molar


def test_units_agree_with_scipy_constants():
    R_kcal = constants.R / constants.calorie / 1000  # kcal / (mol K)
    dg, T = -12.0, 298.15
    assert to_log10_molar(dg, "kcal/mol", T) == pytest.approx(math.log10(math.exp(dg / (R_kcal * T))), rel=1e-6)
    assert to_log10_molar(dg * constants.calorie, "kJ/mol", T) == pytest.approx(to_log10_molar(dg, "kcal/mol", T), rel=1e-6)
    assert to_log10_molar(3.0, "nM") == pytest.approx(math.log10(3e-9))
    assert to_log10_molar(8.0, "pKd") == -8.0
    for unit in ("M", "uM", "nM", "pM", "kcal/mol", "kJ/mol", "pKd", "log10_M"):
        np.testing.assert_allclose(to_log10_molar(from_log10_molar(-7.3, unit), unit), -7.3)
    with pytest.raises(ValueError, match="> 0"):
        to_log10_molar([1.0, -2.0], "nM")
    with pytest.raises(ValueError, match="unknown affinity unit"):
        to_log10_molar(1.0, "molar")


def synthetic_pairs(seed: int, n: int, noise: str = "gaussian"):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-12, -5, n)
    e = rng.normal(size=n) if noise == "gaussian" else rng.standard_t(3, size=n)
    return x, 0.5 + 0.9 * x + 0.8 * e


def test_gaussian_predictive_matches_monte_carlo_over_the_exact_posterior():
    x, y = synthetic_pairs(0, 30)
    cal = calibrate_predictor(x, y)
    fit = stats.linregress(x, y)
    assert cal.params["a"] == pytest.approx(fit.intercept) and cal.params["b"] == pytest.approx(fit.slope)
    # Draw (a, b, sigma) from the exact posterior under p ~ 1/sigma, then y* | x*.
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones_like(x), x])
    dof = len(x) - 2
    sigma = cal.params["s"] * np.sqrt(dof / rng.chisquare(dof, 200_000))
    beta = np.array([cal.params["a"], cal.params["b"]]) + sigma[:, None] * (
        rng.normal(size=(200_000, 2)) @ np.linalg.cholesky(np.linalg.inv(X.T @ X)).T)
    x_new = -6.0  # outside most of the data: leverage matters
    y_new = beta[:, 0] + beta[:, 1] * x_new + sigma * rng.normal(size=sigma.size)
    lo, hi = cal.interval(x_new, 0.9)
    np.testing.assert_allclose([lo, hi], np.quantile(y_new, [0.05, 0.95]), atol=0.02)
    # the log-density is that of the same distribution (a normalised density)
    total = integrate.quad(lambda v: math.exp(float(cal.log_predictive(v, x_new))), -40, 40)[0]
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_validated_intervals_cover_at_their_level(seed):
    """n = 400 pairs: the coverage's sampling sd is ~1.5 %, so 0.85-0.95 holds at > 3 sd."""
    x, y = synthetic_pairs(seed, 400)
    cv = cross_validate(x, y, folds=10, seed=seed)
    assert 0.85 <= cv["covered_90"].mean() <= 0.95
    assert 0.43 <= cv["covered_50"].mean() <= 0.57
    assert len(cv) == 400 and sorted(cv["pair"]) == list(range(400))


def test_student_t_noise_model_is_robust_to_outliers():
    x, y = synthetic_pairs(3, 120, noise="t")
    y[:4] += 15.0  # four wildly wrong measurements
    robust = calibrate_predictor(x, y, "student_t", draws=500)
    gauss = calibrate_predictor(x, y, "gaussian")
    s = robust.summary()
    assert s.loc["b", "q05"] < 0.9 < s.loc["b", "q95"] and s.loc["a", "q05"] < 0.5 < s.loc["a", "q95"]
    assert abs(float(s.loc["b", "mean"]) - 0.9) < abs(gauss.params["b"] - 0.9) + 0.02
    # the predictive density is the mixture over posterior draws (scipy's t), normalised
    p = {k: np.asarray(v) for k, v in robust.params.items()}
    for v in (-9.0, -7.0, 0.0):
        ref = np.mean(stats.t.pdf(v, p["nu"], p["a"] + p["b"] * -8.0, p["sigma"]))
        assert math.exp(float(robust.log_predictive(jnp.asarray(v), -8.0))) == pytest.approx(ref, rel=1e-9)
    total = integrate.quad(lambda v: math.exp(float(robust.log_predictive(jnp.asarray(v), -8.0))), -np.inf, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-5)
    lo, hi = robust.interval(np.array([-8.0, -6.0]), 0.9)
    assert np.all(lo < hi)


def test_bad_pairs_are_rejected_with_their_index():
    with pytest.raises(ValueError, match=r"pairs \[1\]"):
        calibrate_predictor([1.0, np.nan, 2.0, 3.0, 4.0], [1.0, 2.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="at least 4"):
        calibrate_predictor([1.0, 2.0], [1.0, 2.0])


def test_prodigy_cross_validated_90_percent_intervals_cover_85_to_95_percent():
    df = pd.read_csv(require_shared("huber-finley", "ml_pipeline", "PRODIGY_dataset.csv"))
    x = to_log10_molar(df["DG_pred"], "kcal/mol", 298.15)
    y = to_log10_molar(df["DG"], "kcal/mol", 298.15)
    cv = cross_validate(x, y, "gaussian", folds=10, seed=0)
    assert 0.85 <= cv["covered_90"].mean() <= 0.95


def test_fixed_slope_gaussian_is_the_closed_form_location_scale_t():
    """Known slope, reference prior p(a, sigma) ~ 1/sigma: y* - x* is Student-t with n - 1 dof
    around mean(y - x), scale s sqrt(1 + 1/n)."""
    x, y = synthetic_pairs(4, 12)
    cal = calibrate_predictor(x, y, slope=1.0)
    d = y - x
    n = len(d)
    scale = d.std(ddof=1) * math.sqrt(1 + 1 / n)
    lo, hi = cal.interval(np.array([-7.0, -3.0]), 0.9)
    q = stats.t.ppf(0.95, n - 1)
    np.testing.assert_allclose(lo, np.array([-7.0, -3.0]) + d.mean() - q * scale, rtol=1e-12)
    np.testing.assert_allclose(hi, np.array([-7.0, -3.0]) + d.mean() + q * scale, rtol=1e-12)
    ref = stats.t.logpdf(-6.0, n - 1, -7.0 + d.mean(), scale)
    assert float(cal.log_predictive(-6.0, -7.0)) == pytest.approx(ref, rel=1e-10)


def test_fixed_slope_student_t_keeps_the_slope_and_finds_the_bias():
    rng = np.random.default_rng(5)
    x = rng.uniform(-11, -5, 40)
    y = x - 1.0 + 0.5 * rng.standard_t(3, size=40)
    cal = calibrate_predictor(x, y, "student_t", slope=1.0, draws=300)
    assert np.all(np.asarray(cal.params["b"]) == 1.0)
    s = cal.summary()
    assert s.loc["a", "q05"] < -1.0 < s.loc["a", "q95"] and float(s.loc["a", "q95"] - s.loc["a", "q05"]) < 0.8


@pytest.mark.parametrize("noise", ["gaussian", "student_t"])
def test_calibration_round_trips_through_json(noise):
    import json

    from celltwin.evidence import PredictorCalibration

    if noise == "gaussian":
        cal = calibrate_predictor(*synthetic_pairs(6, 30))
    else:  # posterior draws made up here: only the round trip is under test
        rng = np.random.default_rng(6)
        cal = PredictorCalibration("student_t", 30, {"a": jnp.asarray(rng.normal(0.5, 0.1, 50)),
                                                     "b": jnp.asarray(rng.normal(0.9, 0.05, 50)),
                                                     "sigma": jnp.asarray(rng.uniform(0.5, 1.0, 50)),
                                                     "nu": jnp.asarray(rng.uniform(2.0, 30.0, 50))})
    back = PredictorCalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    for v in (-9.0, -6.5):
        assert float(back.log_predictive(v, -8.0)) == pytest.approx(float(cal.log_predictive(v, -8.0)), rel=1e-12)


def test_prodigy_error_model_is_calibrated_out_of_sample():
    """PRODIGY's IC-NIS refitted without each complex (brute force, numpy) reproduces its
    published fit, and a calibration on those leave-one-out predictions covers held-out pairs
    at its level (10-fold; 81 pairs: the 90 % coverage's sampling sd is ~3.3 %)."""
    import json

    table = pd.DataFrame(json.loads(require_shared("affinity", "prodigy_benchmark.json").read_text())).T
    X = np.column_stack([table[["CC", "AC", "PP", "AP", "nis_a", "nis_c"]].to_numpy(float), np.ones(len(table))])
    dg = table["DG"].to_numpy(float)
    full = X @ np.linalg.lstsq(X, dg, rcond=None)[0]
    assert np.max(np.abs(full - table["ba_val"].to_numpy(float))) < 0.3  # published with one decimal
    loo = np.array([X[i] @ np.linalg.lstsq(np.delete(X, i, 0), np.delete(dg, i), rcond=None)[0]
                    for i in range(len(dg))])
    x, y = to_log10_molar(loo, "kcal/mol", 298.15), to_log10_molar(dg, "kcal/mol", 298.15)
    cv = cross_validate(x, y, "gaussian", folds=10, seed=0)
    assert 0.80 <= cv["covered_90"].mean() <= 0.97
    assert 0.35 <= cv["covered_50"].mean() <= 0.65
