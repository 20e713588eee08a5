"""SBML import, feature by feature, against independent references.

Each test writes a tiny SBML model (L3V2 unless the feature needs another level), simulates it
with celltwin, and compares with a closed form or with scipy's ``solve_ivp`` (LSODA,
rtol 1e-10) of the hand-written ODE. Unsupported features must fail loudly, naming the element.
"""

from __future__ import annotations

import math

import libsbml
import numpy as np
import pytest

from celltwin.errors import SBMLError, UnsupportedFeatureError
from celltwin.model import compile_model, from_sbml

RTOL = 1e-7
ATOL = 1e-9
TS = np.array([0.0, 0.5, 1.0, 2.5, 4.0, 7.5, 10.0])

L3V2 = "http://www.sbml.org/sbml/level3/version2/core"
L3V1 = "http://www.sbml.org/sbml/level3/version1/core"
L2V4 = "http://www.sbml.org/sbml/level2/version4"


def m(formula: str) -> str:
    """MathML for an infix formula (libsbml's L3 formula parser)."""
    ast = libsbml.parseL3Formula(formula)
    assert ast is not None, libsbml.getLastParseL3Error()
    return libsbml.writeMathMLToString(ast).split("?>", 1)[1]


def doc(body: str, *, ns: str = L3V2, level: int = 3, version: int = 2) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="{ns}" level="{level}" version="{version}">'
        f'<model id="test_model">{body}</model></sbml>'
    )


def comps(**sizes: float) -> str:
    items = "".join(f'<compartment id="{c}" size="{v}" constant="true"/>' for c, v in sizes.items())
    return f"<listOfCompartments>{items}</listOfCompartments>"


def params(**values: float) -> str:
    items = "".join(f'<parameter id="{p}" value="{v}" constant="true"/>' for p, v in values.items())
    return f"<listOfParameters>{items}</listOfParameters>"


def species(*items: str) -> str:
    return f"<listOfSpecies>{''.join(items)}</listOfSpecies>"


def sp_(id: str, comp: str = "c", *, conc: float | None = None, amount: float | None = None,
        hosu: bool = False, boundary: bool = False, constant: bool = False) -> str:
    init = f'initialConcentration="{conc}"' if conc is not None else (
        f'initialAmount="{amount}"' if amount is not None else "")
    return (f'<species id="{id}" compartment="{comp}" {init} hasOnlySubstanceUnits="{str(hosu).lower()}" '
            f'boundaryCondition="{str(boundary).lower()}" constant="{str(constant).lower()}"/>')


def reaction(id: str, reactants: dict, products: dict, law: str, local: dict | None = None,
             modifiers: tuple = ()) -> str:
    def refs(tag: str, d: dict) -> str:
        if not d:
            return ""
        inner = "".join(f'<speciesReference species="{s}" stoichiometry="{n}" constant="true"/>' for s, n in d.items())
        return f"<{tag}>{inner}</{tag}>"

    mods = ""
    if modifiers:
        mods = "<listOfModifiers>" + "".join(f'<modifierSpeciesReference species="{s}"/>' for s in modifiers) + \
            "</listOfModifiers>"
    lp = ""
    if local:
        lp = "<listOfLocalParameters>" + "".join(f'<localParameter id="{k}" value="{v}"/>' for k, v in local.items()) \
            + "</listOfLocalParameters>"
    return (f'<reaction id="{id}" reversible="false">{refs("listOfReactants", reactants)}'
            f'{refs("listOfProducts", products)}{mods}<kineticLaw>{m(law)}{lp}</kineticLaw></reaction>')


def reactions(*items: str) -> str:
    return f"<listOfReactions>{''.join(items)}</listOfReactions>"


def close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol)


# --- species, compartments, units ---------------------------------------------------------------------------------


def test_concentration_and_amount_species_in_compartment_of_size_2_5(simulate):
    """A (concentration) -> B (amount, hasOnlySubstanceUnits) in a compartment of size 2.5.

    The kinetic law is in amount/time: k*A*V. So dA/dt = -k*A and dB/dt = k*A*V. Also: an
    initialAmount of a concentration species is divided by V, an initialConcentration of an
    amount species is multiplied by V.
    """
    V, k = 2.5, 0.3
    xml = doc(
        comps(c=V) + params(k=k)
        + species(sp_("A", conc=4.0), sp_("B", amount=3.0, hosu=True),
                  sp_("C", amount=5.0), sp_("D", conc=2.0, hosu=True))
        + reactions(reaction("R1", {"A": 1}, {"B": 1}, "k*A*c"))
    )
    states, _ = simulate(xml, TS)
    close(states["A"], 4.0 * np.exp(-k * TS))
    close(states["B"], 3.0 + 4.0 * V * (1 - np.exp(-k * TS)))
    close(states["C"], 5.0 / V)
    close(states["D"], 2.0 * V)


def test_two_compartments_transport(simulate):
    """Transport A (c1, V1=2) -> B (c2, V2=0.5) at k*A*V1 amount/time: dB/dt = k*A*V1/V2."""
    V1, V2, k = 2.0, 0.5, 0.4
    xml = doc(
        comps(c1=V1, c2=V2) + params(k=k)
        + species(sp_("A", "c1", conc=1.0), sp_("B", "c2", conc=0.0))
        + reactions(reaction("T", {"A": 1}, {"B": 1}, "k*A*c1"))
    )
    states, _ = simulate(xml, TS)
    close(states["A"], np.exp(-k * TS))
    close(states["B"], (1 - np.exp(-k * TS)) * V1 / V2)


def test_level2_version4_model(simulate):
    """The same concentration/amount semantics read from SBML L2V4."""
    V, k = 2.5, 0.3
    xml = doc(
        '<listOfCompartments><compartment id="c" size="2.5"/></listOfCompartments>'
        '<listOfSpecies><species id="A" compartment="c" initialConcentration="4"/>'
        '<species id="B" compartment="c" initialAmount="3" hasOnlySubstanceUnits="true"/></listOfSpecies>'
        '<listOfParameters><parameter id="k" value="0.3"/></listOfParameters>'
        f'<listOfReactions><reaction id="R1" reversible="false"><listOfReactants><speciesReference species="A"/>'
        f'</listOfReactants><listOfProducts><speciesReference species="B"/></listOfProducts>'
        f'<kineticLaw>{m("k*A*c")}</kineticLaw></reaction></listOfReactions>',
        ns=L2V4, level=2, version=4,
    )
    states, _ = simulate(xml, TS)
    close(states["A"], 4.0 * np.exp(-k * TS))
    close(states["B"], 3.0 + 4.0 * V * (1 - np.exp(-k * TS)))


def test_boundary_species_not_changed_by_reactions(simulate):
    """Boundary S feeds P (S -> P at k*S*V): S stays, P grows linearly; a second boundary
    species changed by a rate rule feeds Q."""
    k, V = 0.7, 2.0
    xml = doc(
        comps(c=V) + params(k=k)
        + species(sp_("S", conc=2.0, boundary=True), sp_("P", conc=0.0),
                  sp_("T", conc=1.0, boundary=True), sp_("Q", conc=0.0))
        + "<listOfRules>" + f'<rateRule variable="T">{m("0.5")}</rateRule>' + "</listOfRules>"
        + reactions(reaction("R1", {"S": 1}, {"P": 1}, "k*S*c"), reaction("R2", {"T": 1}, {"Q": 1}, "k*T*c"))
    )
    states, _ = simulate(xml, TS)
    close(states["S"], 2.0)
    close(states["P"], 2.0 * k * TS)
    close(states["T"], 1.0 + 0.5 * TS)
    close(states["Q"], k * (TS + 0.25 * TS**2))


def test_constant_species(simulate):
    """A constant (and boundary) species used as reactant, and a constant non-boundary modifier."""
    k = 0.2
    xml = doc(
        comps(c=1.5) + params(k=k)
        + species(sp_("E", conc=3.0, boundary=True, constant=True), sp_("M", conc=2.0, constant=True),
                  sp_("P", conc=0.0))
        + reactions(reaction("R1", {"E": 1}, {"P": 1}, "k*E*M*c", modifiers=("M",)))
    )
    states, _ = simulate(xml, TS)
    close(states.get("E", np.full_like(TS, 3.0)), 3.0)
    close(states.get("M", np.full_like(TS, 2.0)), 2.0)
    close(states["P"], 6.0 * k * TS)


def test_non_integer_stoichiometry(simulate):
    """0.5 A -> 1.5 B at rate k*A*V: dA/dt = -0.5 k A, dB/dt = 1.5 k A."""
    k = 0.4
    xml = doc(
        comps(c=3.0) + params(k=k) + species(sp_("A", conc=2.0), sp_("B", conc=0.0))
        + reactions(reaction("R1", {"A": 0.5}, {"B": 1.5}, "k*A*c"))
    )
    states, _ = simulate(xml, TS)
    close(states["A"], 2.0 * np.exp(-0.5 * k * TS))
    close(states["B"], 3.0 * 2.0 * (1 - np.exp(-0.5 * k * TS)))


# --- parameters, kinetic laws, functions ---------------------------------------------------------------------------


def test_global_and_local_parameters(simulate):
    """A local parameter k shadows the global k inside R1 only; R2 uses the global k."""
    xml = doc(
        comps(c=1.0) + params(k=1.0) + species(sp_("A", conc=1.0), sp_("B", conc=1.0))
        + reactions(reaction("R1", {"A": 1}, {}, "k*A", local={"k": 0.3}), reaction("R2", {"B": 1}, {}, "k*B"))
    )
    states, _ = simulate(xml, TS)
    close(states["A"], np.exp(-0.3 * TS))
    close(states["B"], np.exp(-1.0 * TS))


def test_parameter_value_change_at_simulation(simulate):
    """Parameters are inputs of the compiled model: a changed value changes the solution."""
    xml = doc(comps(c=1.0) + params(k=1.0) + species(sp_("A", conc=1.0))
              + reactions(reaction("R1", {"A": 1}, {}, "k*A")))
    states, _ = simulate(xml, TS, parameters={"k": 0.25})
    close(states["A"], np.exp(-0.25 * TS))


def test_michaelis_menten_kinetic_law_matches_scipy(simulate, reference):
    Vm, Km, V = 1.2, 0.6, 2.0
    xml = doc(
        comps(c=V) + params(Vm=Vm, Km=Km) + species(sp_("S", conc=3.0), sp_("P", conc=0.0))
        + reactions(reaction("R1", {"S": 1}, {"P": 1}, "c*Vm*S/(Km + S)"))
    )
    states, _ = simulate(xml, TS)
    ref = reference(lambda t, y: [-Vm * y[0] / (Km + y[0]), Vm * y[0] / (Km + y[0])], [3.0, 0.0], TS)
    close(states["S"], ref[:, 0])
    close(states["P"], ref[:, 1])


def test_nested_function_definitions(simulate):
    """g(a) = f(a, 2) + 1 with f(x, y) = x*y: the rate is (2k + 1)*A."""
    funcs = (
        "<listOfFunctionDefinitions>"
        '<functionDefinition id="f"><math xmlns="http://www.w3.org/1998/Math/MathML"><lambda>'
        "<bvar><ci>x</ci></bvar><bvar><ci>y</ci></bvar><apply><times/><ci>x</ci><ci>y</ci></apply></lambda></math>"
        "</functionDefinition>"
        '<functionDefinition id="g"><math xmlns="http://www.w3.org/1998/Math/MathML"><lambda>'
        "<bvar><ci>a</ci></bvar><apply><plus/><apply><ci>f</ci><ci>a</ci><cn>2</cn></apply><cn>1</cn></apply>"
        "</lambda></math></functionDefinition>"
        "</listOfFunctionDefinitions>"
    )
    k = 0.1
    xml = doc(funcs + comps(c=1.0) + params(k=k) + species(sp_("A", conc=1.0))
              + reactions(reaction("R1", {"A": 1}, {}, "g(k)*A")))
    states, _ = simulate(xml, TS)
    close(states["A"], np.exp(-(2 * k + 1) * TS))


def test_function_argument_named_like_a_model_id(simulate):
    """A lambda argument named like a species must not capture the species."""
    funcs = (
        "<listOfFunctionDefinitions>"
        '<functionDefinition id="lin"><math xmlns="http://www.w3.org/1998/Math/MathML"><lambda>'
        "<bvar><ci>A</ci></bvar><bvar><ci>k</ci></bvar><apply><times/><ci>A</ci><ci>k</ci></apply></lambda></math>"
        "</functionDefinition></listOfFunctionDefinitions>"
    )
    xml = doc(funcs + comps(c=1.0) + params(k=0.5, kk=0.2) + species(sp_("A", conc=1.0), sp_("B", conc=2.0))
              + reactions(reaction("R1", {"A": 1}, {}, "lin(B, kk)*A/B")))
    states, _ = simulate(xml, TS)
    close(states["A"], np.exp(-0.2 * TS))


# --- rules -----------------------------------------------------------------------------------------------------------


def test_assignment_rule_chain_and_reaction_id_in_rules(simulate):
    """Rate uses p1 := 2*p2, p2 := k*B (a chain through a species); a rule on species C := A + B;
    a parameter flux := R1 (a reaction id) and a rate rule dZ/dt = R1 (total amount converted)."""
    k, V = 0.3, 2.0
    body = (
        comps(c=V) + params(k=k)
        + '<listOfParameters><parameter id="p1" constant="false"/><parameter id="p2" constant="false"/>'
          '<parameter id="flux" constant="false"/><parameter id="Z" value="0" constant="false"/></listOfParameters>'
        + species(sp_("A", conc=1.0), sp_("B", conc=0.5, boundary=True), sp_("C", conc=0.0))
        + "<listOfRules>"
        + f'<assignmentRule variable="p1">{m("2*p2")}</assignmentRule>'
        + f'<assignmentRule variable="p2">{m("k*B")}</assignmentRule>'
        + f'<assignmentRule variable="C">{m("A + B")}</assignmentRule>'
        + f'<assignmentRule variable="flux">{m("R1")}</assignmentRule>'
        + f'<rateRule variable="Z">{m("R1")}</rateRule>'
        + "</listOfRules>"
        + reactions(reaction("R1", {"A": 1}, {}, "p1*A*c"))
    )
    # two listOfParameters are not allowed: merge them
    body = body.replace("</listOfParameters><listOfParameters>", "")
    states, (p1, c, flux) = simulate(doc(body), TS, ["p1", "C", "flux"])
    rate = 2 * k * 0.5
    a = np.exp(-rate * TS)
    close(states["A"], a)
    close(p1, rate)
    close(c, a + 0.5)
    close(flux, rate * a * V)
    close(states["Z"], V * (1 - a))


def test_rate_rules_on_species_and_parameter(simulate):
    """dq/dt = 0.2 (q is a parameter), dX/dt = -q*X with q(0)=1: X = exp(-(t + 0.1 t^2))."""
    body = (
        comps(c=2.0) + '<listOfParameters><parameter id="q" value="1" constant="false"/></listOfParameters>'
        + species(sp_("X", conc=1.0))
        + "<listOfRules>" + f'<rateRule variable="q">{m("0.2")}</rateRule>'
        + f'<rateRule variable="X">{m("-q*X")}</rateRule></listOfRules>'
    )
    states, _ = simulate(doc(body), TS)
    close(states["q"], 1 + 0.2 * TS)
    close(states["X"], np.exp(-(TS + 0.1 * TS**2)))


def test_initial_assignments(simulate):
    """Initial assignments to a species (from a parameter), to a parameter, and to a species from
    another species: A0 = 2*k0, p = k0 + 1 (used as rate), B0 = 3*A0."""
    k0 = 1.5
    body = (
        comps(c=2.0) + '<listOfParameters><parameter id="k0" value="1.5" constant="true"/>'
        '<parameter id="p" value="99" constant="true"/></listOfParameters>'
        + species(sp_("A", conc=0.0), sp_("B", conc=0.0))
        + "<listOfInitialAssignments>"
        + f'<initialAssignment symbol="A">{m("2*k0")}</initialAssignment>'
        + f'<initialAssignment symbol="p">{m("k0 + 1")}</initialAssignment>'
        + f'<initialAssignment symbol="B">{m("3*A")}</initialAssignment>'
        + "</listOfInitialAssignments>"
        + reactions(reaction("R1", {"A": 1}, {}, "0.1*p*A*c"))
    )
    states, (p,) = simulate(doc(body), TS, ["p"])
    close(p, k0 + 1)
    close(states["A"], 2 * k0 * np.exp(-0.1 * (k0 + 1) * TS))
    close(states["B"], 3 * 2 * k0)


def test_initial_assignment_to_compartment(simulate):
    """initialAssignment c = 2*k to a constant compartment: the amount flux k*A*c into an
    amount species B sees the assigned size 2*k = 3."""
    k = 1.5
    body = (
        '<listOfCompartments><compartment id="c" size="1" constant="true"/></listOfCompartments>'
        + params(k=k) + species(sp_("A", conc=1.0), sp_("B", amount=0.0, hosu=True))
        + f'<listOfInitialAssignments><initialAssignment symbol="c">{m("2*k")}</initialAssignment>'
          "</listOfInitialAssignments>"
        + reactions(reaction("R1", {"A": 1}, {"B": 1}, "0.1*A*c"))
    )
    states, (c,) = simulate(doc(body), TS, ["c"])
    close(c, 2 * k)
    close(states["A"], np.exp(-0.1 * TS))
    close(states["B"], 2 * k * (1 - np.exp(-0.1 * TS)))


def test_initial_assignment_to_species_amount_semantics(simulate):
    """An initial assignment to a concentration species sets its concentration, also in a
    compartment of size != 1; to an amount species it sets the amount."""
    body = (
        comps(c=4.0) + params(k=2.0)
        + species(sp_("A", conc=0.0), sp_("B", amount=0.0, hosu=True))
        + "<listOfInitialAssignments>"
        + f'<initialAssignment symbol="A">{m("k")}</initialAssignment>'
        + f'<initialAssignment symbol="B">{m("A*c")}</initialAssignment>'
        + "</listOfInitialAssignments>"
    )
    states, _ = simulate(doc(body), TS[:2])
    close(states["A"], 2.0)
    close(states["B"], 8.0)


# --- piecewise, time ------------------------------------------------------------------------------------------------


def test_piecewise_in_time(simulate):
    """Production switched from 1 to 3 at t = 4 (a parameter): X = t for t<4, 4 + 3(t-4) after."""
    body = (
        comps(c=1.0) + params(ton=4.0) + species(sp_("X", conc=0.0))
        + reactions(reaction("R1", {}, {"X": 1}, "piecewise(1, time < ton, 3)"))
    )
    states, _ = simulate(doc(body), TS)
    close(states["X"], np.where(TS < 4, TS, 4 + 3 * (TS - 4)))


def test_piecewise_in_state(simulate, reference):
    """Decay rate switches when X drops below 1: k1 above, k2 below (continuous right-hand side)."""
    k1, k2 = 0.8, 0.1
    body = (
        comps(c=1.0) + params(k1=k1, k2=k2) + species(sp_("X", conc=4.0))
        + reactions(reaction("R1", {"X": 1}, {}, "piecewise(k1*X, X > 1, k2*X)"))
    )
    states, _ = simulate(doc(body), TS)
    t1 = math.log(4.0) / k1
    expected = np.where(TS < t1, 4.0 * np.exp(-k1 * TS), np.exp(-k2 * (TS - t1)))
    close(states["X"], expected, rtol=1e-6, atol=1e-8)


def test_piecewise_with_logical_operators(simulate):
    """A pulse of height 2 for 1 < t < 3 or t > 8, written with and/or/not."""
    body = (
        comps(c=1.0) + species(sp_("X", conc=0.0))
        + reactions(reaction("R1", {}, {"X": 1}, "piecewise(2, (time > 1 && !(time >= 3)) || time > 8, 0)"))
    )
    states, _ = simulate(doc(body), TS)
    expected = 2 * (np.clip(TS, 1, 3) - 1) + 2 * np.clip(TS - 8, 0, None)
    close(states["X"], expected)


def test_explicit_time_in_rates(simulate, reference):
    """dX/dt = k*time (kinetic law) and dY/dt = sin(time)*Y (rate rule)."""
    k = 0.3
    body = (
        comps(c=1.0) + params(k=k) + species(sp_("X", conc=1.0), sp_("Y", conc=1.0))
        + f'<listOfRules><rateRule variable="Y">{m("sin(time)*Y")}</rateRule></listOfRules>'
        + reactions(reaction("R1", {}, {"X": 1}, "k*time"))
    )
    states, _ = simulate(doc(body), TS)
    close(states["X"], 1 + k * TS**2 / 2)
    close(states["Y"], np.exp(1 - np.cos(TS)))


# --- events -----------------------------------------------------------------------------------------------------------


def _event(id: str, trigger: str, assignments: dict[str, str], extra: str = "", initial_value: bool = False) -> str:
    ass = "".join(f'<eventAssignment variable="{v}">{m(e)}</eventAssignment>' for v, e in assignments.items())
    return (f'<event id="{id}" useValuesFromTriggerTime="true">{extra}'
            f'<trigger initialValue="{str(initial_value).lower()}" persistent="true">{m(trigger)}</trigger>'
            f"<listOfEventAssignments>{ass}</listOfEventAssignments></event>")


def test_time_triggered_events(simulate, reference):
    """A decays at rate k; at t = 2 A is set to 10, at t = tev (a parameter, 6) B := B + A."""
    k = 0.5
    body = (
        comps(c=1.0) + params(k=k, tev=6.0) + species(sp_("A", conc=1.0), sp_("B", conc=0.0))
        + reactions(reaction("R1", {"A": 1}, {}, "k*A"))
        + "<listOfEvents>" + _event("E1", "time >= 2", {"A": "10"}) + _event("E2", "time >= tev", {"B": "B + A"})
        + "</listOfEvents>"
    )
    states, _ = simulate(doc(body), TS)
    ref = reference(lambda t, y: [-k * y[0], 0.0], [1.0, 0.0], TS,
                    events=[(2.0, lambda y: [10.0, y[1]]), (6.0, lambda y: [y[0], y[1] + y[0]])])
    close(states["A"], ref[:, 0])
    close(states["B"], ref[:, 1])
    # closed form at t = 10
    a6 = 10 * math.exp(-k * 4)
    assert states["B"][-1] == pytest.approx(a6, rel=1e-8)


def test_event_assignments_use_pre_event_values(simulate):
    """Swap A and B at t = 1: both assignments see the values before the event."""
    body = (
        comps(c=1.0) + species(sp_("A", conc=1.0), sp_("B", conc=5.0))
        + "<listOfEvents>" + _event("swap", "time >= 1", {"A": "B", "B": "A"}) + "</listOfEvents>"
    )
    states, _ = simulate(doc(body), [0.0, 0.5, 2.0])
    close(states["A"], [1.0, 1.0, 5.0])
    close(states["B"], [5.0, 5.0, 1.0])


def test_event_assignment_to_parameter(simulate, reference):
    """A non-constant parameter k switched from 0.1 to 1 at t = 3 by an event."""
    body = (
        comps(c=1.0) + '<listOfParameters><parameter id="k" value="0.1" constant="false"/></listOfParameters>'
        + species(sp_("A", conc=1.0)) + reactions(reaction("R1", {"A": 1}, {}, "k*A"))
        + "<listOfEvents>" + _event("E1", "time >= 3", {"k": "1"}) + "</listOfEvents>"
    )
    states, _ = simulate(doc(body), TS)
    expected = np.where(TS < 3, np.exp(-0.1 * TS), np.exp(-0.3) * np.exp(-(TS - 3)))
    close(states["A"], expected)


def test_event_with_trigger_true_at_start_and_initial_value_true_does_not_fire(simulate):
    """SBML: with initialValue=true a trigger that is already true at t0 has no false->true
    transition, so the event must not fire (here: time >= 0 at t0 = 0)."""
    body = (
        comps(c=1.0) + species(sp_("A", conc=1.0))
        + "<listOfEvents>" + _event("E0", "time >= 0", {"A": "7"}, initial_value=True) + "</listOfEvents>"
    )
    states, _ = simulate(doc(body), [0.0, 1.0])
    close(states["A"], [1.0, 1.0])


# --- MathML -----------------------------------------------------------------------------------------------------------

_MATHML_CASES = {
    # id: (MathML content, numpy function of t)
    "f_exp": ("<apply><exp/><apply><times/><cn>0.1</cn><csymbol encoding='text' "
              "definitionURL='http://www.sbml.org/sbml/symbols/time'>t</csymbol></apply></apply>",
              lambda t: np.exp(0.1 * t)),
    "f_ln": ("<apply><ln/><apply><plus/><ci>T</ci><cn>1</cn></apply></apply>", lambda t: np.log(t + 1)),
    "f_log10": ("<apply><log/><apply><plus/><ci>T</ci><cn>1</cn></apply></apply>", lambda t: np.log10(t + 1)),
    "f_log2": ("<apply><log/><logbase><cn>2</cn></logbase><apply><plus/><ci>T</ci><cn>1</cn></apply></apply>",
               lambda t: np.log2(t + 1)),
    "f_power": ("<apply><power/><apply><plus/><ci>T</ci><cn>1</cn></apply><cn>2.5</cn></apply>",
                lambda t: (t + 1) ** 2.5),
    "f_ipower": ("<apply><power/><apply><minus/><ci>T</ci><cn>3</cn></apply><cn type='integer'>3</cn></apply>",
                 lambda t: (t - 3) ** 3),
    "f_sqrt": ("<apply><root/><apply><plus/><ci>T</ci><cn>1</cn></apply></apply>", lambda t: np.sqrt(t + 1)),
    "f_root3": ("<apply><root/><degree><cn>3</cn></degree><apply><plus/><ci>T</ci><cn>1</cn></apply></apply>",
                lambda t: np.cbrt(t + 1)),
    "f_abs": ("<apply><abs/><apply><minus/><ci>T</ci><cn>5</cn></apply></apply>", lambda t: np.abs(t - 5)),
    "f_floor": ("<apply><floor/><apply><times/><cn>0.7</cn><ci>T</ci></apply></apply>", lambda t: np.floor(0.7 * t)),
    "f_ceil": ("<apply><ceiling/><apply><times/><cn>0.7</cn><ci>T</ci></apply></apply>",
               lambda t: np.ceil(0.7 * t)),
    "f_sin": ("<apply><sin/><ci>T</ci></apply>", np.sin),
    "f_cos": ("<apply><cos/><ci>T</ci></apply>", np.cos),
    "f_tan": ("<apply><tan/><apply><times/><cn>0.1</cn><ci>T</ci></apply></apply>", lambda t: np.tan(0.1 * t)),
    "f_tanh": ("<apply><tanh/><apply><minus/><ci>T</ci><cn>3</cn></apply></apply>", lambda t: np.tanh(t - 3)),
    "f_arctan": ("<apply><arctan/><ci>T</ci></apply>", np.arctan),
    "f_arcsin": ("<apply><arcsin/><apply><divide/><ci>T</ci><cn>20</cn></apply></apply>",
                 lambda t: np.arcsin(t / 20)),
    "f_cosh": ("<apply><cosh/><apply><divide/><ci>T</ci><cn>4</cn></apply></apply>", lambda t: np.cosh(t / 4)),
    "f_min": ("<apply><min/><ci>T</ci><cn>3</cn><apply><minus/><cn>12</cn><ci>T</ci></apply></apply>",
              lambda t: np.minimum(np.minimum(t, 3), 12 - t)),
    "f_max": ("<apply><max/><ci>T</ci><cn>3</cn></apply>", lambda t: np.maximum(t, 3)),
    "f_rem": ("<apply><rem/><ci>T</ci><cn>3</cn></apply>", lambda t: np.fmod(t, 3)),
    "f_quotient": ("<apply><quotient/><ci>T</ci><cn>3</cn></apply>", lambda t: np.trunc(t / 3)),
    "f_pi_e": ("<apply><plus/><pi/><exponentiale/></apply>", lambda t: np.full_like(t, math.pi + math.e)),
    "f_neg": ("<apply><minus/><ci>T</ci></apply>", lambda t: -t),
    "f_divide": ("<apply><divide/><cn>1</cn><apply><plus/><ci>T</ci><cn>2</cn></apply></apply>",
                 lambda t: 1 / (t + 2)),
    "f_eq": ("<piecewise><piece><cn>1</cn><apply><eq/><apply><floor/><ci>T</ci></apply><cn>4</cn></apply></piece>"
             "<otherwise><cn>0</cn></otherwise></piecewise>", lambda t: (np.floor(t) == 4).astype(float)),
    "f_xor": ("<piecewise><piece><cn>1</cn><apply><xor/><apply><gt/><ci>T</ci><cn>1</cn></apply>"
              "<apply><lt/><ci>T</ci><cn>5</cn></apply></apply></piece><otherwise><cn>0</cn></otherwise></piecewise>",
              lambda t: ((t > 1) ^ (t < 5)).astype(float)),
    "f_nary_lt": ("<piecewise><piece><cn>1</cn><apply><lt/><cn>1</cn><ci>T</ci><cn>5</cn></apply></piece>"
                  "<otherwise><cn>0</cn></otherwise></piecewise>", lambda t: ((1 < t) & (t < 5)).astype(float)),
    "f_piece_no_otherwise": ("<piecewise><piece><cn>2</cn><apply><lt/><ci>T</ci><cn>3</cn></apply></piece>"
                             "</piecewise>", lambda t: np.where(t < 3, 2.0, 0.0)),
}


def test_mathml_functions(simulate):
    """Each MathML function as an assignment rule of time (T := time), evaluated at several times."""
    time = "<csymbol encoding='text' definitionURL='http://www.sbml.org/sbml/symbols/time'>t</csymbol>"
    mathns = 'xmlns="http://www.w3.org/1998/Math/MathML"'
    ids = list(_MATHML_CASES)
    parameters = "".join(f'<parameter id="{p}" constant="false"/>' for p in ["T", *ids])
    rules = f'<assignmentRule variable="T"><math {mathns}>{time}</math></assignmentRule>'
    rules += "".join(f'<assignmentRule variable="{p}"><math {mathns}>{c}</math></assignmentRule>'
                     for p, (c, _) in _MATHML_CASES.items())
    body = (comps(c=1.0) + f"<listOfParameters>{parameters}</listOfParameters>" + species(sp_("X", conc=1.0))
            + f"<listOfRules>{rules}</listOfRules>")
    ts = np.array([0.0, 0.5, 1.7, 3.0, 4.2, 6.3, 9.9])
    _, values = simulate(doc(body), ts, ids)
    failures = []
    for pid, value in zip(ids, values):
        expected = _MATHML_CASES[pid][1](ts)
        if not np.allclose(value, expected, rtol=1e-12, atol=1e-12):
            failures.append(f"{pid}: got {value}, expected {expected}")
    assert not failures, "\n".join(failures)


def test_avogadro_and_boolean_constants(simulate):
    avogadro = "<csymbol encoding='text' definitionURL='http://www.sbml.org/sbml/symbols/avogadro'>NA</csymbol>"
    mathns = 'xmlns="http://www.w3.org/1998/Math/MathML"'
    body = (
        comps(c=1.0) + '<listOfParameters><parameter id="na" constant="false"/><parameter id="b" constant="false"/>'
        "</listOfParameters>" + species(sp_("X", conc=1.0))
        + f'<listOfRules><assignmentRule variable="na"><math {mathns}>{avogadro}</math></assignmentRule>'
        + f'<assignmentRule variable="b"><math {mathns}><piecewise><piece><cn>1</cn><true/></piece>'
          "<otherwise><cn>0</cn></otherwise></piecewise></math></assignmentRule></listOfRules>"
    )
    _, (na, b) = simulate(doc(body), [0.0, 1.0], ["na", "b"])
    close(na, 6.02214076e23)
    close(b, 1.0)


# --- unsupported features: loud errors naming the element ----------------------------------------------------------


def _raises(xml: str, *names: str, exc=(UnsupportedFeatureError, SBMLError)):
    """Import (and compile) must raise; the message must contain every name."""
    with pytest.raises(exc) as info:
        compile_model(from_sbml(xml))
    message = str(info.value)
    for name in names:
        assert name in message, f"{name!r} not in error message {message!r}"
    return message


def test_algebraic_rule_is_rejected():
    body = (
        comps(c=1.0) + '<listOfParameters><parameter id="x" value="1" constant="false"/></listOfParameters>'
        + species(sp_("A", conc=1.0))
        + f'<listOfRules><algebraicRule id="alg1">{m("x - A")}</algebraicRule></listOfRules>'
    )
    _raises(doc(body), "alg1", "algebraic")


def test_delay_is_rejected():
    delay = ("<apply><times/><ci>k</ci><apply><csymbol encoding='text' "
             "definitionURL='http://www.sbml.org/sbml/symbols/delay'>delay</csymbol><ci>A</ci><cn>1</cn></apply>"
             "</apply>")
    body = (
        comps(c=1.0) + params(k=0.1) + species(sp_("A", conc=1.0))
        + '<listOfReactions><reaction id="R_delayed" reversible="false"><listOfReactants>'
          '<speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>'
          f'<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">{delay}</math></kineticLaw></reaction>'
          "</listOfReactions>"
    )
    _raises(doc(body), "R_delayed", "delay")


def test_delayed_event_is_rejected():
    body = (
        comps(c=1.0) + species(sp_("A", conc=1.0))
        + "<listOfEvents>" + _event("E_late", "time >= 1", {"A": "2"}, extra=f"<delay>{m('0.5')}</delay>")
        + "</listOfEvents>"
    )
    _raises(doc(body), "E_late", "delay")


@pytest.mark.parametrize("trigger", ["(A < 0.5) && (time > 1)", "A == 0.5"])
def test_event_trigger_other_than_one_comparison_is_rejected(trigger):
    """Triggers by the state are supported (tests/test_state_events.py) when they are one
    comparison; and/or of comparisons and equalities are not."""
    body = (
        comps(c=1.0) + params(k=1.0) + species(sp_("A", conc=1.0)) + reactions(reaction("R1", {"A": 1}, {}, "k*A"))
        + "<listOfEvents>" + _event("E_state", trigger, {"A": "1"}) + "</listOfEvents>"
    )
    _raises(doc(body), "E_state", "comparison")


def test_fast_reaction_is_rejected():
    """fast="true" (SBML L3V1; the attribute was removed in L3V2)."""
    body = (
        comps(c=1.0) + params(k=1.0) + species(sp_("A", conc=1.0), sp_("B", conc=0.0))
        + '<listOfReactions><reaction id="R_fast" reversible="false" fast="true"><listOfReactants>'
          '<speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants><listOfProducts>'
          '<speciesReference species="B" stoichiometry="1" constant="true"/></listOfProducts>'
          f"<kineticLaw>{m('k*A')}</kineticLaw></reaction></listOfReactions>"
    )
    _raises(doc(body, ns=L3V1, level=3, version=1), "R_fast", "fast")


def test_stoichiometry_math_is_rejected():
    """<stoichiometryMath> (SBML L2)."""
    body = (
        '<listOfCompartments><compartment id="c" size="1"/></listOfCompartments>'
        '<listOfSpecies><species id="A" compartment="c" initialConcentration="1"/>'
        '<species id="B" compartment="c" initialConcentration="0"/></listOfSpecies>'
        '<listOfParameters><parameter id="k" value="1"/><parameter id="n" value="2"/></listOfParameters>'
        '<listOfReactions><reaction id="R_sm" reversible="false"><listOfReactants>'
        '<speciesReference species="A"/></listOfReactants><listOfProducts><speciesReference species="B">'
        f"<stoichiometryMath>{m('n')}</stoichiometryMath></speciesReference></listOfProducts>"
        f"<kineticLaw>{m('k*A')}</kineticLaw></reaction></listOfReactions>"
    )
    _raises(doc(body, ns=L2V4, level=2, version=4), "R_sm", "stoichiometryMath")


def test_event_priority_is_rejected():
    body = (
        comps(c=1.0) + species(sp_("A", conc=1.0))
        + "<listOfEvents>" + _event("E_prio", "time >= 1", {"A": "2"}, extra=f"<priority>{m('1')}</priority>")
        + "</listOfEvents>"
    )
    _raises(doc(body), "E_prio", "priority")


def test_rate_of_is_rejected():
    body = (
        comps(c=1.0) + '<listOfParameters><parameter id="r" constant="false"/></listOfParameters>'
        + species(sp_("A", conc=1.0))
        + '<listOfRules><assignmentRule variable="r"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply>'
          "<csymbol encoding='text' definitionURL='http://www.sbml.org/sbml/symbols/rateOf'>rateOf</csymbol>"
          "<ci>A</ci></apply></math></assignmentRule></listOfRules>"
    )
    _raises(doc(body), "rateOf")


def test_compartment_resized_by_an_event_keeps_the_amounts(simulate):
    """cv goes from 1 to 4 at t = 2: the concentration species A keeps its amount (its
    concentration drops 4x); A's production k*cv (amount per time) keeps d[A]/dt = k; an
    amount species B and a species C set by the same event are not rescaled."""
    k = 0.3
    body = (
        '<listOfCompartments><compartment id="cv" size="1" constant="false"/></listOfCompartments>'
        + params(k=k)
        + species(sp_("A", "cv", conc=1.0), sp_("B", "cv", amount=5.0, hosu=True), sp_("C", "cv", conc=2.0))
        + reactions(reaction("make", {}, {"A": 1}, "k*cv"))
        + "<listOfEvents>" + _event("grow", "time >= 2", {"cv": "4", "C": "7"}) + "</listOfEvents>"
    )
    ts = np.array([0.0, 1.0, 1.999, 2.0, 3.0])
    states, _ = simulate(doc(body), ts)
    a_before = 1 + k * np.minimum(ts, 2.0)
    expected_a = np.where(ts < 2, a_before, (1 + 2 * k) / 4 + k * (ts - 2))
    close(states["A"], expected_a)
    close(states["B"], np.full(len(ts), 5.0))
    close(states["C"], np.where(ts < 2, 2.0, 7.0))
    close(states["cv"], np.where(ts < 2, 1.0, 4.0))


def test_variable_compartment_with_concentration_species_is_rejected():
    body = (
        '<listOfCompartments><compartment id="cv" size="1" constant="false"/></listOfCompartments>'
        + species(sp_("A", "cv", conc=1.0))
        + f'<listOfRules><rateRule variable="cv">{m("0.1")}</rateRule></listOfRules>'
    )
    _raises(doc(body), "cv")


def test_conversion_factor_is_rejected():
    body = (
        comps(c=1.0) + params(cf=2.0)
        + species(sp_("A", conc=1.0).replace("/>", ' conversionFactor="cf"/>'))
    )
    _raises(doc(body), "'A'", "conversionFactor")


def test_malformed_xml_names_the_file(tmp_path):
    path = tmp_path / "broken_model.xml"
    path.write_text(doc(comps(c=1.0))[:-30])
    with pytest.raises(SBMLError) as info:
        from_sbml(path)
    assert "broken_model.xml" in str(info.value)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(SBMLError, match="no_such_model.xml"):
        from_sbml(tmp_path / "no_such_model.xml")


def test_invalid_sbml_names_the_problem():
    """Valid XML, invalid SBML (a species in an unknown compartment)."""
    with pytest.raises(SBMLError):
        from_sbml(doc(comps(c=1.0) + species(sp_("A", "nowhere", conc=1.0))))
