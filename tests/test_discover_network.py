"""Reaction-network discovery: mass-action systems with conservation laws, through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from celltwin.cli._app import app
from celltwin.discover import (
    Reaction,
    TimeCourses,
    conserved_directions,
    equations_of,
    term_f1,
    stoichiometric_conservation,
)
from celltwin.discover.systems import ENZYME, RECEPTOR_LIGAND

ENZYME_REACTIONS = [Reaction((1, 1, 0, 0), (0, 0, 1, 0), 2.0), Reaction((0, 0, 1, 0), (1, 1, 0, 0), 1.0),
                    Reaction((0, 0, 1, 0), (1, 0, 0, 1), 1.5)]


def _write_csv(path, system, noise, seed):
    data, _ = system.time_courses(noise, seed, relative=True)
    lines = [",".join(["t", *system.species, "condition"])]
    for traj in data.trajectories:
        for tk, row in zip(traj.t, traj.states):
            lines.append(",".join([repr(float(tk)), *(repr(float(v)) for v in row), f"run{traj.condition}"]))
    path.write_text("\n".join(lines) + "\n")


def test_equations_of_a_network_match_mass_action_by_hand():
    # E + S -> C (2), C -> E + S (1), C -> E + P (1.5): written out by hand in systems.ENZYME
    assert equations_of(("E", "S", "C", "P"), ENZYME_REACTIONS) == ENZYME.equations
    assert ENZYME_REACTIONS[2].text(("E", "S", "C", "P")) == "C -> E + P"


def test_stoichiometric_conservation_is_the_hand_computed_null_space():
    laws = stoichiometric_conservation(("E", "S", "C", "P"), ENZYME_REACTIONS)
    # the left null space of N = [[-1,-1,1,0],[1,1,-1,0],[1,0,-1,1]] is spanned by E + C and S + C + P
    basis = np.array([[laws_k.get(s, 0) for s in "ESCP"] for laws_k in laws], float)
    expected = np.array([[1, 0, 1, 0], [0, 1, 1, 1]], float)
    assert basis.shape == (2, 4)
    assert np.linalg.matrix_rank(np.vstack([basis, expected])) == 2
    # a species no reaction touches is a law of its own ({"X": 1}, a single-entry null vector)
    laws = stoichiometric_conservation(("A", "B", "X"), [Reaction((1, 0, 0), (0, 1, 0), 1.0)])
    assert sorted(sorted(law.items()) for law in laws) == [[("A", 1), ("B", 1)], [("X", 1)]]


def test_conserved_directions_found_in_noisy_data_span_the_true_laws():
    data, _ = ENZYME.time_courses(0.01, 0, relative=True)
    w = conserved_directions(data)
    expected = np.array([[1, 0, 1, 0], [0, 1, 1, 1]], float)
    assert w.shape == (2, 4)
    # each found direction lies in the span of E + C and S + C + P (residual of its projection)
    coef, *_ = np.linalg.lstsq(expected.T, w.T, rcond=None)
    assert np.linalg.norm(expected.T @ coef - w.T, axis=0).max() < 0.05
    # a system without conservation (receptor turnover) has none
    assert len(conserved_directions(RECEPTOR_LIGAND.time_courses(0.01, 0, relative=True)[0])) == 0


@pytest.mark.parametrize("system", [ENZYME, RECEPTOR_LIGAND], ids=["enzyme", "receptor-ligand"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cli_defaults_recover_the_network_at_1_percent_noise(tmp_path, system, seed):
    _write_csv(tmp_path / "data.csv", system, 0.01, seed)
    out = tmp_path / "model.json"
    res = CliRunner().invoke(app, ["discover", str(tmp_path / "data.csv"), "--time-col", "t", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    found = {s: doc[s] for s in system.species}
    for s, eq in system.equations.items():
        for term, c in eq.items():  # every true term, with its coefficient
            assert doc[s][term] == pytest.approx(c, rel=0.1), (s, term)
    if system is ENZYME:
        assert term_f1(system.equations, found) == 1.0
    else:  # receptor: one small spurious term (R*LR or LR in R's equation) in some seeds
        assert term_f1(system.equations, found) >= 0.9
    reactions = doc["#reactions"]
    assert reactions and all(r["rate_constant"] > 0 for r in reactions)
    assert "mass-action reactions" in " ".join(res.output.split())


def test_reaction_search_needs_the_mass_action_library(tmp_path):
    _write_csv(tmp_path / "data.csv", ENZYME, 0.01, 0)
    res = CliRunner().invoke(app, ["discover", str(tmp_path / "data.csv"), "--optimizer", "reactions", "--library",
                                   "hill", "--out", str(tmp_path / "m.json")])
    assert res.exit_code == 2 and "--library mass-action" in " ".join(res.output.split())


def test_time_courses_of_a_constant_catalyst_give_no_terms_for_it():
    # A + B -> A + C: the catalyst A is constant; C gains what B loses
    from celltwin.discover import discover_network
    from scipy.integrate import solve_ivp

    rng = np.random.default_rng(0)
    runs = []
    for a0, b0 in ((0.5, 2.0), (1.5, 1.0), (1.0, 0.5)):
        t = np.linspace(0, 4, 41)
        sol = solve_ivp(lambda _, x: [0.0, -0.8 * x[0] * x[1], 0.8 * x[0] * x[1]], (0, 4), [a0, b0, 0.0],
                        t_eval=t, rtol=1e-10, atol=1e-12)
        runs.append((t, sol.y.T * (1 + 0.01 * rng.standard_normal(sol.y.T.shape))))
    found = discover_network(TimeCourses.from_arrays(["A", "B", "C"], runs))
    assert found.equations()["A"] == {}
    assert sorted(found.equations()["B"]) == ["A*B"] and sorted(found.equations()["C"]) == ["A*B"]
    assert [r.text(found.species) for r in found.reactions] == ["A + B -> A + C"]
    assert found.reactions[0].rate_constant == pytest.approx(0.8, rel=0.05)


def test_reactions_of_reads_the_enzyme_equations_back_as_its_reactions():
    from celltwin.discover import reactions_of

    found = reactions_of(ENZYME.species, ENZYME.equations)
    got = sorted((r.text(ENZYME.species), round(r.rate_constant, 9)) for r in found)
    assert got == [("C -> E + P", 1.5), ("C -> E + S", 1.0), ("E + S -> C", 2.0)]
    # a negative coefficient on a term without the species is no mass-action network
    assert reactions_of(("x", "y"), {"x": {"y": -1.0}, "y": {}}) is None


def test_best_subset_honours_kinetic_signs_and_finds_the_sparse_support():
    from celltwin.discover.optimizers import BestSubset

    # BIC admits a pure-noise term with probability P(chi2_1 > log 2000) ~ 0.006 each: of 5 seeds
    # (4 noise terms each) at most one may carry a spurious term
    exact = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        features = rng.standard_normal((2000, 6))
        target = 2.0 * features[:, 1] - 1.0 * features[:, 4] + 0.01 * rng.standard_normal(2000)
        fit = BestSubset().fit(features, target)
        exact += np.flatnonzero(fit.coefficients).tolist() == [1, 4]
        assert fit.coefficients[[1, 4]] == pytest.approx([2.0, -1.0], abs=0.01)
    assert exact >= 4
    # term 4 may not be negative: the best model without it is the single term 1
    signs = np.zeros(6, bool)
    signs[4] = True
    fit = BestSubset().fit(features, target, nonnegative=signs)
    assert fit.coefficients[4] >= 0.0 and fit.coefficients[1] == pytest.approx(2.0, abs=0.1)
