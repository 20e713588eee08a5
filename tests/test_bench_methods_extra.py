"""The model-free benchmark methods: sparse discovery and the neural ODE.

Each must beat the no-learning baseline on held-out Lotka-Volterra data (several seeds),
discovery must name exactly the true reactions at low noise with coefficients near the
true rate constants (the reference), and tasks a method cannot take end as failure rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from celltwin.bench import (
    Cell,
    SyntheticSpec,
    prediction_metrics,
    run_cell,
    structure_f1,
    task_registry,
)
from celltwin.bench._models import LOTKA_VOLTERRA
from celltwin.bench._synthetic import build_synthetic
from celltwin.bench.methods import (
    MethodFailure,
    NeuralODE,
    SparseDiscovery,
    TrainingMean,
    neural_ode,
)

LOW_NOISE_LV = SyntheticSpec("lotka_volterra", noise=0.01, n_times=16, n_conditions=3)
MAPK = "v2/petab/mapk_cascade"


def heldout_nrmse(task, fitted, seed=0) -> float:
    draws = fitted.predict(task.heldout, 200, seed)
    assert draws.shape == (200, task.heldout.n_measurements)
    return prediction_metrics(draws, task.heldout_measurements, task.heldout_observables)["nrmse"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_discovery_recovers_lotka_volterra(seed):
    task = build_synthetic(LOW_NOISE_LV, seed, "lv")
    fitted = SparseDiscovery().fit(task, seed=seed)
    assert fitted.structure() == task.true_structure
    assert structure_f1(fitted.structure(), task.true_structure) == 1.0
    eq = fitted.result.equations()
    rates = LOTKA_VOLTERRA.rates  # dX/dt = a X - b X Y, dY/dt = b X Y - c Y
    expected = {"X": {"X": rates["a"], "X*Y": -rates["b"]}, "Y": {"Y": -rates["c"], "X*Y": rates["b"]}}
    for species, terms in expected.items():
        assert set(eq[species]) == set(terms)
        for term, value in terms.items():
            assert eq[species][term] == pytest.approx(value, rel=0.05)
    baseline = TrainingMean().fit(task, seed=seed)
    assert heldout_nrmse(task, fitted) < 0.2 * heldout_nrmse(task, baseline)


def test_neural_ode_beats_the_baseline_on_lotka_volterra(monkeypatch):
    # Cheap settings; the seeds share one compilation (same shapes): counted below.
    traces = []
    trace_once = neural_ode._train_impl

    def counted(*args, **kwargs):
        traces.append(1)
        return trace_once(*args, **kwargs)

    monkeypatch.setattr(neural_ode, "_train_impl", counted)
    monkeypatch.setattr(neural_ode, "_TRAIN", None)
    for seed in (0, 1, 2):
        task = build_synthetic(SyntheticSpec("lotka_volterra", n_conditions=3), seed, "lv")
        fitted = NeuralODE(members=2, width=16, iterations=300).fit(task, seed=seed)
        assert fitted.structure() is None and fitted.parameters() is None
        draws = fitted.predict(task.heldout, 200, seed)
        assert np.all(np.isfinite(draws)) and np.all(np.std(draws, axis=0) > 0)
        assert heldout_nrmse(task, fitted) < heldout_nrmse(task, TrainingMean().fit(task, seed=seed))
    assert len(traces) == 1


@pytest.mark.parametrize("method", [SparseDiscovery(), NeuralODE(members=1, iterations=1)])
def test_too_few_samples_is_a_method_failure(method):
    task = build_synthetic(SyntheticSpec("lotka_volterra", n_times=2), 0, "lv")
    with pytest.raises(MethodFailure, match="sampled times"):
        method.fit(task, seed=0)


@pytest.mark.parametrize("method", [SparseDiscovery(), NeuralODE(members=1, iterations=1)])
def test_scaled_observables_give_a_failure_row(method):
    """The MAPK PEtab task observes `scale * K1p`, not a species: a failure row, not a crash."""
    task_id = next(t for t in task_registry() if t.startswith(MAPK))
    row = run_cell(Cell("test", task_id, method, 0))
    assert row["status"] == "failed" and "not a plain species" in row["error"]
    assert row["error"].startswith("fitting:") and math.isfinite(row["wall_s"])
