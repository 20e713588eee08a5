"""Write a :class:`Model` as SBML Level 3 Version 2 (the inverse of :func:`from_sbml` for
everything the Python DSL builds: compartments, species, parameters, reactions, assignment
and rate rules, initial assignments and time-triggered events)."""

from __future__ import annotations

import re
from pathlib import Path

import sympy as sp

from .._atomic import atomic_write_text
from ..errors import CelltwinInputError
from ._model import TIME, Model


def _formula(expr: sp.Expr, where: str):
    import libsbml

    text = sp.sstr(expr.subs(TIME, sp.Symbol("time")), full_prec=True).replace("**", "^")
    text = re.sub(r"\blog\(", "ln(", text)  # sympy's log is natural; the L3 parser reads log as log10
    math = libsbml.parseL3Formula(text)
    if math is None:
        raise CelltwinInputError(f"{where}: {expr} has no SBML formula ({libsbml.getLastParseL3Error()})")
    return math


def to_sbml(model: Model) -> str:
    """The SBML document of ``model`` as a string.

    Raises:
        CelltwinInputError: an expression that SBML's formula syntax cannot hold.
    """
    import libsbml

    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId(re.sub(r"\W", "_", model.name) or "model")
    for c in model.compartments.values():
        comp = m.createCompartment()
        comp.setId(c.id), comp.setConstant(c.constant), comp.setSpatialDimensions(3)
        if c.size.is_number:
            comp.setSize(float(c.size))
        else:
            _initial_assignment(m, c.id, c.size)
    for s in model.species.values():
        sp_ = m.createSpecies()
        sp_.setId(s.id), sp_.setCompartment(s.compartment), sp_.setHasOnlySubstanceUnits(s.amount_based)
        sp_.setBoundaryCondition(s.boundary), sp_.setConstant(s.constant)
        if s.initial.is_number:
            (sp_.setInitialAmount if s.amount_based else sp_.setInitialConcentration)(float(s.initial))
        else:
            _initial_assignment(m, s.id, s.initial)
    for p in model.parameters.values():
        par = m.createParameter()
        par.setId(p.id), par.setValue(p.value), par.setConstant(p.constant and p.id not in model.assignment_rules)
    for var, expr in model.initial_assignments.items():
        _initial_assignment(m, var, expr)
    for var, expr in model.assignment_rules.items():
        rule = m.createAssignmentRule()
        rule.setVariable(var), rule.setMath(_formula(expr, f"assignment rule for {var}"))
    for var, expr in model.rate_rules.items():
        rule = m.createRateRule()
        rule.setVariable(var), rule.setMath(_formula(expr, f"rate rule for {var}"))
    for r in model.reactions.values():
        reaction = m.createReaction()
        reaction.setId(r.id), reaction.setReversible(False)
        for sid, n in r.reactants.items():
            ref = reaction.createReactant()
            ref.setSpecies(sid), ref.setStoichiometry(float(n)), ref.setConstant(True)
        for sid, n in r.products.items():
            ref = reaction.createProduct()
            ref.setSpecies(sid), ref.setStoichiometry(float(n)), ref.setConstant(True)
        for sid in r.modifiers:
            reaction.createModifier().setSpecies(sid)
        reaction.createKineticLaw().setMath(_formula(r.rate, f"rate of reaction {r.id}"))
    for ev in model.events.values():
        event = m.createEvent()
        event.setId(ev.id), event.setUseValuesFromTriggerTime(True)
        trigger = event.createTrigger()
        trigger.setPersistent(True)
        if ev.condition is not None:  # a state event: fires when the condition crosses zero upward
            trigger.setInitialValue(ev.initial_value)
            trigger.setMath(_formula(sp.GreaterThan(ev.condition, 0, evaluate=False), f"trigger of event {ev.id}"))
        else:
            trigger.setInitialValue(False)
            trigger.setMath(_formula(sp.GreaterThan(TIME, ev.trigger_time, evaluate=False), f"trigger of event {ev.id}"))
        for var, expr in ev.assignments.items():
            assignment = event.createEventAssignment()
            assignment.setVariable(var), assignment.setMath(_formula(expr, f"event {ev.id} assignment to {var}"))
    return libsbml.writeSBMLToString(doc)


def _initial_assignment(m, symbol: str, expr: sp.Expr) -> None:
    ia = m.createInitialAssignment()
    ia.setSymbol(symbol), ia.setMath(_formula(expr, f"initial value of {symbol}"))


def write_sbml(model: Model, path) -> Path:
    """Write ``model`` as SBML to ``path``; returns the path."""
    path = Path(path)
    atomic_write_text(path, to_sbml(model))
    return path
