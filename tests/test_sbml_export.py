"""SBML export: a model written by celltwin reads back as the same model."""

from __future__ import annotations

import sympy as sp

from celltwin.model import Model, from_sbml, to_sbml
from celltwin.model._sbml import _load


def _same(a: Model, b: Model) -> None:
    assert list(a.species) == list(b.species)
    for sid in a.species:
        sa, sb = a.species[sid], b.species[sid]
        assert (sa.compartment, sa.amount_based, sa.boundary, sa.constant) == \
            (sb.compartment, sb.amount_based, sb.boundary, sb.constant)
        initial_b = b.initial_assignments.get(sid, sb.initial)  # an expression reads back as an assignment
        assert sp.simplify(a.initial_assignments.get(sid, sa.initial) - initial_b) == 0
    assert {k: v.value for k, v in a.parameters.items()} == {k: v.value for k, v in b.parameters.items()}
    assert list(a.reactions) == list(b.reactions)
    for rid, ra in a.reactions.items():
        rb = b.reactions[rid]
        assert dict(ra.reactants) == dict(rb.reactants) and dict(ra.products) == dict(rb.products)
        assert sp.simplify(ra.rate - rb.rate) == 0, rid
    for group in ("assignment_rules", "rate_rules", "initial_assignments"):
        ga, gb = getattr(a, group), getattr(b, group)
        if group == "initial_assignments":
            gb = {k: v for k, v in gb.items() if k not in a.species or k in ga}
        assert set(ga) == set(gb), group
        assert all(sp.simplify(ga[k] - gb[k]) == 0 for k in ga), group
    assert {e.id: (e.trigger_time, dict(e.assignments)) for e in a.events.values()} == \
        {e.id: (e.trigger_time, dict(e.assignments)) for e in b.events.values()}


def test_a_dsl_model_round_trips_through_sbml():
    m = Model("round trip")
    m.add_compartment("cell", 2.0)
    m.add_species("A", 10.0, compartment="cell")
    m.add_species("B", "A0 / 2", compartment="cell")
    m.add_species("C", 1.0, compartment="cell", amount_based=True)
    m.add_parameter("A0", 4.0)
    m.add_parameter("k", 0.5)
    m.add_parameter("Km", 3.0)
    m.add_reaction("bind", "A + 2 B -> C", rate="cell * (k * A * B**2 - 0.1 * C)")
    m.add_reaction("mm", "C -> A", rate="cell * k * C / (Km + C) * exp(-time) * log(Km)")
    m.add_assignment_rule("total", "A + B + C")
    m.add_rate_rule("Km", "-0.01 * Km")
    m.add_event("pulse", 5.0, {"A": "A + 1"})
    text = to_sbml(m)
    assert _load(text)[0].getSBMLDocument().getNumErrors(2) == 0  # no SBML errors
    _same(m, from_sbml(text))


def test_an_imported_model_round_trips():
    from conftest import require_shared

    path = require_shared("huber-finley", "egfr", "kholodenko1.xml")
    m = from_sbml(path)
    _same(m, from_sbml(to_sbml(m)))
