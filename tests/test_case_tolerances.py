"""The bundled twin cases' solver tolerances are tight enough: the GPCR case's log-likelihood
at its own tolerances against one computed from an independent solve (scipy LSODA at rtol
1e-10 of the equations written out here from Yi, Kitano & Simon 2003, not from the SBML), at
the nominal parameters and at points of the posterior's regions that are hardest to solve
(the k3-k7 ridge toward fast activation and hydrolysis, the k4 edge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import reference_solution

CASE = Path(__file__).resolve().parents[1] / "examples" / "gpcr_yi" / "case.yaml"
G_TOTAL, R0, TOP_DOSE = 10_000.0, 10_000.0, 100.0
# log10 rate constants: nominal, a point far along the k3-k7 ridge, one at the k4 edge, one
# with the slowest unbinding the prior allows
POINTS = {
    "nominal": dict(k1f=-2.699, k1b=-2.0, k2=0.0, k3=-5.0, k4=0.602, k5=-3.398, k6=-2.398, k7=-0.959),
    "ridge": dict(k1f=-2.72, k1b=-2.6, k2=1.5, k3=-3.4, k4=-1.0, k5=-4.0, k6=-2.65, k7=0.75),
    "k4 edge": dict(k1f=-2.69, k1b=-3.0, k2=-1.7, k3=-5.05, k4=1.1, k5=-5.2, k6=-2.3, k7=-0.95),
    "slow koff": dict(k1f=-2.75, k1b=-5.9, k2=0.5, k3=-5.1, k4=0.3, k5=-2.7, k6=-2.6, k7=-0.9),
}


def reference_ga(k: dict, dose: float, ts) -> np.ndarray:
    """Active G alpha at times ``ts`` for ligand ``dose`` (nM), by scipy."""
    def rhs(t, y):
        r, rl, g, ga = y
        v1, v2 = k["k1f"] * dose * r, k["k1b"] * rl
        v3 = k["k2"] * (G_TOTAL - g - ga) * (G_TOTAL - g)
        v4, v5, v6, v7, v8 = k["k3"] * rl * g, k["k4"], k["k5"] * r, k["k6"] * rl, k["k7"] * ga
        return [-v1 + v2 + v5 - v6, v1 - v2 - v7, v3 - v4, v4 - v8]

    return reference_solution(rhs, [R0, 0.0, G_TOTAL, 0.0], ts)[:, 3]


def reference_log_likelihood(folder: Path, log10k: dict) -> float:
    k = {name: 10.0**value for name, value in log10k.items()}
    measurements = pd.read_csv(folder / "measurements.tsv", sep="\t")
    conditions = pd.read_csv(folder / "conditions.tsv", sep="\t").set_index("conditionId")["L"]
    sd = {"active_ga": 0.015, "relative_ga": 0.03}  # observables.tsv
    top_times = np.unique(measurements.loc[measurements["observableId"] == "relative_ga", "time"])
    top = dict(zip(top_times, reference_ga(k, TOP_DOSE, top_times)))  # the reference dose, solved once
    llh = 0.0
    for (obs, cond), rows in measurements.groupby(["observableId", "simulationConditionId"]):
        ts = rows["time"].to_numpy()
        ga = reference_ga(k, conditions[cond], ts)
        model = ga / G_TOTAL if obs == "active_ga" else ga / np.array([top[t] for t in ts])
        res = (rows["measurement"].to_numpy() - model) / sd[obs]
        llh += float(np.sum(-0.5 * res**2 - 0.5 * np.log(2 * np.pi * sd[obs] ** 2)))
    return llh


@pytest.fixture(scope="module")
def case_log_likelihood():
    """The case's problem at the case's tolerances (built and compiled once): its parameter
    ids and jitted log-likelihood."""
    import jax

    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings
    from celltwin.twin import read_case

    case = read_case(CASE)
    problem = from_petab(case.problem, settings=SolverSettings(**case.solver))
    return problem.parameter_ids, jax.jit(problem.log_likelihood)


@pytest.mark.parametrize("point", list(POINTS))
def test_gpcr_case_tolerances_give_the_log_likelihood_of_a_tight_independent_solve(point, case_log_likelihood):
    import jax.numpy as jnp

    ids, log_likelihood = case_log_likelihood
    log10k = POINTS[point]
    llh = float(log_likelihood(jnp.asarray([log10k[p] for p in ids])))
    expected = reference_log_likelihood(CASE.parent, log10k)
    # Monte Carlo error of a posterior mean of the log density is ~0.05 at ESS 400: 1e-3 is far below it
    assert llh == pytest.approx(expected, abs=1e-3)
