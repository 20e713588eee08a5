"""SBML import through python-libsbml into a :class:`Model`.

Everything the simulator cannot reproduce faithfully raises an error that names the SBML
element and what is unsupported: algebraic rules, delays, event triggers other than one comparison,
stoichiometry that changes over time, compartments whose size changes while they hold
concentration species.
"""

from __future__ import annotations

import math
import os

import libsbml
import sympy as sp

from ..errors import SBMLError, UnsupportedFeatureError
from ._model import TIME, Compartment, Event, Model, Parameter, Reaction, Species, crossing_function, symbol
from ._sbml_math import ast_to_sympy, check_math_names, function_definitions


def from_sbml(source: str | os.PathLike | libsbml.SBMLDocument | libsbml.Model) -> Model:
    """Read an SBML model (file path, XML string, libsbml document or model).

    Raises:
        SBMLError: the file is missing or not valid SBML.
        UnsupportedFeatureError: the model uses an SBML feature celltwin does not simulate.
    """
    model, label = _load(source)
    return _Importer(model, label).build()


def _load(source) -> tuple[libsbml.Model, str]:
    if isinstance(source, libsbml.Model):
        return source, source.getId() or "SBML model"
    if isinstance(source, libsbml.SBMLDocument):
        doc, label = source, "SBML document"
    else:
        text = str(source)
        if text.lstrip().startswith("<"):
            doc, label = libsbml.readSBMLFromString(text), "SBML string"
        else:
            if not os.path.isfile(text):
                raise SBMLError(f"{text}: SBML file not found")
            doc, label = libsbml.readSBMLFromFile(text), text
    errors = [
        doc.getError(i) for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if errors:
        first = errors[0]
        raise SBMLError(f"{label}: line {first.getLine()}: {first.getMessage().strip()}")
    if doc.getModel() is None:
        raise SBMLError(f"{label}: the document has no <model>")
    return doc.getModel(), label


class _Importer:
    def __init__(self, sbml: libsbml.Model, label: str):
        self.sbml = sbml
        self.label = label
        check_math_names(sbml, label)
        self.functions = function_definitions(sbml)

    def math(self, node, where: str) -> sp.Expr:
        return ast_to_sympy(node, self.functions, f"{self.label}: {where}")

    def unsupported(self, where: str, what: str) -> UnsupportedFeatureError:
        return UnsupportedFeatureError(f"{self.label}: {where}: {what} is not supported")

    def build(self) -> Model:
        m = self.sbml
        model = Model(m.getId() or "sbml_model")
        for c in m.getListOfCompartments():
            size = c.getSize() if c.isSetSize() else 1.0
            if math.isnan(size):
                size = 1.0
            model.compartments[c.getId()] = Compartment(c.getId(), sp.Float(size), c.getConstant())
        for p in m.getListOfParameters():
            value = p.getValue() if p.isSetValue() else 0.0
            model.parameters[p.getId()] = Parameter(p.getId(), 0.0 if math.isnan(value) else value, p.getConstant())
        for s in m.getListOfSpecies():
            model.species[s.getId()] = self.species(s, model)
        self.rules(model)
        for ia in m.getListOfInitialAssignments():
            model.initial_assignments[ia.getSymbol()] = self.math(ia.getMath(), f"initialAssignment {ia.getSymbol()!r}")
        for r in m.getListOfReactions():
            model.reactions[r.getId()] = self.reaction(r)
        for i, e in enumerate(m.getListOfEvents()):
            ev = self.event(e, i)
            if ev is not None:
                model.events[ev.id] = ev
        # <constraint>s only assert validity; they do not change a simulation.
        self.check_compartments(model)
        return model

    def species(self, s: libsbml.Species, model: Model) -> Species:
        sid = s.getId()
        amount_based = s.getHasOnlySubstanceUnits()
        comp = model.compartments.get(s.getCompartment())
        if comp is None:
            raise SBMLError(f"{self.label}: species {sid!r}: unknown compartment {s.getCompartment()!r}")
        volume = symbol(comp.id)
        if s.isSetInitialConcentration() and not math.isnan(s.getInitialConcentration()):
            conc = sp.Float(s.getInitialConcentration())
            initial = conc * volume if amount_based else conc
        elif s.isSetInitialAmount() and not math.isnan(s.getInitialAmount()):
            amount = sp.Float(s.getInitialAmount())
            initial = amount if amount_based else amount / volume
        else:
            initial = sp.Float(0.0)  # set by an initial assignment or a rule, checked later
        if s.isSetConversionFactor() or self.sbml.isSetConversionFactor():
            raise self.unsupported(f"species {sid!r}", "conversionFactor")
        return Species(sid, comp.id, initial, amount_based, s.getBoundaryCondition(), s.getConstant())

    def rules(self, model: Model) -> None:
        for rule in self.sbml.getListOfRules():
            if rule.isAlgebraic():
                name = rule.getIdAttribute() or rule.getMetaId()
                formula = libsbml.formulaToL3String(rule.getMath()) if rule.getMath() is not None else "?"
                raise self.unsupported(f"algebraicRule {name!r} (0 = {formula})", "an algebraic rule (a DAE)")
            var = rule.getVariable()
            kind = "assignmentRule" if rule.isAssignment() else "rateRule"
            expr = self.math(rule.getMath(), f"{kind} for {var!r}")
            if var not in model.all_ids():
                raise self.unsupported(f"{kind} for {var!r}", "a rule for a species reference or unknown id")
            (model.assignment_rules if rule.isAssignment() else model.rate_rules)[var] = expr

    def reaction(self, r: libsbml.Reaction) -> Reaction:
        rid = r.getId()
        if r.getFast():
            raise self.unsupported(f"reaction {rid!r}", "fast='true'")
        law = r.getKineticLaw()
        if law is None or law.getMath() is None:
            raise SBMLError(f"{self.label}: reaction {rid!r} has no kinetic law")
        local = {}
        for lp in [*law.getListOfParameters(), *law.getListOfLocalParameters()]:
            local[symbol(lp.getId())] = sp.Float(lp.getValue())
        rate = self.math(law.getMath(), f"kinetic law of reaction {rid!r}").xreplace(local)

        def stoich(refs, side: str) -> dict[str, float]:
            out: dict[str, float] = {}
            for ref in refs:
                where = f"reaction {rid!r}, {side} {ref.getSpecies()!r}"
                if ref.isSetStoichiometryMath():
                    raise self.unsupported(where, "stoichiometryMath")
                if ref.isSetId() and self.sbml.getRule(ref.getId()) is not None:
                    raise self.unsupported(where, "a stoichiometry set by a rule")
                n = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
                if math.isnan(n):
                    n = 1.0
                if ref.isSetId() and self.sbml.getInitialAssignment(ref.getId()) is not None:
                    raise self.unsupported(where, "a stoichiometry set by an initial assignment")
                out[ref.getSpecies()] = out.get(ref.getSpecies(), 0.0) + n
            return out

        modifiers = tuple(m.getSpecies() for m in r.getListOfModifiers())
        return Reaction(rid, stoich(r.getListOfReactants(), "reactant"), stoich(r.getListOfProducts(), "product"),
                        rate, modifiers)

    def event(self, e: libsbml.Event, index: int) -> Event | None:
        eid = e.getId() or f"event_{index}"
        where = f"event {eid!r}"
        if e.isSetDelay():
            raise self.unsupported(where, "a delayed event")
        if e.isSetPriority():
            raise self.unsupported(where, "event priority")
        trigger = e.getTrigger()
        cond = self.math(trigger.getMath(), f"trigger of {where}")
        at = _time_trigger(cond)
        initial_value = trigger.getInitialValue() if trigger.isSetInitialValue() else True
        if at is None:
            condition = crossing_function(cond)
            if condition is None:
                raise self.unsupported(
                    where, f"the trigger {cond} (a comparison such as 'S >= 14' or 'time >= t1' is supported; "
                           "and/or of comparisons, equalities and other conditions are not)"
                )
            assignments = self.event_assignments(e, where)
            return Event(eid, None, assignments, condition, bool(initial_value))
        true_at_zero = at.is_number and (at < 0 or (at == 0 and isinstance(cond, (sp.Ge, sp.Le))))
        if true_at_zero and trigger.isSetInitialValue() and trigger.getInitialValue():
            # SBML time starts at 0: an initially true trigger that is already true there never
            # goes from false to true, so the event never fires (an initially false one fires at 0).
            return None
        return Event(eid, at, self.event_assignments(e, where))

    def event_assignments(self, e: libsbml.Event, where: str) -> dict:
        return {
            a.getVariable(): self.math(a.getMath(), f"{where}, assignment to {a.getVariable()!r}")
            for a in e.getListOfEventAssignments()
        }

    def check_compartments(self, model: Model) -> None:
        # Sizes changed by events are supported (the compiled event rescales the concentrations);
        # sizes that change continuously are not.
        changing = set(model.rate_rules) | set(model.assignment_rules)
        for c in model.compartments.values():
            if c.id in changing:
                inside = [s.id for s in model.species.values() if s.compartment == c.id and not s.amount_based]
                if inside:
                    raise self.unsupported(
                        f"compartment {c.id!r}",
                        f"a size that changes continuously (a rate or assignment rule) while it holds concentration "
                        f"species ({', '.join(inside[:3])})",
                    )


def _time_trigger(cond: sp.Basic) -> sp.Expr | None:
    """The firing time of a trigger ``time >= a`` / ``time > a`` (or mirrored), else None."""
    if isinstance(cond, (sp.Ge, sp.Gt)):
        big, small = cond.lhs, cond.rhs
    elif isinstance(cond, (sp.Le, sp.Lt)):
        big, small = cond.rhs, cond.lhs
    else:
        return None
    diff = sp.expand(big - small)
    if diff.coeff(TIME, 1) == 0 or TIME in (diff - diff.coeff(TIME, 1) * TIME).free_symbols:
        return None
    slope = diff.coeff(TIME, 1)
    if not slope.is_number or slope <= 0:
        return None
    rest = diff - slope * TIME
    if rest.free_symbols & {TIME}:
        return None
    return sp.simplify(-rest / slope)
