"""The symbolic reaction-network model: what SBML import and the Python DSL both build.

All mathematics is held as sympy expressions over the ids of species, compartments and
parameters, plus the reserved symbol :data:`TIME`. Units follow SBML: a species id stands
for its concentration unless ``amount_based`` (SBML ``hasOnlySubstanceUnits``), and a
reaction rate is in amount per time (multiply by the compartment size for concentrations).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

import sympy as sp

from ..errors import CelltwinInputError
from ._formula import parse_formula

TIME = sp.Symbol("__time__", real=True)
"""The model time in every celltwin expression (SBML's ``time`` csymbol)."""

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Expr = sp.Expr


def as_expr(value: float | str | sp.Basic, *, where: str = "expression") -> sp.Expr:
    """Turn a number, a formula or a sympy object into a sympy expression.

    Strings are read by the formula grammar of :func:`~._formula.parse_formula` (PEtab's
    math, ``**`` also for powers), never evaluated as Python.

    Arguments:
        value: ``1.5``, ``"k1*A/(Km + A)"`` or a sympy expression; ``time`` means model time.
        where: what the value is, for the error message.

    Raises:
        CelltwinInputError: the string is not a formula.

    >>> as_expr("k1*A + time")
    A*k1 + __time__
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool):
        raise CelltwinInputError(f"{where} must be a number or a formula, got {value!r}")
    if isinstance(value, (int, float)):
        return sp.Float(value) if isinstance(value, float) else sp.Integer(value)
    if isinstance(value, str):
        return parse_formula(value, where=where, time=TIME)
    raise CelltwinInputError(f"{where} must be a number or a formula, got {value!r}")


def crossing_function(trigger: sp.Basic) -> sp.Expr | None:
    """The function whose crossing from negative to zero or positive makes ``trigger`` true:
    ``a >= b`` and ``a > b`` give ``a - b``, ``a <= b`` and ``a < b`` give ``b - a``; None for
    other triggers (``and``/``or`` of comparisons, equalities). A comparison read by the
    formula grammar (``Piecewise((1, a >= b), (0, True))``) counts as the comparison."""
    if (isinstance(trigger, sp.Piecewise) and len(trigger.args) == 2 and trigger.args[0].expr == 1
            and trigger.args[1].expr == 0 and trigger.args[1].cond is sp.true):
        trigger = trigger.args[0].cond
    if isinstance(trigger, (sp.Ge, sp.Gt)):
        return trigger.lhs - trigger.rhs
    if isinstance(trigger, (sp.Le, sp.Lt)):
        return trigger.rhs - trigger.lhs
    return None


def is_identifier(name) -> bool:
    """Whether ``name`` is an SBML/PEtab identifier (a letter or ``_``, then letters, digits, ``_``)."""
    return isinstance(name, str) and _ID.match(name) is not None


def symbol(name: str) -> sp.Symbol:
    """The sympy symbol celltwin uses for a model id."""
    return sp.Symbol(name, real=True)


@dataclasses.dataclass(frozen=True)
class Compartment:
    """A compartment; its size scales concentrations of the species inside."""

    id: str
    size: sp.Expr = sp.Float(1.0)
    constant: bool = True


@dataclasses.dataclass(frozen=True)
class Species:
    """A chemical species.

    ``initial`` is in the species' own unit: concentration, or amount if ``amount_based``.
    A ``boundary`` species is not changed by reactions (rules and events may change it);
    a ``constant`` species never changes.
    """

    id: str
    compartment: str
    initial: sp.Expr = sp.Float(0.0)
    amount_based: bool = False
    boundary: bool = False
    constant: bool = False


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A named constant of the model (a rate constant, a total, a scaling factor)."""

    id: str
    value: float = 0.0
    constant: bool = True


@dataclasses.dataclass(frozen=True)
class Reaction:
    """A reaction with stoichiometries and a rate in amount per time."""

    id: str
    reactants: Mapping[str, float]
    products: Mapping[str, float]
    rate: sp.Expr
    modifiers: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Event:
    """A discontinuous change of state, at a fixed time or when a condition on the state
    becomes true.

    A time event (``condition`` None) fires when ``time >= trigger_time``. A state event
    (``trigger_time`` None) fires whenever ``condition`` goes from negative to zero or
    positive (``S >= 14`` is ``condition = S - 14``); ``initial_value`` is the trigger's
    value before the start (SBML's ``initialValue``): if False and the condition already
    holds at the start, the event fires there. ``assignments`` map a species, compartment
    or parameter id to an expression that is evaluated just before the event fires.
    ``keep_amounts``: a compartment the event resizes keeps the amounts of its concentration
    species (SBML's events); False keeps their concentrations (PEtab v2's condition changes,
    test-suite case 0022).
    """

    id: str
    trigger_time: sp.Expr | None
    assignments: Mapping[str, sp.Expr]
    condition: sp.Expr | None = None
    initial_value: bool = True
    keep_amounts: bool = True


@dataclasses.dataclass
class Model:
    """A reaction network: species, compartments, parameters, reactions, rules, events.

    Build one in Python::

        >>> m = Model("decay")
        >>> _ = m.add_compartment("cell", 1.0)
        >>> _ = m.add_species("A", 10.0, compartment="cell")
        >>> _ = m.add_parameter("k", 0.5)
        >>> _ = m.add_reaction("degradation", "A ->", rate="cell*k*A")
        >>> m.state_ids()
        ['A']

    or read one from SBML with :func:`celltwin.model.from_sbml`.
    """

    name: str = "model"
    compartments: dict[str, Compartment] = dataclasses.field(default_factory=dict)
    species: dict[str, Species] = dataclasses.field(default_factory=dict)
    parameters: dict[str, Parameter] = dataclasses.field(default_factory=dict)
    reactions: dict[str, Reaction] = dataclasses.field(default_factory=dict)
    assignment_rules: dict[str, sp.Expr] = dataclasses.field(default_factory=dict)
    rate_rules: dict[str, sp.Expr] = dataclasses.field(default_factory=dict)
    initial_assignments: dict[str, sp.Expr] = dataclasses.field(default_factory=dict)
    events: dict[str, Event] = dataclasses.field(default_factory=dict)

    # --- building -------------------------------------------------------------------
    def _new_id(self, id_: str, kind: str) -> str:
        if not isinstance(id_, str) or not _ID.match(id_):
            raise CelltwinInputError(f"{kind} id {id_!r} is not a valid identifier")
        if id_ in self.all_ids():
            raise CelltwinInputError(f"{kind} id {id_!r} is already used in model {self.name!r}")
        return id_

    def add_compartment(self, id: str, size: float | str = 1.0, *, constant: bool = True) -> Compartment:
        """Add a compartment of the given size (a number or an expression)."""
        c = Compartment(self._new_id(id, "compartment"), as_expr(size, where=f"size of {id}"), constant)
        self.compartments[id] = c
        return c

    def add_species(
        self,
        id: str,
        initial: float | str = 0.0,
        *,
        compartment: str | None = None,
        amount_based: bool = False,
        boundary: bool = False,
        constant: bool = False,
    ) -> Species:
        """Add a species; without ``compartment`` a unit compartment ``default`` is used."""
        if compartment is None:
            if "default" not in self.compartments:
                self.add_compartment("default", 1.0)
            compartment = "default"
        if compartment not in self.compartments:
            raise CelltwinInputError(f"species {id!r}: unknown compartment {compartment!r}")
        s = Species(
            self._new_id(id, "species"), compartment, as_expr(initial, where=f"initial value of {id}"),
            amount_based, boundary, constant,
        )
        self.species[id] = s
        return s

    def add_parameter(self, id: str, value: float, *, constant: bool = True) -> Parameter:
        """Add a parameter with its default value."""
        p = Parameter(self._new_id(id, "parameter"), float(value), constant)
        self.parameters[id] = p
        return p

    def add_reaction(
        self,
        id: str,
        equation: str | None = None,
        *,
        rate: float | str | sp.Expr | Callable[["Model", "Reaction"], sp.Expr],
        reactants: Mapping[str, float] | None = None,
        products: Mapping[str, float] | None = None,
        modifiers: tuple[str, ...] = (),
    ) -> Reaction:
        """Add a reaction, written as ``"A + 2 B -> C"`` or with explicit stoichiometries.

        Arguments:
            id: reaction id.
            equation: ``"A + B -> AB"``; an empty side (``"A ->"``) means a source or sink.
            rate: the rate in amount per time: an expression string or sympy expression, or
                a rate law from :mod:`celltwin.model.ratelaws` such as ``mass_action("k1")``.
            reactants, products: stoichiometries, instead of ``equation``.
            modifiers: species that change the rate without being consumed.
        """
        if equation is not None:
            reactants, products = _parse_equation(equation, id)
        reactants = dict(reactants or {})
        products = dict(products or {})
        for sid in [*reactants, *products, *modifiers]:
            if sid not in self.species:
                raise CelltwinInputError(f"reaction {id!r}: unknown species {sid!r}")
        draft = Reaction(self._new_id(id, "reaction"), reactants, products, sp.Integer(0), tuple(modifiers))
        expr = rate(self, draft) if callable(rate) else as_expr(rate, where=f"rate of reaction {id}")
        r = dataclasses.replace(draft, rate=expr)
        self.reactions[id] = r
        return r

    def add_assignment_rule(self, variable: str, expression: str | sp.Expr) -> None:
        """Define ``variable`` (a new or existing id) as an expression at all times."""
        if variable not in self.all_ids():
            self.parameters[self._new_id(variable, "assignment rule")] = Parameter(variable, 0.0, False)
        self.assignment_rules[variable] = as_expr(expression, where=f"assignment rule for {variable}")

    def add_rate_rule(self, variable: str, expression: str | sp.Expr) -> None:
        """Set d(variable)/dt = expression for a species, compartment or parameter."""
        if variable not in self.all_ids():
            raise CelltwinInputError(f"rate rule: unknown variable {variable!r}")
        self.rate_rules[variable] = as_expr(expression, where=f"rate rule for {variable}")

    def add_event(self, id: str, at: float | str | None, assignments: Mapping[str, float | str], *,
                  when: str | None = None, initial_value: bool = True, keep_amounts: bool = True) -> Event:
        """Add an event that applies ``assignments``: once when time reaches ``at``, or,
        with ``at=None``, whenever the condition ``when`` (``"S >= 14"``; ``>``, ``<=``
        and ``<`` too) becomes true (see :class:`Event` for ``initial_value`` and
        ``keep_amounts``)."""
        for var in assignments:
            if var not in self.all_ids():
                raise CelltwinInputError(f"event {id!r}: unknown variable {var!r}")
        if (at is None) == (when is None):
            raise CelltwinInputError(f"event {id!r}: give either a time (at) or a condition (when), not both or neither")
        condition = None if when is None else crossing_function(as_expr(when, where=f"trigger of event {id}"))
        if when is not None and condition is None:
            raise CelltwinInputError(f"event {id!r}: the trigger {when!r} is not a comparison such as 'S >= 14'")
        ev = Event(
            self._new_id(id, "event"),
            None if at is None else as_expr(at, where=f"trigger time of event {id}"),
            {k: as_expr(v, where=f"assignment to {k} in event {id}") for k, v in assignments.items()},
            condition,
            bool(initial_value),
            bool(keep_amounts),
        )
        self.events[id] = ev
        return ev

    # --- queries --------------------------------------------------------------------
    def all_ids(self) -> set[str]:
        """Every id in use."""
        return {*self.compartments, *self.species, *self.parameters, *self.reactions, *self.events}

    def state_ids(self) -> list[str]:
        """Ids of the ODE state, in order.

        Every species that is not defined by an assignment rule, then compartments and
        parameters that change over time (rate rules, or event assignments).
        """
        states = [s for s in self.species if s not in self.assignment_rules]
        event_targets = {v for ev in self.events.values() for v in ev.assignments}
        for group in (self.compartments, self.parameters):
            for id_ in group:
                if id_ in self.rate_rules or (id_ in event_targets and id_ not in self.assignment_rules):
                    states.append(id_)
        return states

    def __repr__(self) -> str:
        return (
            f"Model({self.name!r}: {len(self.species)} species, {len(self.reactions)} reactions, "
            f"{len(self.parameters)} parameters, {len(self.compartments)} compartments)"
        )


def _parse_equation(equation: str, rid: str) -> tuple[dict[str, float], dict[str, float]]:
    if "->" not in equation:
        raise CelltwinInputError(f"reaction {rid!r}: equation {equation!r} needs '->'")
    left, right = equation.split("->", 1)
    return _parse_side(left, rid), _parse_side(right, rid)


def _parse_side(side: str, rid: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for term in side.split("+"):
        term = term.strip()
        if not term or term == "0" or term == "∅":
            continue
        parts = term.split()
        if len(parts) == 1:
            coeff, sid = 1.0, parts[0]
        elif len(parts) == 2:
            try:
                coeff = float(parts[0])
            except ValueError:
                raise CelltwinInputError(f"reaction {rid!r}: bad stoichiometry in {term!r}") from None
            sid = parts[1]
        else:
            raise CelltwinInputError(f"reaction {rid!r}: cannot read term {term!r}")
        result[sid] = result.get(sid, 0.0) + coeff
    return result
