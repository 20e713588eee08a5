"""Discovery building blocks against independent references: closed forms, scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize

from celltwin.discover import differentiation as dif
from celltwin.discover import library as lib
from celltwin.discover import optimizers as opt
from celltwin.discover._knowledge import read_knowledge
from celltwin.errors import CelltwinInputError


def test_polynomial_library_counts_and_values():
    species = ["A", "B", "C"]
    terms = lib.PolynomialLibrary(degree=3).terms(species)
    assert len(terms) == math.comb(3 + 3, 3)  # monomials of degree <= 3 in 3 variables
    x = np.random.default_rng(0).uniform(0.1, 2.0, (7, 3))
    theta = lib.evaluate(terms, species, x)
    names = [t.name for t in terms]
    np.testing.assert_allclose(theta[:, names.index("A*B^2")], x[:, 0] * x[:, 1] ** 2, rtol=1e-14)
    np.testing.assert_allclose(theta[:, names.index("1")], 1.0)


def test_saturating_terms_match_closed_forms_and_combine():
    x = np.linspace(0.0, 3.0, 11)[:, None]
    hill = lib.HillLibrary(constants=(0.5,), exponents=(2.0,), repression=True)
    mm = lib.MichaelisMentenLibrary(constants=(1.5,))
    terms = (lib.MassActionLibrary(order=1) + hill + mm + lib.CustomLibrary(["S/(1.5 + S)"])).terms(["S"])
    names = [t.name for t in terms]
    assert names == ["1", "S", "hill(S, 0.5, 2)", "hill_rep(S, 0.5, 2)", "mm(S, 1.5)"]  # custom duplicate dropped
    theta = lib.evaluate(terms, ["S"], x)
    np.testing.assert_allclose(theta[:, 2], x[:, 0] ** 2 / (0.25 + x[:, 0] ** 2), rtol=1e-13)
    np.testing.assert_allclose(theta[:, 3], 0.25 / (0.25 + x[:, 0] ** 2), rtol=1e-13)
    np.testing.assert_allclose(theta[:, 4], x[:, 0] / (1.5 + x[:, 0]), rtol=1e-13)
    with pytest.raises(CelltwinInputError, match="not an observed species"):
        lib.evaluate(lib.CustomLibrary(["Q*S"]).terms(["S"]), ["S"], x)


def test_weak_form_rows_equal_quadrature():
    # x(t) = sin t, one term x: the weak target -int phi' x equals int phi cos t (scipy quad).
    t = np.linspace(0.0, 6.0, 2001)
    x = np.sin(t)[:, None]
    weak = dif.WeakForm(n_windows=3, width=801, power=4)
    a, b = weak.rows(t, x, lambda s: s)
    for k, start in enumerate(np.linspace(0, len(t) - 801, 3).round().astype(int)):
        lo, hi = t[start], t[start + 800]
        def phi(s, lo=lo, hi=hi):
            return ((s - lo) * (hi - s)) ** 4

        norm = quad(phi, lo, hi)[0]
        np.testing.assert_allclose(a[k, 0], quad(lambda s, f=phi: f(s) * np.sin(s), lo, hi)[0] / norm, atol=1e-6)
        np.testing.assert_allclose(b[k, 0], quad(lambda s, f=phi: f(s) * np.cos(s), lo, hi)[0] / norm, atol=1e-6)


@pytest.mark.parametrize("estimate", [dif.FiniteDifference(), dif.SmoothedDerivative(window=11, order=3)])
def test_pointwise_derivatives_of_a_known_curve(estimate):
    t = np.linspace(0.0, 4.0, 401)
    x = np.column_stack([np.exp(-t), np.sin(2 * t)])
    _, dx = estimate.rows(t, x, lambda s: s)
    np.testing.assert_allclose(dx, np.column_stack([-np.exp(-t), 2 * np.cos(2 * t)]), atol=2e-3)


def _sparse_problem(seed, noise=0.0, n=300):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 8)) * np.array([1, 10, 0.1, 1, 3, 1, 0.5, 2])
    truth = np.array([1.5, 0.0, 20.0, 0.0, -0.7, 0.0, 0.0, 0.0])
    target = features @ truth
    return features, target + noise * target.std() * rng.normal(size=n), truth


@pytest.mark.parametrize("optimizer", [opt.STLSQ(0.1), opt.ThresholdPath(), opt.Lasso(alpha=1e-2)])
def test_optimizers_recover_a_sparse_linear_map(optimizer):
    for seed in range(3):
        features, target, truth = _sparse_problem(seed)
        fit = optimizer.fit(features, target)
        np.testing.assert_array_equal(fit.coefficients != 0, truth != 0)
        np.testing.assert_allclose(fit.coefficients, truth, rtol=1e-4, atol=1e-9)  # ridge 1e-6


def test_elastic_net_solves_its_objective():
    # independent reference: the same objective minimised by scipy (L-BFGS-B on c = u - v, u, v >= 0)
    features, target, _ = _sparse_problem(1, noise=0.3, n=80)
    features, target = features / np.sqrt(np.mean(features**2, 0)), target / np.sqrt(np.mean(target**2))
    alpha, l1, w = 0.05, 0.7, np.linspace(0.5, 1.5, 8)
    ours = opt.elastic_net.elastic_net_path_point(features, target, alpha, l1, w)
    n = len(features)

    def objective(uv):
        c = uv[:8] - uv[8:]
        r = target - features @ c
        value = r @ r / (2 * n) + alpha * np.sum(w * (l1 * (uv[:8] + uv[8:]) + (1 - l1) * c**2 / 2))
        grad_c = -features.T @ r / n + alpha * w * (1 - l1) * c
        return value, np.concatenate([grad_c + alpha * w * l1, -grad_c + alpha * w * l1])

    ref = minimize(objective, np.zeros(16), jac=True, method="L-BFGS-B", bounds=[(0, None)] * 16,
                   options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
    np.testing.assert_allclose(ours, ref.x[:8] - ref.x[8:], atol=1e-5)


def test_bagging_inclusion_probabilities_separate_true_from_null_terms():
    for seed in range(3):
        features, target, truth = _sparse_problem(seed, noise=0.2)
        fit = opt.Ensemble(opt.STLSQ(0.1), n_models=40).fit(features, target, seed=seed)
        assert np.all(fit.inclusion[truth != 0] >= 0.9)
        assert np.all(fit.inclusion[truth == 0] <= 0.1)


def test_penalty_zero_keeps_a_small_true_term():
    features, target, _ = _sparse_problem(0)
    target = target + 0.01 * features[:, 1]  # a real but small contribution (~2 % of the target)
    assert opt.STLSQ(0.1).fit(features, target).coefficients[1] == 0.0
    penalty = np.ones(8)
    penalty[1] = 0.0  # prior knowledge: certainly present
    np.testing.assert_allclose(opt.STLSQ(0.1).fit(features, target, penalty=penalty).coefficients[1], 0.01, rtol=1e-4)


@pytest.mark.slow  # NUTS compilation: ~1 min on a shared core
@pytest.mark.parametrize("seed", [0, 1])
def test_horseshoe_posterior_inclusion(seed):
    features, target, truth = _sparse_problem(seed, noise=0.05, n=120)
    fit = opt.Horseshoe(num_warmup=300, num_samples=300, expected_terms=3).fit(features, target, seed=seed)
    assert np.all(fit.inclusion[truth != 0] > 0.95)
    assert np.all(fit.inclusion[truth == 0] < 0.2)
    np.testing.assert_allclose(fit.coefficients[truth != 0], truth[truth != 0], rtol=0.05)


def test_knowledge_from_sif_and_tsv(tmp_path):
    (tmp_path / "net.sif").write_text("A 1 B\nB -1 C\n")
    k = read_knowledge(tmp_path / "net.sif", default_confidence=0.9)
    terms = lib.MassActionLibrary().terms(["A", "B", "C"])
    pen = k.penalties(["A", "B", "C"], terms)
    names = [t.name for t in terms]
    assert pen[1, names.index("A*B")] == pytest.approx(0.6)  # A acts on B (confidence 0.9)
    assert pen[1, names.index("B")] == pytest.approx(1.0)  # B alone: neutral
    assert pen[1, names.index("C")] == pytest.approx(1.4)  # C is not listed as acting on B
    (tmp_path / "edges.tsv").write_text("source\ttarget\tconfidence\nA\tB\t1.7\n")
    with pytest.raises(CelltwinInputError, match=r"edges.tsv: line 2, column 'confidence'"):
        read_knowledge(tmp_path / "edges.tsv")


def test_reads_a_cellnopt_prior_knowledge_network():
    from conftest import require_shared

    path = require_shared("signalling-timecourses", "cellnopt", "datasets", "ToyMMB", "PKN-ToyMMB.sif")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    k = read_knowledge(path, default_confidence=0.8)
    assert set(k.edges) == {(r[0], r[2]) for r in rows}  # every edge, sign ignored
    ras = lib.Term("Ras*EGF", lib.CustomLibrary(["Ras*EGF"]).terms(["Ras", "EGF"])[0].expr)
    assert k.prior("Ras", ras) == pytest.approx(0.8)  # EGF -> Ras is listed
    assert k.prior("EGF", ras) == pytest.approx(0.1)  # Ras -> EGF is not
