"""The screen model's pieces against independent references (scipy, closed forms, numpy)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from celltwin.errors import CelltwinInputError
from celltwin.perturb import (
    LinearBaseline,
    Screen,
    ScreenLayout,
    additive_baseline,
    average_precision,
    context_mean_baseline,
    mean_baseline,
    nearest_context_baseline,
    negative_binomial_logpmf,
    no_change_baseline,
    parse_condition,
    screen_from_labels,
    simulate_screen,
)
from celltwin.perturb._model import steady_change


def test_negative_binomial_matches_scipy():
    y = np.arange(0, 60, dtype=float)
    for mean, r in [(0.3, 0.5), (5.0, 2.0), (40.0, 20.0)]:
        p = r / (r + mean)  # scipy: number of successes r, success probability p
        expected = scipy.stats.nbinom.logpmf(y, r, p)
        got = np.asarray(negative_binomial_logpmf(jnp.asarray(y), mean, r))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def _tiny_layout(genes, targets):
    screen = screen_from_labels(np.ones((2 + len(targets), len(genes))), ["control", "control", *targets],
                                genes=genes, kind="lognorm")
    return ScreenLayout.from_screen(screen)


def test_linear_steady_state_is_the_closed_form():
    rng = np.random.default_rng(1)
    g = 5
    w = 0.25 * rng.normal(size=(g, g))
    np.fill_diagonal(w, 0.0)
    layout = _tiny_layout([f"g{i}" for i in range(g)], ["X", "Y"])  # targets not measured: free effects
    b = rng.normal(size=(g, 2))
    params = {"x0": jnp.zeros(g), "W": jnp.asarray(w), "B": jnp.asarray(b)}
    v = np.array([1.0, 0.5])
    got = np.asarray(steady_change(params, layout, jnp.asarray(v), nonlinearity="linear", iterations=400))
    expected = np.linalg.solve(np.eye(g) - w, b @ v)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_tanh_steady_state_solves_its_equation():
    from scipy.optimize import fsolve

    rng = np.random.default_rng(2)
    g = 4
    w = 0.4 * rng.normal(size=(g, g))
    np.fill_diagonal(w, 0.0)
    layout = _tiny_layout([f"g{i}" for i in range(g)], ["g1"])  # a measured target: acts on g1 only
    b = rng.normal(size=(g, 1))
    params = {"x0": jnp.zeros(g), "W": jnp.asarray(w), "B": jnp.asarray(b)}
    got = np.asarray(steady_change(params, layout, jnp.ones(1), iterations=400))
    drive = np.zeros(g)
    drive[1] = b[1, 0]  # the mask keeps only the target gene's own entry
    expected = fsolve(lambda d: w @ np.tanh(d) - d + drive, np.zeros(g), xtol=1e-13)
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_parse_and_validate_conditions():
    assert parse_condition("SET+KLF1") == ("SET", "KLF1")
    s = screen_from_labels(np.zeros((3, 2)), ["control", "B+A", "A"], genes=["u", "v"], kind="lognorm")
    assert s.conditions.tolist() == ["control", "A+B", "A"]
    assert s.targets == ("A", "B")
    with pytest.raises(CelltwinInputError, match="no control cells"):
        screen_from_labels(np.zeros((2, 2)), ["A", "B"], genes=["u", "v"], kind="lognorm")
    with pytest.raises(CelltwinInputError, match="gene 'v' is not finite"):
        screen_from_labels(np.array([[0.0, np.nan], [1, 1]]), ["control", "A"], genes=["u", "v"], kind="lognorm")
    with pytest.raises(CelltwinInputError, match="counts must be >= 0 .cell 0, gene .u."):
        screen_from_labels(-np.ones((2, 2)), ["control", "A"], genes=["u", "v"], kind="counts")


def test_additive_baseline_is_the_sum_of_singles():
    deltas = {("", ("A",)): np.array([1.0, 0.0, 2.0]), ("", ("B",)): np.array([0.5, 1.0, -1.0])}
    np.testing.assert_allclose(additive_baseline(deltas)("", ("A", "B")), [1.5, 1.0, 1.0])
    with pytest.raises(CelltwinInputError, match="no single perturbation of C"):
        additive_baseline(deltas)("", ("A", "C"))


def test_linear_baseline_closed_forms():
    rng = np.random.default_rng(0)
    singles = {t: rng.normal(size=6) for t in "ABCD"}
    deltas = {("", (t,)): d for t, d in singles.items()}
    b = np.mean(list(singles.values()), axis=0)
    # all components, no penalty, singles only: the map reproduces each single, and a double's
    # embedding is the sum of its singles', so it predicts y_A + y_B - b (additive around the mean)
    full = LinearBaseline(deltas, components=10, ridge=0.0)
    np.testing.assert_allclose(full("", ("B",)), singles["B"], atol=1e-10)
    np.testing.assert_allclose(full("", ("A", "C")), singles["A"] + singles["C"] - b, atol=1e-10)
    # one component: the prediction is b + u1 * w * (u1 . (y_A - b)), with u1 the top principal
    # direction and w the ridge solution of a 1 x 1 problem
    y = np.stack(list(singles.values()), axis=1)
    u1 = np.linalg.svd(y - b[:, None])[0][:, 0]
    p = u1 @ (y - b[:, None])
    w = (p @ p) / (p @ p + 0.7)
    np.testing.assert_allclose(LinearBaseline(deltas, components=1, ridge=0.7)("", ("D",)),
                               b + u1 * w * p[3], atol=1e-10)


def test_context_baselines_by_hand():
    deltas = {("T98G", ("SGK1",)): np.array([1.0, 0.0]), ("U87MG", ("SGK1",)): np.array([3.0, 2.0]),
              ("T98G", ("MAPK1",)): np.array([5.0, 5.0])}
    np.testing.assert_allclose(context_mean_baseline(deltas)("A172", ("SGK1",)), [2.0, 1.0])
    np.testing.assert_allclose(mean_baseline(deltas)("A172", ("SGK1",)), [3.0, 7.0 / 3.0])
    controls = {"A172": np.array([0.0, 0.0]), "T98G": np.array([1.0, 1.0]), "U87MG": np.array([0.5, -0.5])}
    # U87MG's controls are closer to A172's (0.5 vs 2): its change is the prediction
    np.testing.assert_allclose(nearest_context_baseline(deltas, controls)("A172", ("SGK1",)), [3.0, 2.0])
    np.testing.assert_allclose(no_change_baseline(deltas)("A172", ("SGK1",)), [0.0, 0.0])
    with pytest.raises(CelltwinInputError, match="MAPK1 not perturbed in another context"):
        context_mean_baseline(deltas)("T98G", ("MAPK1",))


def test_average_precision_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(20):
        truth = rng.random(50) < 0.2
        truth[0] = True
        score = np.round(rng.random(50) + truth * 0.3, 1)  # rounding makes ties
        assert average_precision(truth, score) == pytest.approx(metrics.average_precision_score(truth, score))


def test_simulated_screen_layout():
    sim = simulate_screen(0, n_genes=8, n_targets=4, n_doubles=2, cells_per_condition=8, controls_per_batch=8)
    s = sim.screen
    assert isinstance(s, Screen) and s.kind == "counts"
    assert len(set(s.conditions.tolist())) == 1 + 4 + 2
    layout = ScreenLayout.from_screen(s)
    # targets are measured genes: each acts only on its own gene
    assert np.all(layout.effect_mask.sum(0) == 1)
    assert layout.reference_guide.sum() == len(layout.targets)
    # the truth helper solves the steady-state equation
    t = s.targets[0]
    d = sim.true_change((t,))
    drive = np.zeros(8)
    drive[s.genes.index(t)] = sim.amplitude[t]
    np.testing.assert_allclose(sim.network @ np.tanh(d) - d + drive, 0.0, atol=1e-10)
