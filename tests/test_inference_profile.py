"""Profile likelihoods against the closed form of a linear-Gaussian model, and the
non-identifiable case."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from celltwin.inference import profile
from celltwin.model import Model
from celltwin.problem import Problem

TIMES = np.array([0.0, 1.0, 2.0, 3.0, 5.0, 8.0])
SIGMA = 0.5


def production_problem(measured, extra_product: bool = False) -> Problem:
    """A(0) = a0, dA/dt = r (or r = u * v, not identifiable separately): A(t) = a0 + r t,
    observed with known noise SIGMA, so the log-likelihood is exactly quadratic in (a0, r)."""
    m = Model("production")
    m.add_species("A", "a0")
    m.add_parameter("a0", 1.0)
    m.add_parameter("r", 0.5)
    m.add_parameter("u", 1.0)
    m.add_reaction("make", "-> A", rate="r * u" if extra_product else "r")
    obs = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": [str(SIGMA)]},
                       index=pd.Index(["obs"], name="observableId"))
    meas = pd.DataFrame({"observableId": "obs", "simulationConditionId": "c", "time": TIMES, "measurement": measured})
    rows = [["a0", "lin", -10, 10, 1.0, 1], ["r", "lin", -10, 10, 0.5, 1], ["u", "log10", 0.01, 100, 1.0, int(extra_product)]]
    par = pd.DataFrame(rows, columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                      "estimate"]).set_index("parameterId")
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par)


@pytest.mark.parametrize("seed", [0, 1])
def test_profile_intervals_match_the_linear_gaussian_closed_form(seed):
    rng = np.random.default_rng(seed)
    measured = 1.3 + 0.7 * TIMES + SIGMA * rng.normal(size=TIMES.size)
    X = np.column_stack([np.ones_like(TIMES), TIMES])
    beta = np.linalg.lstsq(X, measured, rcond=None)[0]
    se = SIGMA * np.sqrt(np.diag(np.linalg.inv(X.T @ X)))
    z = math.sqrt(chi2.ppf(0.95, 1))
    problem = production_problem(measured)
    result = profile(problem, beta, executor="serial", progress=False)
    assert math.isclose(result.threshold, chi2.ppf(0.95, 1) / 2)
    iv = result.intervals.set_index("parameter")
    for k, pid in enumerate(["a0", "r"]):
        assert iv.loc[pid, "identifiable"]
        assert iv.loc[pid, "lower"] == pytest.approx(beta[k] - z * se[k], abs=1e-4 * se[k] + 1e-6)
        assert iv.loc[pid, "upper"] == pytest.approx(beta[k] + z * se[k], abs=1e-4 * se[k] + 1e-6)
    # Every profile point re-optimised the other parameter: the profile of a quadratic is
    # (value - optimum)^2 / (2 se^2).
    pts = result.points[result.points["parameter"] == "r"]
    best = float(result.points["objective"].min())
    np.testing.assert_allclose(pts["objective"] - best, (pts["value"] - beta[1]) ** 2 / (2 * se[1] ** 2), atol=1e-6)


def test_a_non_identifiable_product_has_open_profiles():
    """Only r * u enters the model: r's profile is flat where u can compensate (u <= 100,
    so down to r = 0.005) and open up to r's upper bound."""
    measured = 1.0 + 0.5 * TIMES
    problem = production_problem(measured, extra_product=True)
    theta = np.array([1.0, 0.5, 0.0])  # a0, r, log10 u
    result = profile(problem, theta, parameters=["r"], executor="serial", progress=False, max_points=40)
    iv = result.intervals.set_index("parameter").loc["r"]
    assert not iv["identifiable"]
    assert math.isnan(iv["upper"]) and 0 < iv["lower"] < 0.005
    pts = result.points
    rise = pts["objective"] - pts["objective"].min()
    assert rise[pts["value"] >= 0.005].max() < 1e-6
    assert pts["value"].max() == pytest.approx(10.0)  # traced up to the bound
    fig = result.plot()
    assert len(fig.axes) >= 1
