"""The PEtab test suite (PEtab-dev/petab_test_suite): llh, chi2 and simulations per case.

Cases are read from ``<shared data>/petab-test-suite/<version>/sbml/NNNN`` (see conftest); each
case's ``_NNNN_solution.yaml`` gives the expected values and tolerances.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import yaml

from celltwin.errors import PEtabError, UnsupportedFeatureError
from celltwin.problem import from_petab

V1_CASES = [f"{i:04d}" for i in range(1, 21)]


def _suite() -> Path:
    # as the `shared_data` fixture in conftest.py (needed here at collection time)
    root = os.environ.get("CELLTWIN_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(root) / "petab-test-suite"


def _v2_cases() -> list[str]:
    folder = _suite() / "v2.0.0" / "sbml"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else ["(absent)"]


def _case(version: str, case: str):
    folder = _suite() / version / "sbml" / case
    if not folder.is_dir():
        pytest.skip(f"PEtab test suite case not found at {folder} (set CELLTWIN_SHARED_DATA)")
    solution = yaml.safe_load((folder / f"_{case}_solution.yaml").read_text())
    return folder, solution


def _matched(ours: pd.DataFrame, expected: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Our simulations and the expected ones, matched on (observable, time, conditions or
    experiment) and then by order of appearance (replicates)."""
    keys = ["observableId", "time"]
    # v1: simulation and pre-equilibration condition; v2: the experiment
    for key in ("simulationConditionId", "preequilibrationConditionId", "experimentId"):
        if key in expected.columns and key in ours.columns:
            keys.append(key)

    def keyed(df: pd.DataFrame) -> pd.Series:
        df = df.copy()
        for k in keys:
            df[k] = df[k].astype(float) if k == "time" else df[k].fillna("").astype(str)
        df["_replicate"] = df.groupby(keys).cumcount()
        return df.set_index([*keys, "_replicate"])["simulation"]

    a, b = keyed(ours), keyed(expected)
    assert set(a.index) == set(b.index), "simulation tables do not have the same rows"
    return a.loc[b.index].to_numpy(float), b.to_numpy(float)


# Cases in the default run: one per kind of feature (compilation makes each case ~10-20 s of
# CPU); the others are marked slow (pytest -m slow). All 20 passed when this was written.
DEFAULT_CASES = {"0001", "0002", "0006", "0007", "0008", "0009", "0012", "0015", "0018"}


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=() if c in DEFAULT_CASES else (pytest.mark.slow,)) for c in V1_CASES]
)
def test_petab_v1_case(case):
    folder, solution = _case("v1.0.0", case)
    problem = from_petab(folder / f"_{case}.yaml")
    assert problem.engine == "native"  # the default engine on a CPU
    assert_matches_solution(problem, solution, folder)


def assert_matches_solution(problem, solution: dict, folder) -> None:
    """llh, chi2 and simulations at the nominal values against a case's expected values."""
    theta = jnp.asarray(problem.x_nominal)
    # one compiled program for the three quantities (three eager calls compile three times)
    llh, chi2, simulated = jax.jit(
        lambda th: (problem.log_likelihood(th), problem.chi2(th), problem.simulate(th).observables)
    )(theta)
    llh, chi2 = float(llh), float(chi2)
    assert math.isclose(llh, solution["llh"], rel_tol=0, abs_tol=solution["tol_llh"]), (llh, solution["llh"])
    assert math.isclose(chi2, solution["chi2"], rel_tol=0, abs_tol=solution["tol_chi2"]), (chi2, solution["chi2"])
    ours = problem.measurement_df.rename(columns={"measurement": "simulation"})
    ours["simulation"] = np.asarray(simulated)
    for name in solution["simulation_files"]:
        expected = pd.read_csv(folder / name, sep="\t")
        a, b = _matched(ours, expected)
        np.testing.assert_allclose(a, b, rtol=0, atol=solution["tol_simulations"])


def test_simulation_table_method():
    """Problem.simulation_table() itself (case 0008: replicate measurements)."""
    folder, solution = _case("v1.0.0", "0008")
    problem = from_petab(folder / "_0008.yaml")
    expected = pd.read_csv(folder / "_simulations.tsv", sep="\t")
    a, b = _matched(problem.simulation_table(), expected)
    np.testing.assert_allclose(a, b, rtol=0, atol=solution["tol_simulations"])


# PEtab v2 cases that celltwin simulates, and those it refuses with the feature named (the
# refusal's words are checked). docs/support_matrix.md lists both.
V2_PASSING = {"0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011", "0012",
              "0013", "0014", "0015", "0016", "0017", "0018", "0020", "0021", "0022", "0023", "0024", "0025",
              "0026", "0027", "0028", "0029", "0030", "0031", "0032"}
# one per kind of feature; others slow
V2_DEFAULT = {"0001", "0002", "0005", "0007", "0009", "0012", "0021", "0024", "0028", "0029"}
V2_REFUSED: dict[str, str] = {}


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=() if c in V2_DEFAULT else (pytest.mark.slow,)) for c in sorted(V2_PASSING)]
)
def test_petab_v2_case(case):
    folder, solution = _case("v2.0.0", case)
    problem = from_petab(folder / f"_{case}.yaml")
    assert_matches_solution(problem, solution, folder)


def _prior_mass_within(kind: str, parameters: list[float], lower: float, upper: float) -> float:
    """The probability a v2 prior gives to [lower, upper] (scipy.stats)."""
    import scipy.stats as st

    a, b = (*parameters, None)[:2]
    if kind in ("log-normal", "log-laplace"):  # distributions of log(value)
        lower, upper = (math.log(v) if v > 0 else -math.inf for v in (lower, upper))
    reference = {"uniform": lambda: st.uniform(a, b - a), "normal": lambda: st.norm(a, b),
                 "log-normal": lambda: st.norm(a, b), "laplace": lambda: st.laplace(a, b),
                 "log-laplace": lambda: st.laplace(a, b), "cauchy": lambda: st.cauchy(a, b),
                 "chisquare": lambda: st.chi2(a), "exponential": lambda: st.expon(scale=a),
                 "gamma": lambda: st.gamma(a, scale=b), "log-uniform": lambda: st.loguniform(a, b),
                 "rayleigh": lambda: st.rayleigh(scale=a)}[kind]()
    return float(reference.cdf(upper) - reference.cdf(lower))


@pytest.mark.parametrize("case", ["0024", "0025"])
def test_v2_priors_match_the_suite_up_to_the_truncation(case):
    """celltwin evaluates v2 priors as v1 does, not renormalised to the bounds
    (docs/support_matrix.md); the suite's log priors are renormalised. So ours minus the log of
    the prior's mass within the bounds (scipy) is the suite's value: in 0024 the bounds cut
    every prior but the uniform ones; in 0025 they cut none (mass 1). Parameters without a
    prior: the suite takes them as uniform on the bounds, celltwin as flat (0)."""
    folder, solution = _case("v2.0.0", case)
    problem = from_petab(folder / f"_{case}.yaml")
    table = pd.read_csv(folder / "_parameters.tsv", sep="\t").set_index("parameterId")
    with_prior = table[table["priorDistribution"].notna()]
    assert len(with_prior) == 11
    total = 0.0  # the problem's log prior: the suite's values, un-renormalised
    for pid, row in with_prior.iterrows():
        i = problem.parameters.ids.index(pid)
        value = problem.parameters.nominal[i]
        ours = float(problem.parameters.priors[pid].log_density(value, value))
        pars = [float(v) for v in str(row["priorParameters"]).split(";")]
        mass = _prior_mass_within(row["priorDistribution"], pars, row["lowerBound"], row["upperBound"])
        assert ours - math.log(mass) == pytest.approx(solution["log_prior"][pid], abs=1e-12), pid
        total += solution["log_prior"][pid] + math.log(mass)
    assert float(problem.log_prior(problem.x_nominal)) == pytest.approx(total, abs=1e-11)


@pytest.mark.parametrize("case", sorted(V2_REFUSED))
def test_petab_v2_refused_case_names_the_feature(case):
    folder, _ = _case("v2.0.0", case)
    with pytest.raises(UnsupportedFeatureError) as info:
        from_petab(folder / f"_{case}.yaml")
    assert V2_REFUSED[case] in str(info.value)
    assert str(folder) in str(info.value)  # the file at fault


def test_every_v2_case_is_classified():
    """A case added to the suite must be sorted into passing or refused (not silently skipped)."""
    if _v2_cases() == ["(absent)"]:
        pytest.skip("PEtab test suite not found (set CELLTWIN_SHARED_DATA)")
    assert set(_v2_cases()) == V2_PASSING | set(V2_REFUSED)


def test_petab_v2_simulation_table_is_in_v2_form():
    """Problem.simulation_table() of a v2 problem keys on experimentId (case 0009: pre-equilibration)."""
    folder, solution = _case("v2.0.0", "0009")
    table = from_petab(folder / "_0009.yaml").simulation_table()
    expected = pd.read_csv(folder / "_simulations.tsv", sep="\t")
    assert list(table["experimentId"]) == list(expected["experimentId"])
    np.testing.assert_allclose(table["time"], expected["time"])
    np.testing.assert_allclose(table["simulation"], expected["simulation"], rtol=0, atol=solution["tol_simulations"])


def test_unknown_format_version_is_refused(tmp_path):
    path = tmp_path / "problem.yaml"
    path.write_text("format_version: 3.0.0\n")
    with pytest.raises(PEtabError, match="format_version '3.0.0'"):
        from_petab(path)
