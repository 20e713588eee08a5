"""PEtab v2 features beyond v1: experiments with several periods, start times other than 0,
formulas as condition target values, and v2's prior types.

References are closed forms of a reversible conversion ``A <-> B`` (hand-derived) and
scipy.stats densities.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
import yaml

from celltwin.errors import PEtabError, UnsupportedFeatureError
from celltwin.model import Model, write_sbml
from celltwin.problem import Prior, Problem, effective_prior, from_petab

K1, K2, A0, B0 = 0.8, 0.6, 2.0, 0.5


def conversion_model() -> Model:
    m = Model("conversion")
    m.add_compartment("cell", 1.0)
    m.add_species("A", A0, compartment="cell")
    m.add_species("B", B0, compartment="cell")
    m.add_parameter("k1", K1)
    m.add_parameter("k2", K2)
    m.add_reaction("fwd", "A -> B", rate="cell*k1*A")
    m.add_reaction("rev", "B -> A", rate="cell*k2*B")
    return m


def relax(a, b, dt, k1=K1, k2=K2):
    """(A, B) after ``dt`` from (a, b): A relaxes to its equilibrium share of A + B at rate k1 + k2."""
    a_eq = (a + b) * k2 / (k1 + k2)
    a_t = a_eq + (a - a_eq) * math.exp(-(k1 + k2) * dt)
    return a_t, a + b - a_t


def write_v2(folder: Path, conditions, experiments, measurements, parameters) -> Path:
    """A PEtab v2 problem of the conversion model with observables ``obs_a = A``, ``obs_b = B``."""
    folder.mkdir(exist_ok=True)
    write_sbml(conversion_model(), folder / "model.xml")
    tables = {
        "conditions": (["conditionId", "targetId", "targetValue"], conditions),
        "experiments": (["experimentId", "time", "conditionId"], experiments),
        "measurements": (["observableId", "experimentId", "time", "measurement"], measurements),
        "parameters": (["parameterId", "lowerBound", "upperBound", "nominalValue", "estimate"], parameters),
        "observables": (["observableId", "observableFormula", "noiseFormula", "noiseDistribution"],
                        [("obs_a", "A", "0.5", "normal"), ("obs_b", "B", "0.5", "normal")]),
    }
    for name, (columns, rows) in tables.items():
        pd.DataFrame(list(rows), columns=columns).to_csv(folder / f"{name}.tsv", sep="\t", index=False)
    content = {"format_version": "2.0.0", "parameter_files": ["parameters.tsv"],
               "model_files": {"model": {"language": "sbml", "location": "model.xml"}},
               "observable_files": ["observables.tsv"], "measurement_files": ["measurements.tsv"],
               "condition_files": ["conditions.tsv"], "experiment_files": ["experiments.tsv"]}
    (folder / "problem.yaml").write_text(yaml.safe_dump(content))
    return folder / "problem.yaml"


SIGMA = [("sigma_unused", "0.1", "10", "1", "false")]


def simulated(problem: Problem, theta=None) -> np.ndarray:
    return np.asarray(problem.simulate(problem.x_nominal if theta is None else theta).observables)


def test_later_period_assigns_with_the_values_before_it(tmp_path):
    """At t = 5 the condition swaps A and B and doubles k1 (formulas of the values just before);
    a measurement at t = 5 sees the changed state. Experiment e2 has no later period, so e1's
    event never fires in it."""
    path = write_v2(
        tmp_path / "p",
        conditions=[("swap", "A", "B"), ("swap", "B", "A"), ("swap", "k1", "2 * k1")],
        experiments=[("e1", 0, ""), ("e1", 5, "swap"), ("e2", 0, "")],
        measurements=[("obs_a", "e1", 0, 1), ("obs_a", "e1", 5, 1), ("obs_b", "e1", 5, 1), ("obs_a", "e1", 8, 1),
                      ("obs_a", "e2", 8, 1)],
        parameters=SIGMA)
    a5, b5 = relax(A0, B0, 5.0)
    a8, _ = relax(b5, a5, 3.0, k1=2 * K1)
    expected = [A0, b5, a5, a8, relax(A0, B0, 8.0)[0]]
    np.testing.assert_allclose(simulated(from_petab(path)), expected, rtol=1e-5)


def test_formula_in_the_first_period_and_a_later_start_time(tmp_path):
    """The experiment starts at t = 2 with ``A := A + 3 * shift``: A's initial value plus an
    estimated parameter that only the parameter table defines; the value follows theta."""
    path = write_v2(
        tmp_path / "p",
        conditions=[("c0", "A", "A + 3 * shift")],
        experiments=[("e1", 2, "c0")],
        measurements=[("obs_a", "e1", 2, 1), ("obs_b", "e1", 2, 1), ("obs_a", "e1", 4.5, 1)],
        parameters=[("shift", "0", "10", "0.5", "true")])
    problem = from_petab(path)
    assert problem.parameter_ids == ["shift"]
    for shift in (0.5, 1.25):
        a = A0 + 3 * shift
        expected = [a, B0, relax(a, B0, 2.5)[0]]
        np.testing.assert_allclose(simulated(problem, jnp.asarray([shift])), expected, rtol=1e-5)
    # the derivative of the first measurement's simulation in shift is 3 (A = A0 + 3 shift)
    grad = jax.grad(lambda th: problem.simulate(th).observables[0])(jnp.asarray([0.5]))
    np.testing.assert_allclose(grad, [3.0], rtol=1e-6)


def test_later_period_resizing_a_compartment_keeps_the_concentrations(tmp_path):
    """Doubling the compartment at t = 5 by a condition changes no concentration (PEtab's
    condition changes set their targets only; test-suite case 0022 keeps a rate-rule
    concentration), unlike an SBML event, which keeps the amounts
    (tests/test_sbml_features.py::test_compartment_resized_by_an_event_keeps_the_amounts).
    A and B follow from reactions written in amounts per time (cell * k * A), so their
    relaxation goes on as without the resize."""
    path = write_v2(tmp_path / "p", conditions=[("grow", "cell", "2")], experiments=[("e1", 0, ""), ("e1", 5, "grow")],
                    measurements=[("obs_a", "e1", 5, 1), ("obs_b", "e1", 5, 1), ("obs_a", "e1", 8, 1)],
                    parameters=SIGMA)
    a5, b5 = relax(A0, B0, 5.0)
    np.testing.assert_allclose(simulated(from_petab(path)), [a5, b5, relax(A0, B0, 8.0)[0]], rtol=1e-5)


def test_measurement_before_the_start_is_refused(tmp_path):
    path = write_v2(tmp_path / "p", conditions=[], experiments=[("e1", 2, "")],
                    measurements=[("obs_a", "e1", 1, 1)], parameters=SIGMA)
    with pytest.raises(PEtabError, match=r"row 2, column 'time': must be a number >= 2"):
        from_petab(path)


def test_formula_during_preequilibration_is_refused_with_the_feature_named(tmp_path):
    path = write_v2(tmp_path / "p", conditions=[("pre", "A", "B + 1")], experiments=[("e1", "-inf", "pre"), ("e1", 0, "")],
                    measurements=[("obs_a", "e1", 1, 1)], parameters=SIGMA)
    with pytest.raises(UnsupportedFeatureError, match=r"conditions.tsv, row 2 \(condition 'pre'\), column "
                                                      r"'targetValue': 'B \+ 1' is a formula in a pre-equilibration"):
        from_petab(path)


def test_unknown_id_in_a_formula_names_the_cell(tmp_path):
    path = write_v2(tmp_path / "p", conditions=[("c1", "A", "A + ghost")], experiments=[("e1", 0, ""), ("e1", 3, "c1")],
                    measurements=[("obs_a", "e1", 1, 1)], parameters=SIGMA)
    with pytest.raises(PEtabError, match=r"conditions.tsv, row 2 \(condition 'c1'\), column 'targetValue': "
                                         r"'ghost' in 'A \+ ghost' is not an id"):
        from_petab(path)


# --- priors -----------------------------------------------------------------------------------
# PEtab v2 prior type -> (celltwin kind, parameters, the scipy distribution)
V2_PRIORS = {
    "cauchy": ("cauchy", (3.0, 5.0), st.cauchy(3.0, 5.0)),
    "chisquare": ("chisquare", (4.0,), st.chi2(4.0)),
    "exponential": ("exponential", (3.0,), st.expon(scale=3.0)),
    "gamma": ("gamma", (3.0, 5.0), st.gamma(3.0, scale=5.0)),
    "log-uniform": ("logUniform", (3.0, 5.0), st.loguniform(3.0, 5.0)),
    "rayleigh": ("rayleigh", (3.0,), st.rayleigh(scale=3.0)),
}


@pytest.mark.parametrize("name", sorted(V2_PRIORS))
def test_v2_prior_densities_match_scipy(name):
    kind, parameters, reference = V2_PRIORS[name]
    prior = Prior(kind, *parameters)
    for v in (-1.0, 0.5, 3.0, 4.2, 5.0, 12.0):
        ours, expected = float(prior.log_density(v, v)), float(reference.logpdf(v))
        assert ours == (-math.inf if expected == -math.inf else pytest.approx(expected, rel=1e-12)), v
        grad = float(jax.grad(lambda x: prior.log_density(x, x))(v))
        assert not math.isnan(grad)  # also outside the support, where the density is 0


def test_v2_priors_are_read_from_a_v2_parameter_table_only(tmp_path):
    """A v2 problem's priors reach the problem with their parameters; the v1 form refuses
    v2's types (they are not PEtab v1 types)."""
    rows = [(f"p_{n.replace('-', '_')}", "0.1", "10", "4.2", "true") for n in sorted(V2_PRIORS)]
    path = write_v2(tmp_path / "p", conditions=[], experiments=[("e1", 0, "")],
                    measurements=[("obs_a", "e1", 1, 1)], parameters=rows)
    table = pd.read_csv(path.parent / "parameters.tsv", sep="\t")
    table["priorDistribution"] = sorted(V2_PRIORS)
    table["priorParameters"] = [";".join(map(str, V2_PRIORS[n][1])) for n in sorted(V2_PRIORS)]
    table.to_csv(path.parent / "parameters.tsv", sep="\t", index=False)
    problem = from_petab(path)
    expected = sum(V2_PRIORS[n][2].logpdf(4.2) for n in V2_PRIORS)
    assert float(problem.log_prior(problem.x_nominal)) == pytest.approx(expected, rel=1e-12)

    v1 = problem.tables["parameters"].assign(parameterScale="lin").set_index("parameterId")
    with pytest.raises(PEtabError, match="'cauchy' is not one of"):
        problem.with_tables(parameters=v1, petab_version=1)


@pytest.mark.parametrize("kind,cell,words", [("chisquare", "4;2", "needs 1 finite number 'degrees of freedom'"),
                                             ("gamma", "3", "needs 2 finite numbers 'shape;scale'"),
                                             ("exponential", "-3", "must be positive"),
                                             ("logUniform", "5;3", "needs a < b")])
def test_v2_prior_parameters_are_checked(kind, cell, words):
    from celltwin.problem._parameter_table import read_parameter_space

    table = pd.DataFrame([["p", "lin", 0.1, 10, 1.0, 1, kind, cell]],
                         columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                  "estimate", "objectivePriorType", "objectivePriorParameters"])
    with pytest.raises(PEtabError, match="row 2 \\(parameter 'p'\\), column 'objectivePriorParameters'") as info:
        read_parameter_space(table, "parameters.tsv", petab_version=2)
    assert words in str(info.value)


@pytest.mark.parametrize("name", ["cauchy", "log-uniform"])
def test_prior_draws_of_v2_types_follow_the_density_within_the_bounds(name):
    """The samplers' form of the prior is the density restricted to the bounds: its log density
    differs from scipy's by one constant (the log of the mass within the bounds)."""
    kind, parameters, reference = V2_PRIORS[name]
    distribution = effective_prior(Prior(kind, *parameters), "lin", 3.5, 4.8)
    x = np.array([3.6, 4.0, 4.7])
    offset = np.asarray(distribution.log_prob(jnp.asarray(x))) - reference.logpdf(x)
    np.testing.assert_allclose(offset, -math.log(reference.cdf(4.8) - reference.cdf(3.5)), rtol=1e-9)
    draws = np.asarray(distribution.sample(jax.random.PRNGKey(0), (2000,)))
    assert draws.min() >= 3.5 and draws.max() <= 4.8


def test_prior_without_draws_is_refused_with_the_parameter_named(tmp_path):
    path = write_v2(tmp_path / "p", conditions=[], experiments=[("e1", 0, "")],
                    measurements=[("obs_a", "e1", 1, 1)], parameters=[("p_gamma", "0.1", "10", "4.2", "true")])
    table = pd.read_csv(path.parent / "parameters.tsv", sep="\t").assign(priorDistribution="gamma",
                                                                         priorParameters="3;5")
    table.to_csv(path.parent / "parameters.tsv", sep="\t", index=False)
    with pytest.raises(PEtabError, match=r"parameters.tsv, row 2, column 'objectivePriorType': parameter 'p_gamma': "
                                         "drawing from a gamma prior"):
        from_petab(path).sample_prior(jax.random.PRNGKey(0), 3)
