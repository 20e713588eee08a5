"""A part of the state that is the same in every condition is solved once
(problem/_shared_blocks.py), with the results of solving the whole model per condition.

The model: a ligand L (set per condition) converts A into B at rate k L A, and a copy of the
same reaction at a reference dose L_ref carries A_ref -> B_ref; the observable is B / B_ref,
as in the GPCR example. Closed form: B(t) = a0 (1 - exp(-k L t)).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from celltwin.model import Model, compile_model, independent_blocks, restricted
from celltwin.problem import Problem
from celltwin.simulate import SolverSettings

A0, K, L_REF, SIGMA = 5.0, 0.3, 2.0, 0.05
DOSES = {"low": 0.5, "mid": 1.0, "high": 4.0}
TIMES = {"low": [1.0, 2.0], "mid": [0.5], "high": [0.25, 1.0, 3.0]}


def ratio_model(ref_rate: str = "k * L_ref * A_ref") -> Model:
    m = Model("ratio")
    m.add_compartment("cell", 1.0)
    m.add_parameter("k", K)
    m.add_parameter("a0", A0)
    for suffix, dose in (("", 1.0), ("_ref", L_REF)):
        m.add_species("L" + suffix, dose, compartment="cell", boundary=True, constant=True)
        m.add_species("A" + suffix, "a0", compartment="cell")
        m.add_species("B" + suffix, 0.0, compartment="cell")
    m.add_reaction("conversion", "A -> B", rate="k * L * A")
    m.add_reaction("conversion_ref", "A_ref -> B_ref", rate=ref_rate)
    m.add_assignment_rule("total_ref", "A_ref + B_ref")
    return m


def b_of(t, dose, k=K):
    return A0 * (1 - np.exp(-k * dose * t))


def ratio_problem(backend: str, model: Model | None = None, conditions: pd.DataFrame | None = None) -> Problem:
    rows = [(cid, t) for cid, ts in TIMES.items() for t in ts]
    measured = [b_of(t, DOSES[c]) / b_of(t, L_REF) + 0.01 * (-1) ** i for i, (c, t) in enumerate(rows)]
    measurements = pd.DataFrame({"observableId": "relative_b", "simulationConditionId": [c for c, _ in rows],
                                 "time": [t for _, t in rows], "measurement": measured})
    observables = pd.DataFrame({"observableFormula": ["B / B_ref"], "noiseFormula": [str(SIGMA)]},
                               index=pd.Index(["relative_b"], name="observableId"))
    parameters = pd.DataFrame([["k", "log10", 1e-3, 10.0, K, 1]],
                              columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                       "estimate"]).set_index("parameterId")
    if conditions is None:
        conditions = pd.DataFrame({"L": list(DOSES.values())}, index=pd.Index(list(DOSES), name="conditionId"))
    return Problem.from_tables(model or ratio_model(), measurements=measurements, observables=observables,
                               parameters=parameters, conditions=conditions,
                               settings=SolverSettings(rtol=1e-10, atol=1e-12, backend=backend))


def closed_form_llh(k: float) -> tuple[float, float]:
    """The log-likelihood and its derivative in k, by hand."""
    problem_rows = [(c, t) for c, ts in TIMES.items() for t in ts]
    llh = dllh = 0.0
    for i, (c, t) in enumerate(problem_rows):
        dose = DOSES[c]
        measured = b_of(t, dose) / b_of(t, L_REF) + 0.01 * (-1) ** i
        num, den = 1 - math.exp(-k * dose * t), 1 - math.exp(-k * L_REF * t)
        y = num / den
        dy = (dose * t * math.exp(-k * dose * t) * den - num * L_REF * t * math.exp(-k * L_REF * t)) / den**2
        r = measured - y
        llh += -0.5 * math.log(2 * math.pi * SIGMA**2) - 0.5 * (r / SIGMA) ** 2
        dllh += r / SIGMA**2 * dy
    return llh, dllh


def test_blocks_of_a_model_with_a_reference_copy():
    cm = compile_model(ratio_model())
    blocks = [[cm.state_ids[i] for i in b] for b in independent_blocks(cm)]
    assert sorted(map(sorted, blocks)) == [["A", "B", "L"], ["A_ref", "B_ref", "L_ref"]]


def test_a_reaction_joins_the_states_it_moves_even_where_its_rate_reads_neither():
    m = Model("constant_flux")
    m.add_compartment("cell", 1.0)
    m.add_parameter("v", 1.0)
    for s in ("A", "B", "C"):
        m.add_species(s, 1.0, compartment="cell")
    m.add_reaction("transfer", "A -> B", rate="v")
    m.add_reaction("decay", "C ->", rate="v * C")
    cm = compile_model(m)
    assert sorted(sorted(cm.state_ids[i] for i in b) for b in independent_blocks(cm)) == [["A", "B"], ["C"]]


def test_the_restricted_model_drops_the_other_part_and_the_rules_that_read_it():
    part = restricted(ratio_model(), {"A", "B", "L"})
    assert part.state_ids() == ["L", "A", "B"]
    assert list(part.reactions) == ["conversion"] and "total_ref" not in part.assignment_rules
    assert compile_model(part).parameter_ids == compile_model(ratio_model()).parameter_ids


@pytest.mark.parametrize("backend", ["native", "diffrax"])
def test_the_reference_copy_is_solved_once_and_matches_the_closed_form(backend):
    problem = ratio_problem(backend)
    split = problem._shared_blocks[0]
    assert split is not None
    assert [problem.compiled.state_ids[i] for i in split.shared_index] == ["L_ref", "A_ref", "B_ref"]
    theta = jnp.asarray([math.log10(K * 1.3)])
    llh, grad = jax.value_and_grad(problem.log_likelihood)(theta)
    expected, dk = closed_form_llh(K * 1.3)
    assert float(llh) == pytest.approx(expected, abs=1e-6)
    # d/d log10(k) = dk * k ln 10
    assert float(grad[0]) == pytest.approx(dk * K * 1.3 * math.log(10), rel=1e-6)
    # every condition's own states, and the shared ones at its own times
    sim = problem.simulation_table(np.asarray(theta))
    for c, t, y in zip(sim["simulationConditionId"], sim["time"], sim["simulation"]):
        assert y == pytest.approx(b_of(t, DOSES[c], K * 1.3) / b_of(t, L_REF, K * 1.3), rel=1e-7)


def test_a_copy_whose_parameters_differ_by_condition_is_solved_per_condition():
    m = ratio_model(ref_rate="k_ref * L_ref * A_ref")
    m.add_parameter("k_ref", K)
    conditions = pd.DataFrame({"L": list(DOSES.values()), "k_ref": [K, K, 2 * K]},
                              index=pd.Index(list(DOSES), name="conditionId"))
    problem = ratio_problem("native", m, conditions)
    assert problem._shared_blocks[0] is None
    conditions["k_ref"] = K  # now the same in every condition: shared again
    assert ratio_problem("native", m, conditions)._shared_blocks[0] is not None
