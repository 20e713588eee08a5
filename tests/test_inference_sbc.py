"""Simulation-based calibration: the rank tests detect non-uniform ranks, and NUTS on the
small nonlinear ODE problem of ``benchmarks/sbc.py`` passes them (slow; the full 100-replicate
run is the benchmark script, with its result in docs/inference.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celltwin.inference import SamplerSettings, calibrate
from celltwin.inference._sbc import rank_tests

ROOT = Path(__file__).resolve().parents[1]


def sbc_benchmark():
    spec = importlib.util.spec_from_file_location("sbc_benchmark", ROOT / "benchmarks" / "sbc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_tests_accept_uniform_and_reject_shifted_ranks(seed):
    """Ranks of a true value among L draws: uniform when the truth is a draw of the same
    distribution; piled up at the top when the 'posterior' is shifted down by 0.5 sd."""
    rng = np.random.default_rng(seed)
    n, L = 200, 99
    truth = rng.normal(size=n)
    good = (rng.normal(size=(n, L)) < truth[:, None]).sum(axis=1)
    shifted = (rng.normal(size=(n, L)) - 0.5 < truth[:, None]).sum(axis=1)
    tests = rank_tests(pd.DataFrame({"good": good, "shifted": shifted}), L, seed)
    assert tests.loc["good", "chi2_p"] > 0.001 and tests.loc["good", "ks_p"] > 0.001
    assert tests.loc["shifted", "chi2_p"] < 1e-4 and tests.loc["shifted", "ks_p"] < 1e-4


@pytest.mark.slow  # ~10 min on 2 cores
def test_nuts_is_calibrated_on_a_small_ode_problem():
    problem = sbc_benchmark().conversion_problem()
    settings = SamplerSettings(method="nuts", chains=2, draws=100, warmup=150)
    result = calibrate(problem, 40, settings, thin=2, batch=20, seed=5, progress=False)
    assert result.ranks.shape == (40, 3) and result.n_draws == 100
    assert result.ranks.to_numpy().min() >= 0 and result.ranks.to_numpy().max() <= 100
    assert (result.tests["chi2_p"] > 0.001).all() and (result.tests["ks_p"] > 0.001).all(), result.tests
    # the truth was drawn from the prior (parameterScaleNormal on log10), within 4 sd of its mean
    means = {"k1": 0.0, "k2": -0.7, "sigma": -1.3}
    for pid, mu in means.items():
        assert abs(result.truth[pid].mean() - mu) < 0.15
