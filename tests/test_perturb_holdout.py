"""Held-out evaluation of screens: metrics, bootstrap intervals, noise floors, folds and the
nested cross-validation, each against a hand computation, a closed form or scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from celltwin.perturb import (
    HeldoutCells,
    ScreenFitSettings,
    cell_type_folds,
    context_deltas,
    delta_scores,
    double_folds,
    evaluate_holdout,
    leave_pair_out_curves,
    paired_bootstrap,
    screen_from_labels,
    settings_grid,
    simulate_screen,
    split_half_floor,
)
from celltwin.perturb._holdout import default_settings, planned_fits, training_top_de


def test_delta_scores_by_hand_and_scipy():
    pred = np.array([1.0, -2.0, 0.5, 0.0])
    obs = np.array([2.0, -1.0, -0.5, 3.0])
    top = np.array([0, 1, 2])
    s = delta_scores(pred, obs, top)
    assert s["mse_top_de"] == pytest.approx((1 + 1 + 1) / 3)
    assert s["mse_all_genes"] == pytest.approx((1 + 1 + 1 + 9) / 4)
    assert s["direction_top_de"] == pytest.approx(2 / 3)  # gene 2 has the wrong sign
    assert s["pearson_top_de"] == pytest.approx(scipy.stats.pearsonr(pred[top], obs[top])[0])
    # replicated observations (bootstrap axis first) score row by row
    many = np.stack([obs, -obs])
    s2 = delta_scores(pred, many, top)
    assert s2["pearson_top_de"][1] == pytest.approx(scipy.stats.pearsonr(pred[top], -obs[top])[0])
    assert np.isnan(delta_scores(np.zeros(4), obs, top)["pearson_top_de"])  # no change: undefined


def _unit(rng, truth, model, baseline, n_p=40, n_c=40, sd=1.0, label="u", context=""):
    g = len(truth)
    return HeldoutCells(label, context, truth + rng.normal(0, sd, (n_p, g)), rng.normal(0, sd, (n_c, g)),
                        np.arange(g), {"model": model, "baseline": baseline})


def test_bootstrap_interval_is_zero_when_model_equals_baseline():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=10)
    pred = truth + 0.3
    boot = paired_bootstrap([_unit(rng, truth, pred, pred.copy())], replicates=200)
    entry = boot["per_unit"][0]["baselines"]["baseline"]["mse_top_de"]
    assert entry["difference"] == 0.0 and entry["interval"] == (0.0, 0.0) and entry["verdict"] == "tie"


def test_bootstrap_finds_a_clearly_better_model():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=20)
    units = [_unit(rng, truth, truth, truth + 1.0, label=f"u{i}") for i in range(3)]
    boot = paired_bootstrap(units, replicates=300)
    pooled = boot["pooled"]["baseline"]["mse_top_de"]
    assert pooled["verdict"] == "win" and pooled["units_won"] == 3 and pooled["units_lost"] == 0
    assert pooled["interval"][1] < 0


def test_bootstrap_interval_covers_a_zero_difference_at_its_level():
    # model = truth + e and baseline = truth - e are equally good in expectation: the 90 %
    # interval of their MSE difference must contain 0 in about 90 % of independent screens
    # (300 screens: binomial sd 0.017; accept 0.84 to 0.96)
    rng = np.random.default_rng(2)
    truth = rng.normal(size=15)
    e = rng.normal(0, 0.3, 15)
    covered = 0
    n_screens = 300
    for i in range(n_screens):
        unit = _unit(rng, truth, truth + e, truth - e, n_p=30, n_c=30)
        lo, hi = paired_bootstrap([unit], replicates=300, seed=i)["pooled"]["baseline"]["mse_top_de"]["interval"]
        covered += lo <= 0 <= hi
    assert 0.84 <= covered / n_screens <= 0.96


def test_split_half_floor_is_the_sampling_error_of_the_change():
    # cells N(mu, sd^2): the observed change's expected squared error is sd^2 (1/n_p + 1/n_c)
    rng = np.random.default_rng(3)
    sd, n_p, n_c, g = 0.8, 40, 60, 400
    truth = rng.normal(size=g)
    unit = _unit(rng, truth, truth, truth, n_p=n_p, n_c=n_c, sd=sd)
    floor = split_half_floor(unit, splits=100)
    expected = sd ** 2 * (1 / n_p + 1 / n_c)
    assert floor["mse_floor_all_genes"] == pytest.approx(expected, rel=0.1)
    # and it matches the squared error of the true change against the observed one
    assert np.mean((unit.observed - truth) ** 2) == pytest.approx(expected, rel=0.15)


def _labels_screen(labels_per_context: dict[str, list[str]], cells=6, genes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels, medium = [], []
    for context, labels_here in labels_per_context.items():
        for label in labels_here:
            labels += [label] * cells
            medium += [context] * cells
    x = rng.normal(size=(len(labels), genes))
    return screen_from_labels(x, labels, genes=[f"g{i}" for i in range(genes)], kind="lognorm",
                              medium=medium if len(labels_per_context) > 1 else None)


def test_leave_one_double_out_counts_the_doubles_with_both_singles():
    screen = _labels_screen({"": ["control", "A", "B", "C", "A+B", "A+C", "B+D", "D+E", "C+B"]})
    folds = double_folds(screen)
    assert [f.name for f in folds] == ["A+B", "A+C", "B+C"]  # B+D and D+E lack a single
    for f in folds:
        assert f.held.sum() == 6 and len(f.units) == 1


def test_leave_one_cell_type_out_units_and_context_deltas():
    screen = _labels_screen({"T98G": ["control", "A", "B"], "U87MG": ["control", "A", "C"],
                             "A172": ["control", "A", "B"]})
    contexts = np.asarray(screen.medium).astype(str)
    folds = {f.name: f for f in cell_type_folds(screen, contexts)}
    assert {k: [u[1] for u in f.units] for k, f in folds.items()} == {
        "A172": [("A",), ("B",)], "T98G": [("A",), ("B",)], "U87MG": [("A",)]}
    # the held-out cells are the context's perturbed cells; its controls stay in training
    assert folds["U87MG"].held.sum() == 12
    assert not np.any(folds["U87MG"].held & screen.is_control)
    deltas = context_deltas(screen, contexts)
    x = screen.expression
    m = (screen.conditions == "A") & (contexts == "U87MG")
    c = (screen.conditions == "control") & (contexts == "U87MG")
    np.testing.assert_allclose(deltas[("U87MG", ("A",))], x[m].mean(0) - x[c].mean(0))


def test_training_top_de_uses_the_singles_only():
    deltas = {("", ("A",)): np.array([0.1, 2.0, 0.0, 0.0]), ("", ("B",)): np.array([0.0, 0.0, -1.0, 0.2]),
              ("", ("C",)): np.array([9.0, 9.0, 9.0, 9.0])}
    np.testing.assert_array_equal(training_top_de(deltas, ("", ("A", "B")), 2), [1, 2])


def test_leave_pair_out_never_scores_a_fold_with_its_own_cells():
    rng = np.random.default_rng(4)
    n_folds, n_grid = 4, 3
    table = rng.normal(size=(n_folds, n_folds, n_grid))  # table[x, y, g]: score on x from the fit leaving x, y out
    calls = []

    def score_pair(a, b, g):
        calls.append((a, b, g))
        return table[a, b, g], table[b, a, g]

    curves = leave_pair_out_curves(n_folds, n_grid, score_pair)
    assert len(calls) == len(set(calls)) == n_folds * (n_folds - 1) // 2 * n_grid
    for a in range(n_folds):
        expected = np.mean([table[b, a] for b in range(n_folds) if b != a], axis=0)
        np.testing.assert_allclose(curves[a], expected)
    assert planned_fits(n_folds, n_grid) == len(calls) + n_folds * n_grid


def test_evaluate_leave_one_double_out_end_to_end():
    sim = simulate_screen(1, n_genes=8, n_targets=4, n_doubles=3, guides_per_target=1, n_batches=1,
                          cells_per_condition=20, controls_per_batch=20)
    screen = sim.screen
    result = evaluate_holdout(screen, n_genes=8, top_de=5, settings=default_settings(screen, steps=50),
                              replicates=100)
    assert result.info["n_units"] == len(double_folds(screen)) == 3
    assert result.info["n_fits"] == 3  # one setting: no cross-validation
    assert set(result.summary.method) == {"model", "no_change", "mean", "additive", "linear"}
    # additive's prediction recomputed from the cells: the sum of the two singles' changes
    y = screen.lognormalised()
    control = y[screen.is_control].mean(0)
    for unit in result.units:
        a, b = unit.label.split("+")
        change = {t: y[screen.conditions == t].mean(0) - control for t in (a, b)}
        genes = [screen.genes.index(g) for g in screen.genes]  # all 8 genes are modelled
        np.testing.assert_allclose(unit.predictions["additive"], (change[a] + change[b])[genes], atol=1e-12)
        np.testing.assert_allclose(unit.observed, (y[screen.conditions == unit.label].mean(0) - control)[genes],
                                   atol=1e-12)
    metrics = result.metrics()
    assert metrics["bootstrap"]["pooled"]["additive"]["mse_top_de"]["units"] == 3


@pytest.mark.slow
def test_evaluate_with_nested_crossvalidation():
    sim = simulate_screen(1, n_genes=8, n_targets=4, n_doubles=3, guides_per_target=1, n_batches=1,
                          cells_per_condition=20, controls_per_batch=20)
    settings = default_settings(sim.screen, steps=50)
    result = evaluate_holdout(sim.screen, n_genes=8, top_de=5, settings=settings,
                              grid=settings_grid(settings, (0.0, 0.5)), replicates=100, max_folds=2)
    assert result.info["n_units"] == 2  # max_folds
    assert result.info["n_fits"] == planned_fits(2, 2) == 6
    assert "model_no_steady_state" in set(result.summary.method)
    cv = result.crossval
    assert set(cv["folds"]) == set(result.info["folds"])
    for entry in cv["folds"].values():  # the chosen setting is the validation curve's minimum
        best = int(np.argmin(entry["validation_mse_top_de"]))
        assert entry["chosen"] == cv["grid"][best]
    assert all(len(entry["validation_mse_top_de"]) == 2 for entry in cv["folds"].values())


def test_evaluate_leave_one_cell_type_out_end_to_end():
    sim = simulate_screen(2, n_genes=6, n_targets=3, n_doubles=0, guides_per_target=1, n_batches=1,
                          n_media=3, cells_per_condition=45, controls_per_batch=45)
    result = evaluate_holdout(sim.screen, holdout="cell-type", n_genes=6, top_de=4,
                              settings=default_settings(sim.screen, steps=100), replicates=100)
    assert result.info["folds"] == ["m0", "m1", "m2"]
    assert result.info["n_units"] == 9  # 3 targets in each of 3 cell types
    assert {"context_mean", "nearest_context", "linear"} <= set(result.summary.method)
    unit = result.units[0]  # a target in m0: the context mean is the mean of m1's and m2's changes
    target = unit.label.split(" in ")[0]
    y = sim.screen.lognormalised()
    med = np.asarray(sim.screen.medium).astype(str)

    def change(m):
        return y[(sim.screen.conditions == target) & (med == m)].mean(0) - y[sim.screen.is_control & (med == m)].mean(0)

    np.testing.assert_allclose(unit.predictions["context_mean"], (change("m1") + change("m2")) / 2, atol=1e-12)


def test_a_diverging_setting_is_never_chosen(monkeypatch):
    import celltwin.perturb._holdout as holdout

    real_fit = holdout.fit_fold

    def fit_fold(screen, contexts, held, settings, n_genes):
        if settings.steady_state_weight == 9.0:
            raise FloatingPointError("the screen loss became nan")
        return real_fit(screen, contexts, held, settings, n_genes)

    monkeypatch.setattr(holdout, "fit_fold", fit_fold)
    sim = simulate_screen(1, n_genes=8, n_targets=4, n_doubles=3, guides_per_target=1, n_batches=1,
                          cells_per_condition=20, controls_per_batch=20)
    settings = default_settings(sim.screen, steps=20)
    result = evaluate_holdout(sim.screen, n_genes=8, top_de=5, settings=settings,
                              grid=settings_grid(settings, (9.0, 0.0)), replicates=50, max_folds=2)
    for fold, entry in result.crossval["folds"].items():
        assert entry["chosen"]["steady_state_weight"] == 0.0
        assert entry["validation_mse_top_de"][0] is None
        assert result.crossval["test_mse_top_de"][fold][0] is None


def test_the_grid_crosses_every_setting_that_is_cross_validated():
    base = ScreenFitSettings()
    grid = settings_grid(base, (0.0, 5.0), (0.001, 0.01), (0, 8))
    assert len(grid) == 8
    assert {(g.steady_state_weight, g.network_l1, g.neural_width) for g in grid} == {
        (w, l1, h) for w in (0.0, 5.0) for l1 in (0.001, 0.01) for h in (0, 8)}
    assert {g.neural_width for g in settings_grid(base, (1.0,))} == {base.neural_width}
