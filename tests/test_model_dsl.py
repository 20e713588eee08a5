"""The Python model DSL against closed forms and scipy, and its input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from celltwin.errors import CelltwinInputError
from celltwin.model import Model, hill, mass_action, michaelis_menten

TS = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 8.0])


def close(actual, expected, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol)


def test_reversible_mass_action_binding_matches_scipy(simulate, reference):
    """A + B <-> C in a compartment of size 2 (rates in amount/time, states concentrations)."""
    kf, kr = 0.8, 0.3
    m = Model("binding")
    m.add_compartment("cell", 2.0)
    m.add_species("A", 1.0, compartment="cell")
    m.add_species("B", 0.6, compartment="cell")
    m.add_species("C", 0.0, compartment="cell")
    m.add_parameter("kf", kf)
    m.add_parameter("kr", kr)
    m.add_reaction("bind", "A + B -> C", rate=mass_action("kf", "kr"))
    states, _ = simulate(m, TS)

    def rhs(t, y):
        v = kf * y[0] * y[1] - kr * y[2]
        return [-v, -v, v]

    ref = reference(rhs, [1.0, 0.6, 0.0], TS)
    for i, sid in enumerate("ABC"):
        close(states[sid], ref[:, i])


def test_stoichiometry_two_in_equation(simulate, reference):
    """2 A -> D with mass action k*A^2: dA/dt = -2 k A^2, so A = A0 / (1 + 2 k A0 t)."""
    k = 0.5
    m = Model()
    m.add_species("A", 2.0)
    m.add_species("D", 0.0)
    m.add_parameter("k", k)
    m.add_reaction("dimerise", "2 A -> D", rate=mass_action("k"))
    states, _ = simulate(m, TS)
    close(states["A"], 2.0 / (1 + 2 * k * 2.0 * TS))
    close(states["D"], (2.0 - states["A"]) / 2)


def test_michaelis_menten_and_hill_match_scipy(simulate, reference):
    Vm, Km, Vh, K, n = 1.0, 0.5, 0.7, 0.4, 2.0
    m = Model()
    m.add_species("S", 3.0)
    m.add_species("P", 0.0)
    m.add_species("Q", 0.0)
    for pid, v in dict(Vm=Vm, Km=Km, Vh=Vh, K=K, n=n).items():
        m.add_parameter(pid, v)
    m.add_reaction("mm", "S -> P", rate=michaelis_menten("Vm", "Km"))
    m.add_reaction("act", "-> Q", rate=hill("Vh", "K", "n", activator="P"))
    states, _ = simulate(m, TS)

    def rhs(t, y):
        s, p, _ = y
        v1 = Vm * s / (Km + s)
        return [-v1, v1, Vh * p**n / (K**n + p**n)]

    ref = reference(rhs, [3.0, 0.0, 0.0], TS)
    for i, sid in enumerate("SPQ"):
        close(states[sid], ref[:, i])


def test_source_and_sink_with_expression_rate(simulate):
    """-> X at k0, X -> at k1*X: X = k0/k1 (1 - exp(-k1 t))."""
    m = Model()
    m.add_species("X", 0.0)
    m.add_parameter("k0", 2.0)
    m.add_parameter("k1", 0.5)
    m.add_reaction("make", "-> X", rate="k0*default")
    m.add_reaction("lose", "X ->", rate="k1*X*default")
    states, _ = simulate(m, TS)
    close(states["X"], 4.0 * (1 - np.exp(-0.5 * TS)))


def test_explicit_stoichiometry_dicts(simulate):
    m = Model()
    m.add_species("A", 1.0)
    m.add_species("B", 0.0)
    m.add_parameter("k", 0.2)
    m.add_reaction("r", reactants={"A": 1.0}, products={"B": 2.5}, rate="k*A")
    states, _ = simulate(m, TS)
    close(states["B"], 2.5 * (1 - np.exp(-0.2 * TS)))


def test_assignment_rule_and_rate_rule(simulate):
    """total := A + B (read out), and a rate rule on a parameter feeding a rate."""
    m = Model()
    m.add_species("A", 1.0)
    m.add_species("B", 0.0)
    m.add_parameter("k", 0.1, constant=False)
    m.add_rate_rule("k", "0.2")
    m.add_reaction("conv", "A -> B", rate="k*A")
    m.add_assignment_rule("total", "A + B")
    m.add_assignment_rule("twice_k", "2*k")
    states, (total, twice_k) = simulate(m, TS, ["total", "twice_k"])
    close(states["A"], np.exp(-(0.1 * TS + 0.1 * TS**2)))
    close(total, 1.0)
    close(twice_k, 2 * (0.1 + 0.2 * TS))


def test_rate_rule_on_species_with_time(simulate):
    m = Model()
    m.add_species("X", 1.0)
    m.add_rate_rule("X", "cos(time)")
    states, _ = simulate(m, TS)
    close(states["X"], 1 + np.sin(TS))


def test_events(simulate, reference):
    """Dose at t = 1 (X := X + 5) and at t = tdose (parameter, 3): X := 2*X."""
    k = 0.7
    m = Model()
    m.add_species("X", 1.0)
    m.add_parameter("k", k)
    m.add_parameter("tdose", 3.0)
    m.add_reaction("elim", "X ->", rate=mass_action("k"))
    m.add_event("dose1", at=1.0, assignments={"X": "X + 5"})
    m.add_event("dose2", at="tdose", assignments={"X": "2*X"})
    states, _ = simulate(m, TS)
    ref = reference(lambda t, y: [-k * y[0]], [1.0], TS,
                    events=[(1.0, lambda y: [y[0] + 5]), (3.0, lambda y: [2 * y[0]])])
    close(states["X"], ref[:, 0])
    x1 = math.exp(-k) + 5
    assert states["X"][-1] == pytest.approx(2 * x1 * math.exp(-2 * k) * math.exp(-5 * k), rel=1e-8)


def test_event_on_parameter(simulate):
    m = Model()
    m.add_species("X", 1.0)
    m.add_parameter("k", 0.0, constant=False)
    m.add_reaction("elim", "X ->", rate="k*X")
    m.add_event("switch_on", at=2.0, assignments={"k": 0.5})
    states, _ = simulate(m, TS)
    close(states["X"], np.where(TS < 2, 1.0, np.exp(-0.5 * (TS - 2))))


def test_amount_based_species_in_compartment(simulate):
    """An amount species in a compartment of size 4: the rate (amount/time) enters unscaled."""
    m = Model()
    m.add_compartment("cyt", 4.0)
    m.add_species("A", 2.0, compartment="cyt")
    m.add_species("N", 0.0, compartment="cyt", amount_based=True)
    m.add_parameter("k", 0.3)
    m.add_reaction("r", "A -> N", rate=mass_action("k"))
    states, _ = simulate(m, TS)
    close(states["A"], 2.0 * np.exp(-0.3 * TS))
    close(states["N"], 4.0 * 2.0 * (1 - np.exp(-0.3 * TS)))


def test_state_ids_and_repr():
    m = Model("m")
    m.add_species("A", 1.0)
    m.add_species("B", 1.0)
    m.add_parameter("k", 1.0, constant=False)
    m.add_rate_rule("k", "1")
    m.add_assignment_rule("B", "2*A")
    assert m.state_ids() == ["A", "k"]
    assert "2 species" in repr(m)


# --- invalid input ------------------------------------------------------------------------------------------------


def test_duplicate_id_is_rejected():
    m = Model("dup")
    m.add_species("A", 1.0)
    with pytest.raises(CelltwinInputError, match="'A'.*already used"):
        m.add_parameter("A", 1.0)


@pytest.mark.parametrize("bad", ["1abc", "a-b", "", "with space"])
def test_invalid_identifier_is_rejected(bad):
    with pytest.raises(CelltwinInputError, match="not a valid identifier"):
        Model().add_parameter(bad, 1.0)


def test_unknown_compartment_is_rejected():
    with pytest.raises(CelltwinInputError, match="unknown compartment 'nucleus'"):
        Model().add_species("A", 1.0, compartment="nucleus")


def test_reaction_with_unknown_species_is_rejected():
    m = Model()
    m.add_species("A", 1.0)
    with pytest.raises(CelltwinInputError, match="unknown species 'Z'"):
        m.add_reaction("r", "A -> Z", rate="1")


@pytest.mark.parametrize("equation,message", [("A = B", "needs '->'"), ("x A -> B", "bad stoichiometry"),
                                              ("1 2 A -> B", "cannot read term")])
def test_bad_equation_is_rejected(equation, message):
    m = Model()
    m.add_species("A", 1.0)
    m.add_species("B", 1.0)
    with pytest.raises(CelltwinInputError, match=message):
        m.add_reaction("r", equation, rate="1")


def test_unparsable_rate_is_rejected():
    m = Model()
    m.add_species("A", 1.0)
    with pytest.raises(CelltwinInputError,
                       match=r"rate of reaction r: cannot read the formula 'k\*\(A': expected '\)', found the end"):
        m.add_reaction("r", "A ->", rate="k*(A")


def test_rate_rule_for_unknown_variable_is_rejected():
    with pytest.raises(CelltwinInputError, match="unknown variable 'nope'"):
        Model().add_rate_rule("nope", "1")


def test_event_on_unknown_variable_is_rejected():
    with pytest.raises(CelltwinInputError, match="unknown variable 'nope'"):
        Model().add_event("e", at=1.0, assignments={"nope": 1.0})


def test_michaelis_menten_needs_substrate_with_two_reactants():
    m = Model()
    m.add_species("A", 1.0)
    m.add_species("B", 1.0)
    with pytest.raises(CelltwinInputError, match="substrate="):
        m.add_reaction("r", "A + B ->", rate=michaelis_menten(1.0, 1.0))


def test_undefined_symbol_in_rate_fails_at_compile():
    from celltwin.model import compile_model

    m = Model()
    m.add_species("A", 1.0)
    m.add_reaction("r", "A ->", rate="kmissing*A")
    with pytest.raises(CelltwinInputError, match="kmissing"):
        compile_model(m)


def test_assignment_rule_cycle_is_rejected():
    from celltwin.model import compile_model

    m = Model()
    m.add_species("A", 1.0)
    m.add_assignment_rule("p", "q + 1")
    m.add_assignment_rule("q", "2*p")
    m.add_reaction("r", "A ->", rate="p*A")
    with pytest.raises(CelltwinInputError, match="cycle"):
        compile_model(m)


def test_piecewise_in_rate_strings_follows_sbml_argument_order(simulate):
    """``piecewise(value, condition, otherwise)``: a source of 0.2 until t = 2, then 1."""
    m = Model()
    m.add_species("A", 0.0)
    m.add_reaction("source", "-> A", rate="piecewise(1, time > 2, 0.2)")
    states, _ = simulate(m, TS)
    close(states["A"], np.where(TS <= 2, 0.2 * TS, 0.4 + (TS - 2)))
