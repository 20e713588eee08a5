"""The importance reweighting of ``benchmarks/experiments/sensitivity_reweighted.py`` against
closed forms: a Gaussian shifted by its weights, and a truncation (equal weights inside)."""

import importlib.util
import sys
import types
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("sensitivity_reweighted",
                                                  ROOT / "benchmarks" / "experiments" / "sensitivity_reweighted.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_move_a_normal_to_the_shifted_normal(script, seed):
    """Draws of N(0, 1) weighted by N(0.5, 1) / N(0, 1): mean 0.5 and sd 1 (closed form);
    Pareto k well below 0.7; the weights' effective number n exp(-mu^2) (for a shift mu)."""
    rng = np.random.default_rng(seed)
    n, mu = 4000, 0.5
    x = pd.DataFrame({"a": rng.standard_normal(n)})
    box = types.SimpleNamespace(lower=np.array([-np.inf]), upper=np.array([np.inf]))
    at_case = -0.5 * x["a"].to_numpy() ** 2
    out, info = script.reweighted(lambda v: -0.5 * (v[:, 0] - mu) ** 2, x, at_case, box, float(n), rng)
    assert abs(out["a"].mean() - mu) < 0.1 and abs(out["a"].std() - 1.0) < 0.1
    assert info["pareto_k"] < 0.5
    assert info["weights_ess"] == pytest.approx(n * np.exp(-mu**2), rel=0.1)
    assert info["effective_draws"] == pytest.approx(info["weights_ess"])  # (iid draws: ess = n)


def test_a_truncation_keeps_the_draws_inside_with_equal_weights(script):
    """A box half as wide in each of 2 uniform coordinates: the draws inside (a quarter),
    uniform on it; Pareto k -inf (equal weights); effective draws a quarter of the ESS."""
    rng = np.random.default_rng(0)
    n = 8000
    x = pd.DataFrame(rng.uniform(-1, 1, (n, 2)), columns=["a", "b"])
    box = types.SimpleNamespace(lower=np.array([0.0, 0.0]), upper=np.array([1.0, 1.0]))
    out, info = script.reweighted(lambda v: jnp.zeros(v.shape[0]), x, np.zeros(n), box, 2000.0, rng)
    assert info["pareto_k"] == -np.inf
    assert info["inside_support"] == pytest.approx(n / 4, rel=0.05)
    assert info["effective_draws"] == pytest.approx(2000 / 4, rel=0.05)
    assert (out.to_numpy() >= 0).all() and (out.to_numpy() <= 1).all()
    assert out["a"].mean() == pytest.approx(0.5, abs=0.03)


def test_a_variant_reaching_beyond_the_case_bounds_is_named(script):
    case = types.SimpleNamespace(parameter_ids=["a", "b"], lower=np.array([-2.0, -2.0]), upper=np.array([2.0, 2.0]))
    wider = types.SimpleNamespace(parameter_ids=["a", "b"], lower=np.array([-2.0, -3.0]), upper=np.array([2.0, 2.0]))
    narrower = types.SimpleNamespace(parameter_ids=["a", "b"], lower=np.array([-1.0, -1.0]), upper=np.array([1.0, 1.0]))
    assert script.outside_support(wider, case) == ["b"]
    assert script.outside_support(narrower, case) == []
