"""Benchmark tasks: the noise-free data of a curated model against scipy's ODE solver, the
axes (noise level, unobserved species, skeleton, prior knowledge) as specified, seeds that
reproduce the data, the versioned registry, and a PEtab problem with a held-out condition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from celltwin.bench import REGISTRY_VERSION, SyntheticSpec, build_task, task_registry
from celltwin.bench._models import LOTKA_VOLTERRA
from celltwin.bench._synthetic import build_synthetic, noise_free_data
from celltwin.errors import CelltwinInputError

LV = SyntheticSpec("lotka_volterra", noise=0.1, n_times=6, n_conditions=2)


def lotka_volterra_reference(x0: float, times: np.ndarray) -> np.ndarray:
    a, b, c = (LOTKA_VOLTERRA.rates[k] for k in ("a", "b", "c"))
    sol = solve_ivp(lambda t, z: [a * z[0] - b * z[0] * z[1], b * z[0] * z[1] - c * z[1]], (0.0, times[-1]),
                    [x0, 1.0], t_eval=times, rtol=1e-10, atol=1e-12, method="LSODA")
    return sol.y


def test_noise_free_data_match_scipy():
    clean, sigma = noise_free_data(LV)
    task = build_synthetic(LV, 0, "t")
    times = np.linspace(10.0 / 6, 10.0, 6)
    x0s = [*LOTKA_VOLTERRA.training_values(2), LOTKA_VOLTERRA.heldout_value]
    expected = np.concatenate([lotka_volterra_reference(x0, times).reshape(-1) for x0 in x0s])  # X then Y per condition
    np.testing.assert_allclose(clean, expected, rtol=1e-4, atol=1e-6)
    # the noise sd is the fraction `noise` of each observable's largest training value
    n_train = 2 * 2 * 6
    assert sigma["X"] == pytest.approx(0.1 * np.max(expected[:n_train].reshape(2, 2, 6)[:, 0]))
    assert task.problem.n_measurements == n_train and task.heldout.n_measurements == 12


def test_data_are_reproducible_from_the_seed_and_noise_has_the_stated_sd():
    a, b, c = (build_synthetic(LV, s, "t") for s in (3, 3, 4))
    np.testing.assert_array_equal(a.problem.measurements, b.problem.measurements)
    assert not np.allclose(a.problem.measurements, c.problem.measurements)
    clean, sigma = noise_free_data(LV)
    # standardised residuals over many seeds are N(0, 1): their variance within MC error
    n_train = a.problem.n_measurements
    sd = np.array([sigma[o.removeprefix("obs_")] for o in a.problem.measurement_df["observableId"]])
    z = np.concatenate([(build_synthetic(LV, s, "t").problem.measurements - clean[:n_train]) / sd for s in range(10)])
    assert abs(np.mean(z)) < 4 / math.sqrt(len(z))
    assert abs(np.var(z) - 1) < 4 * math.sqrt(2 / len(z))


def test_axes_unobserved_skeleton_and_prior():
    cascade = build_synthetic(SyntheticSpec("kinase_cascade", unobserved=0.5, skeleton="missing"), 0, "t")
    assert sorted(cascade.problem.measurement_df["observableId"].unique()) == ["obs_K1p", "obs_K2p"]
    assert "deactivate_K1" not in cascade.problem.model.reactions
    assert cascade.true_structure - cascade.skeleton_structure() == {"deactivate_K1"}
    assert "k2" not in cascade.true_parameters and "k2" not in cascade.problem.parameter_ids
    spurious = build_synthetic(SyntheticSpec("kinase_cascade", skeleton="spurious"), 0, "t")
    assert spurious.skeleton_structure() - spurious.true_structure == {"basal_K2"}
    truth_kd = math.log10(0.05 / 0.5) - 9  # koff / kon in nM, as log10 molar
    for prior, offset in (("correct", 0.0), ("wrong", 2.0)):
        (term,) = build_synthetic(SyntheticSpec("binding_cascade", prior=prior), 0, "t").evidence
        assert term.predicted_log10_molar == pytest.approx(truth_kd + offset)
    noisy = [build_synthetic(SyntheticSpec("binding_cascade", prior="noisy"), s, "t").evidence[0] for s in (0, 1)]
    assert noisy[0].predicted_log10_molar != noisy[1].predicted_log10_molar and noisy[0].sd == 0.5
    assert build_synthetic(SyntheticSpec("binding_cascade"), 0, "t").evidence == ()


def test_bad_specs_name_the_problem():
    with pytest.raises(ValueError, match="no binding reaction"):
        SyntheticSpec("lotka_volterra", prior="correct")
    with pytest.raises(ValueError, match="unobserved must be in"):
        SyntheticSpec("kinase_cascade", unobserved=1.0)


def test_registry_ids_carry_the_version_and_unknown_ids_are_explained():
    ids = list(task_registry())
    assert len(ids) == len(set(ids)) and all(i.startswith(f"{REGISTRY_VERSION}/") for i in ids)
    with pytest.raises(CelltwinInputError, match="unknown task"):
        build_task(f"{REGISTRY_VERSION}/no/such/task", 0)
    with pytest.raises(CelltwinInputError, match="from registry v0"):
        build_task("v0/kinase_cascade", 0)


def test_petab_task_holds_out_a_condition():
    task = build_task(f"{REGISTRY_VERSION}/petab/mapk_cascade/heldout=high_dose", 0)
    assert set(task.problem.measurement_df["simulationConditionId"]) == {"low_dose"}
    assert set(task.heldout.measurement_df["simulationConditionId"]) == {"high_dose"}
    assert task.problem.parameter_ids == task.heldout.parameter_ids
    assert task.true_parameters["k_act1"] == pytest.approx(0.8) and task.kind == "real"


@pytest.mark.slow  # ~1 min: every registered task, built once
def test_every_registered_task_builds():
    for task_id in task_registry():
        if "Bruno" in task_id:
            continue  # needs the shared data; the PEtab path is tested on the bundled example
        task = build_task(task_id, 0)
        assert np.all(np.isfinite(task.problem.measurements)) and task.heldout.n_measurements > 0, task_id
