"""The hybrid neural-term method, the PySINDy peer, discovery under conservation laws, the
twin-case tasks and how the runner leaves out what cannot or should not run.

References: the skeleton's own simulation (celltwin's mechanistic solver) for the hybrid
problem with a silent network; closed-form conservation laws; the no-learning baseline.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from celltwin.bench import (
    Suite,
    SyntheticSpec,
    build_task,
    cells,
    prediction_metrics,
    run,
    suite,
    task_registry,
)
from celltwin.bench._runner import unavailable_methods
from celltwin.bench._synthetic import build_synthetic
from celltwin.bench.methods import MethodFailure, PySINDy, SparseDiscovery, TrainingMean
from celltwin.bench.methods.discovery import conservation_reduction
from celltwin.bench.methods.hybrid import HybridNeuralTerm, hybrid_problem
from celltwin.discover import TimeCourses
from celltwin.discover.library import IndependentLibrary, MassActionLibrary

KINASE = SyntheticSpec("kinase_cascade")
BINDING = SyntheticSpec("binding_cascade", prior="correct")
LV = SyntheticSpec("lotka_volterra", noise=0.01, n_times=16, n_conditions=3)
EGFR = "v2/case/egfr_kholodenko/heldout=p_shc@egf_20nM"
GPCR = "v2/case/gpcr_yi/heldout=occupancy_doses"


def nrmse(task, fitted, seed=0) -> float:
    draws = fitted.predict(task.heldout, 200, seed)
    return prediction_metrics(draws, task.heldout_measurements, task.heldout_observables)["nrmse"]


class Silent(eqx.Module):
    n_out: int = eqx.field(static=True)
    weight: jax.Array

    def __call__(self, x):
        return jnp.zeros(self.n_out) + 0.0 * self.weight * jnp.sum(x)


@pytest.mark.parametrize("spec", [KINASE, BINDING])
def test_hybrid_problem_with_a_silent_network_is_the_skeleton(spec):
    task = build_synthetic(spec, 0, "t")
    problem = task.problem
    species = list(problem.model.species)
    hybrid = hybrid_problem(problem, Silent(len(species), jnp.ones(1)), state_scale=dict.fromkeys(species, 1.0),
                            dose_scale={}, settings=problem.settings)
    assert hybrid.parameter_ids == [*problem.parameter_ids, "flux_net.weight[0]"]
    theta = np.asarray(problem.x_nominal)
    y, _, status = jax.jit(hybrid.simulate)(jnp.concatenate([jnp.asarray(theta), jnp.ones(1)]))
    reference = problem.simulation_table(theta)["simulation"].to_numpy()
    assert np.all(np.asarray(status) == 0)  # one status per experiment
    np.testing.assert_allclose(np.asarray(y), reference, rtol=1e-5, atol=1e-7)


@pytest.mark.slow  # ~1-2 min: a MAP fit and two trainings of the hybrid model
def test_hybrid_method_beats_the_baseline_and_recovers_the_constants():
    task = build_task(suite("quick").tasks[0], 0)
    fitted = HybridNeuralTerm(members=2, epochs=100, n_starts=2, max_iterations=100).fit(task, seed=0)
    assert nrmse(task, fitted) < 0.3 * nrmse(task, TrainingMean().fit(task, seed=0))
    errors = [abs(np.log10(fitted.parameters()[k] / v)) for k, v in task.true_parameters.items()]
    assert np.mean(errors) < 0.3
    assert fitted.structure() == task.true_structure


def test_conservation_reduction_finds_a_closed_form_law():
    rng = np.random.default_rng(0)
    runs = []
    for a0 in (0.2, 0.6, 0.9):
        t = np.linspace(0, 5, 50)
        a = a0 * np.exp(-t)
        runs.append(np.column_stack([a, 1.0 - a, rng.uniform(size=t.size)]))  # A + B = 1, C free
    index, relation = conservation_reduction(("A", "B", "C"), runs, rtol=1e-6)
    assert index.tolist() == [0, 2]
    np.testing.assert_allclose(relation, [[0, 1, 0], [1, -1, 0], [0, 0, 1]], atol=1e-10)
    assert conservation_reduction(("A", "C"), [r[:, [0, 2]] for r in runs], rtol=1e-6) is None


def test_independent_library_drops_exactly_dependent_terms():
    t = np.linspace(0, 1, 30)
    runs = [(t, np.column_stack([np.exp(-k * t), np.full_like(t, dose)])) for k, dose in ((1.0, 0.1), (2.0, 1.0))]
    data = TimeCourses.from_arrays(("X", "L"), runs)
    library = IndependentLibrary.from_data(MassActionLibrary(order=2), data, rtol=1e-6)
    # two doses: L^2 = a + b L on the data; nothing else is dependent
    assert [term.name for term in library.dropped] == ["L^2"]
    assert len(library.kept) == len(MassActionLibrary(order=2).terms(("X", "L"))) - 1


@pytest.mark.parametrize("spec", [KINASE, BINDING])
def test_sparse_discovery_runs_on_the_cascades(spec):
    # Conserved totals (K1 + K1p = 1) made every sparsity level blow up before; now the
    # cell is a row with finite predictions, whatever their quality.
    task = build_synthetic(spec, 0, "t")
    fitted = SparseDiscovery().fit(task, seed=0)
    assert fitted.reduction is not None
    draws = fitted.predict(task.heldout, 50, 0)
    assert np.all(np.isfinite(draws))


@pytest.mark.slow  # ~1 min per seed on the loaded 2-core machine (pysindy simulates every threshold)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pysindy_beats_the_baseline_on_lotka_volterra(seed):
    pytest.importorskip("pysindy")
    task = build_synthetic(LV, seed, "lv")
    fitted = PySINDy().fit(task, seed=seed)
    assert nrmse(task, fitted) < nrmse(task, TrainingMean().fit(task, seed=seed)) / 3


def test_pysindy_is_left_out_when_it_cannot_be_imported(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pysindy", None)  # makes `import pysindy` raise ImportError
    assert "pysindy is not installed" in PySINDy.available()
    quick = suite("quick")
    assert "pysindy" in unavailable_methods(quick)
    assert all(c.method.name != "pysindy" for c in cells(quick))
    tiny = Suite("tiny", (next(iter(task_registry())),), (TrainingMean(), PySINDy()), (0,))
    summary = run(tiny, tmp_path / "r.duckdb", scheduler="serial", progress=False)
    assert (summary.total, summary.ran, summary.failed) == (1, 1, 0)
    assert set(summary.unavailable) == {"pysindy"}


@dataclasses.dataclass(frozen=True)
class Costly(TrainingMean):
    name: ClassVar[str] = "costly"


def test_twin_cases_hold_out_their_test_data_and_take_only_affordable_methods():
    egfr, gpcr = build_task(EGFR, 0), build_task(GPCR, 0)
    assert set(egfr.heldout_observables) == {"p_shc"}
    assert set(egfr.heldout.measurement_df["simulationConditionId"]) == {"egf_20nM"}
    assert len(egfr.evidence) == 9 and len(gpcr.evidence) == 1
    assert set(gpcr.heldout_observables) == {"occupancy"} and gpcr.heldout.n_measurements == 8
    assert list(egfr.heldout.parameter_ids) == list(egfr.problem.parameter_ids)
    grid = cells(Suite("s", (EGFR, GPCR), (TrainingMean(), Costly(), *[m for m in suite("full").methods
                                                                          if m.name == "mechanistic_map"]), (0,)))
    assert sorted((c.task_id, c.method.name) for c in grid) == [(EGFR, "mechanistic_map"), (GPCR, "mechanistic_map")]
    assert all(c.method.n_starts == 2 and c.method.max_iterations == 100 for c in grid)
    # the baseline is not applicable: no training condition measures the held-out observable
    assert not set(egfr.heldout_observables) & set(egfr.problem.measurement_df["observableId"])
    assert not set(gpcr.heldout_observables) & set(gpcr.problem.measurement_df["observableId"])


def test_hybrid_refuses_an_unsupported_problem_before_fitting(monkeypatch):
    """A problem the hybrid method cannot express fails at once, not after the MAP fit
    (Bruno's differing noise parameters were refused only after 212 s of fitting)."""
    import celltwin.bench.methods.hybrid as hybrid

    def refuse(problem):
        raise MethodFailure("unsupported")

    def no_fit(*args, **kwargs):
        raise AssertionError("the MAP fit ran before the check")

    monkeypatch.setattr(hybrid, "_pieces", refuse)
    monkeypatch.setattr(hybrid, "_map_fit", no_fit)
    with pytest.raises(MethodFailure, match="unsupported"):
        HybridNeuralTerm().fit(build_synthetic(KINASE, 0, "t"), seed=0)
