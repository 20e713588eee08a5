"""Causal diagnostics: focus score against a hand-made ANOVA and scipy, Simpson reversals on
data with and without one (several seeds), slopes against least squares, table validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from celltwin.causal import (
    diagnose,
    eta_squared,
    focus_score,
    simpson_reversal,
    table_from_frame,
)
from celltwin.errors import CelltwinInputError

SEEDS = (0, 1, 2, 3, 4)


def simpson_data(seed: int, n_per: int = 40, within: float = 1.0, shift: float = -2.0):
    """Three strata: slope ``within`` inside each; stratum s is moved by (3 s, 3 s * shift), so
    with ``shift < 0`` the pooled slope is negative (a Simpson reversal by construction)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], n_per)
    offset = np.repeat([0.0, 3.0, 6.0], n_per)
    x = rng.normal(size=3 * n_per) + offset
    y = within * (x - offset) + shift * offset + 0.5 * rng.normal(size=3 * n_per)
    return x, y, labels


# --- focus score -------------------------------------------------------------------------
def anova_by_hand(e, labels):
    groups = [e[labels == s] for s in np.unique(labels)]
    grand = e.mean()
    ss_b = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    ss_w = sum(((g - g.mean()) ** 2).sum() for g in groups)
    return ss_b, ss_w, len(groups)


@pytest.mark.parametrize("seed", SEEDS)
def test_focus_matches_anova_by_hand_and_scipy(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 30, size=5)
    labels = np.repeat([f"s{i}" for i in range(5)], sizes)
    e = rng.normal(size=len(labels)) + np.repeat(rng.normal(size=5), sizes) + 7.0
    f = focus_score(e, labels, n_boot=50, n_perm=50, seed=seed)
    ss_b, ss_w, k = anova_by_hand(e, labels)
    n = len(e)
    assert f.eta2 == pytest.approx(ss_b / (ss_b + ss_w), rel=1e-12)
    assert f.ss_between == pytest.approx(ss_b, rel=1e-10)
    assert f.ss_within == pytest.approx(ss_w, rel=1e-10)
    F = stats.f_oneway(*[e[labels == s] for s in np.unique(labels)]).statistic
    assert f.eta2 == pytest.approx(F * (k - 1) / (F * (k - 1) + n - k), rel=1e-10)
    assert f.omega2 == pytest.approx((k - 1) * (F - 1) / ((k - 1) * (F - 1) + n), rel=1e-10)
    assert (f.n, f.k) == (n, k)


def test_eta_squared_is_batched():
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], 10)
    e = rng.normal(size=(4, 30))
    batched = eta_squared(e, codes, 3)
    for row, value in zip(e, batched):
        ss_b, ss_w, _ = anova_by_hand(row, codes)
        assert value == pytest.approx(ss_b / (ss_b + ss_w), rel=1e-12)


def test_focus_converges_to_population_value():
    # stratum effects 0, 0.5, 1 (equal sizes): between variance 1/6, noise variance 1
    truth = (1 / 6) / (1 / 6 + 1)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        labels = np.repeat(["x", "y", "z"], 3000)
        e = rng.normal(size=9000) + np.repeat([0.0, 0.5, 1.0], 3000)
        f = focus_score(e, labels, n_boot=10, n_perm=50, seed=seed)
        assert abs(f.eta2 - truth) < 0.03  # sd of eta^2 here is about 0.007
        assert abs(f.omega2 - truth) < 0.03
        assert f.p_value == pytest.approx(1 / 51)


@pytest.mark.parametrize(("k", "size", "effect_sd"), [(3, 300, None), (100, 9, 0.5)])
def test_focus_interval_coverage(k, size, effect_sd):
    # nominal 95 % intervals of the population focus (fixed stratum effects mu_s):
    # sum n_s (mu_s - mu)^2 / (that + n sigma^2). 150 data sets; measured coverage 91-93 %
    # on other seeds, so 0.85 is > 3 sd of Binomial(150, 0.92) below. Many small strata
    # (100 x 9) are where a plain percentile interval fails (0 % coverage).
    covered = 0
    for seed in range(150):
        rng = np.random.default_rng(10_000 + seed)
        mu = np.array([0.0, 0.5, 1.0]) if effect_sd is None else effect_sd * rng.normal(size=k)
        codes = np.repeat(np.arange(k), size)
        between = size * np.sum((mu - mu.mean()) ** 2)
        truth = between / (between + k * size)
        e = rng.normal(size=k * size) + mu[codes]
        lo, hi = focus_score(e, codes, n_boot=150, n_perm=1, seed=seed).interval
        covered += lo < truth < hi
    assert covered >= 0.85 * 150, covered


def test_focus_permutation_p_value_is_calibrated_under_no_effect():
    # 200 null data sets: the number with p <= 0.05 is Binomial(200, ~0.05); 4 sd bounds
    pvals = []
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        labels = np.repeat(list("abcd"), 12)
        pvals.append(focus_score(rng.normal(size=48), labels, n_boot=1, n_perm=99, seed=seed).p_value)
    hits = np.sum(np.array(pvals) <= 0.05)
    assert 10 - 4 * np.sqrt(200 * 0.05 * 0.95) <= hits <= 10 + 4 * np.sqrt(200 * 0.05 * 0.95)
    assert stats.kstest(pvals, "uniform").pvalue > 1e-3  # discrete p on a grid of 1/100


def test_focus_rejects_a_single_stratum():
    with pytest.raises(ValueError, match="at least 2 strata"):
        focus_score(np.arange(5.0), ["a"] * 5)


# --- Simpson reversal --------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_reversal_fires_on_a_constructed_simpson_paradox(seed):
    x, y, labels = simpson_data(seed)
    r = simpson_reversal(x, y, labels, n_boot=500, seed=seed)
    assert r.reversal, r.reason
    assert r.within > 0 > r.pooled
    assert all(s.slope > 0 for s in r.strata)


@pytest.mark.parametrize("seed", SEEDS)
def test_reversal_does_not_fire_without_one(seed):
    # same strata, trends aligned: pooled slope also positive
    x, y, labels = simpson_data(seed, shift=+1.0)
    r = simpson_reversal(x, y, labels, n_boot=500, seed=seed)
    assert not r.reversal and "does not flip" in r.reason
    # no trend at all (only stratum offsets)
    x, y, labels = simpson_data(seed, within=0.0, shift=-2.0)
    r = simpson_reversal(x, y, labels, n_boot=500, seed=seed)
    assert not r.reversal
    # a reversal in two strata, the opposite trend in the third: not "every stratum"
    x, y, labels = simpson_data(seed)
    c = labels == "c"
    y[c] = -2.0 * (x[c] - 6.0) - 12.0 + 0.5 * np.random.default_rng(seed).normal(size=c.sum())
    r = simpson_reversal(x, y, labels, n_boot=500, seed=seed)
    assert not r.reversal


def test_reversal_false_alarm_rate_on_pure_noise():
    fired = 0
    for seed in range(100):
        rng = np.random.default_rng(500 + seed)
        labels = np.repeat(list("abc"), 20)
        fired += simpson_reversal(rng.normal(size=60), rng.normal(size=60), labels, n_boot=200, seed=seed).reversal
    assert fired <= 2  # needs two opposite-signed significant slopes: rate well below 1 %


def test_slopes_match_least_squares():
    x, y, labels = simpson_data(7, n_per=60)
    r = simpson_reversal(x, y, labels, n_boot=2000, seed=0)
    lin = stats.linregress(x, y)
    assert r.pooled == pytest.approx(lin.slope, rel=1e-10)
    dummies = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    coef = np.linalg.lstsq(np.column_stack([x, dummies]), y, rcond=None)[0]
    assert r.within == pytest.approx(coef[0], rel=1e-10)
    for s in r.strata:
        m = labels == s.stratum
        assert s.slope == pytest.approx(stats.linregress(x[m], y[m]).slope, rel=1e-10)
    # the bootstrap interval of the pooled slope agrees with the t interval (homoscedastic
    # errors would make them equal in large samples; here within 30 % of the half-width)
    half = stats.t.ppf(0.975, len(x) - 2) * lin.stderr
    lo, hi = r.pooled_interval
    assert abs(lo - (lin.slope - half)) < 0.3 * half and abs(hi - (lin.slope + half)) < 0.3 * half


def test_small_strata_get_no_slope():
    x, y, labels = simpson_data(0)
    labels = labels.astype(object)
    labels[:3] = "tiny"
    r = simpson_reversal(x, y, labels, n_boot=100, min_size=5)
    tiny = next(s for s in r.strata if s.stratum == "tiny")
    assert tiny.n == 3 and np.isnan(tiny.slope)


# --- the predictions table ---------------------------------------------------------------
def frame(rows, columns=("compound", "target", "predicted", "measured", "unit", "family")):
    return pd.DataFrame([list(map(str, r)) for r in rows], columns=list(columns))


def test_units_are_converted_to_pkd():
    t = table_from_frame(frame([("c1", "AKT1", 10, 1000, "nM", "AGC"), ("c2", "AKT1", 7, 6.5, "pKd", "AGC"),
                                ("c3", "EGFR", -8, -9, "log10_M", "TK")]))
    np.testing.assert_allclose(t.predicted, [8.0, 7.0, 8.0], rtol=1e-12)
    np.testing.assert_allclose(t.measured, [6.0, 6.5, 9.0], rtol=1e-12)
    np.testing.assert_allclose(t.error, [2.0, 0.5, -1.0], rtol=1e-12)
    assert list(t.labels("family")) == ["AGC", "AGC", "TK"]


@pytest.mark.parametrize(("rows", "columns", "needles"), [
    ([("c1", "T", "abc", 5, "pKd", "A")], None, ["line 2", "'predicted'", "'abc'"]),
    ([("c1", "T", 5, 5, "pKd", "A"), ("c2", "T", 5, "nan", "pKd", "A")], None, ["line 3", "'measured'", "finite"]),
    ([("c1", "T", 5, 5, "parsec", "A")], None, ["line 2", "'unit'", "parsec"]),
    ([("c1", "T", -5, 5, "nM", "A")], None, ["line 2", "'predicted'", "> 0"]),
    ([("", "T", 5, 5, "pKd", "A")], None, ["line 2", "'compound'", "empty"]),
    ([("c1", "T", 5)], ("compound", "target", "predicted"), ["missing column", "'measured'"]),
])
def test_table_errors_name_line_and_column(rows, columns, needles):
    with pytest.raises(CelltwinInputError) as info:
        table_from_frame(frame(rows, columns) if columns else frame(rows), source="preds.csv")
    message = str(info.value)
    assert "preds.csv" in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_strata_column_checks():
    df = frame([("c1", "T", 5, 5, "pKd", "A"), ("c2", "T", 6, 5, "pKd", "")])
    with pytest.raises(CelltwinInputError, match="no stratum column 'chemotype'"):
        table_from_frame(df, source="p.csv", strata=("chemotype",))
    with pytest.raises(CelltwinInputError, match=r"line 3, column 'family': empty"):
        table_from_frame(df, source="p.csv", strata=("family",))
    one = table_from_frame(frame([("c1", "T", 5, 5, "pKd", "A"), ("c2", "T", 6, 5, "pKd", "A")]), source="p.csv")
    with pytest.raises(CelltwinInputError, match="single stratum"):
        diagnose(one, ["family"], n_boot=10, n_perm=10)


def test_diagnose_summaries_match_direct_computation():
    x, y, labels = simpson_data(3)
    df = pd.DataFrame({"compound": [f"c{i}" for i in range(len(x))], "target": "T", "predicted": x.astype(str),
                       "measured": y.astype(str), "family": labels})
    d = diagnose(table_from_frame(df, source="p.csv"), ["family"], n_boot=200, n_perm=200)
    col = d.columns[0]
    assert col.reversal.reversal
    for s in col.strata:
        e = (x - y)[labels == s.label]
        assert s.rmse == pytest.approx(np.sqrt(np.mean(e**2)), rel=1e-12)
        assert s.bias == pytest.approx(e.mean(), rel=1e-12)
        assert s.pearson == pytest.approx(stats.pearsonr(x[labels == s.label], y[labels == s.label])[0], rel=1e-10)
    assert d.to_dict()["columns"][0]["focus"]["k"] == 3


def test_reversal_needs_a_trend_in_every_stratum():
    # a stratum whose measured values are constant (an assay limit) has slope exactly 0:
    # within and pooled may be significant and opposite, but not "in every stratum"
    x, y, labels = simpson_data(2)
    y = y.copy()
    y[labels == "b"] = 5.0
    r = simpson_reversal(x, y, labels, n_boot=300)
    b = next(s for s in r.strata if s.stratum == "b")
    assert b.slope == 0.0
    assert not r.reversal and "no trend at all" in r.reason and "b" in r.reason
