"""Interventions on a model: what a scenario changes.

Each intervention edits the PEtab condition table (initial amounts, doses) or the model
(an inhibitor's free fraction) of a problem; :func:`apply` returns the edited tables and
the extra per-draw quantities (an inhibitor's free fraction when its Kd is uncertain).
"""

from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pandas as pd

from ..errors import CelltwinInputError
from ..model import as_expr, symbol
from ..units import CONCENTRATION_UNITS


@dataclasses.dataclass(frozen=True)
class Knockout:
    """The species is absent: its initial amount is 0 in every condition."""

    species: str

    @property
    def label(self) -> str:
        return f"{self.species} knocked out"


@dataclasses.dataclass(frozen=True)
class Overexpression:
    """The species' initial amount times ``fold`` in every condition."""

    species: str
    fold: float

    def __post_init__(self):
        if not self.fold > 0:
            raise CelltwinInputError(f"overexpression of {self.species}: fold must be > 0, got {self.fold}")

    @property
    def label(self) -> str:
        return f"{self.species} x{self.fold:g}"


@dataclasses.dataclass(frozen=True)
class Dose:
    """A new value of a species' initial amount or of a model parameter (a ligand dose), in
    the model's units, in every condition."""

    target: str
    value: float

    @property
    def label(self) -> str:
        return f"{self.target} = {self.value:g}"


@dataclasses.dataclass(frozen=True)
class Inhibitor:
    """An inhibitor at ``concentration`` binding ``target`` with dissociation constant ``kd``.

    The fraction of the target left free is ``1 - occupancy = Kd / (Kd + C)`` (one-site
    binding, inhibitor in excess). A species target keeps only that fraction of its initial
    amount available; a parameter target (a rate constant of the reaction the target
    catalyses) is multiplied by it. With ``kd_sd`` (log10 units, e.g. an ML prediction's
    spread) the Kd is drawn per posterior draw, so its uncertainty enters the prediction.
    """

    target: str
    concentration: float
    kd: float
    unit: str = "nM"
    kd_unit: str | None = None
    kd_sd: float | None = None

    def __post_init__(self):
        for unit in (self.unit, self.kd_unit or self.unit):
            if unit not in CONCENTRATION_UNITS:
                raise CelltwinInputError(f"inhibitor on {self.target}: unit {unit!r} is not one of "
                                         f"{', '.join(CONCENTRATION_UNITS)}")
        if not self.concentration >= 0 or not self.kd > 0:
            raise CelltwinInputError(f"inhibitor on {self.target}: need concentration >= 0 and Kd > 0")
        if self.kd_sd is not None and not self.kd_sd > 0:
            raise CelltwinInputError(f"inhibitor on {self.target}: kd_sd must be > 0")

    @property
    def label(self) -> str:
        return f"inhibitor of {self.target} at {self.concentration:g} {self.unit}"

    @property
    def fraction_parameter(self) -> str:
        return "free_fraction_" + re.sub(r"\W", "_", self.target)

    def free_fraction(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of ``Kd / (Kd + C)`` (all equal without ``kd_sd``)."""
        log_c = np.log10(self.concentration) + CONCENTRATION_UNITS[self.unit] if self.concentration > 0 else -np.inf
        log_kd = np.log10(self.kd) + CONCENTRATION_UNITS[self.kd_unit or self.unit]
        log_kd = log_kd + (self.kd_sd * rng.standard_normal(n) if self.kd_sd else np.zeros(n))
        return 1.0 / (1.0 + 10.0 ** (log_c - log_kd))


Intervention = Knockout | Overexpression | Dose | Inhibitor


def apply(interventions, model, conditions: pd.DataFrame, parameters: pd.DataFrame):
    """``(model, conditions, parameters, inhibitors)`` with ``interventions`` applied.

    Inhibitors add an estimated parameter ``free_fraction_<target>`` (linear scale) that the
    caller sets per draw; ``inhibitors`` lists them in the order they were added.
    """
    model = copy.deepcopy(model)
    conditions = conditions.copy()
    parameters = parameters.copy()
    inhibitors = []
    for item in interventions:
        if isinstance(item, Knockout | Overexpression):
            _require_species(model, item.species, item)
            conditions[item.species] = (0.0 if isinstance(item, Knockout)
                                        else _initial_values(model, conditions, item.species) * item.fold)
        elif isinstance(item, Dose):
            if item.target not in model.species and item.target not in model.parameters:
                raise CelltwinInputError(f"{item.label}: no species or parameter {item.target!r} in the model")
            if item.target in parameters.index and int(parameters.loc[item.target, "estimate"]) == 1:
                raise CelltwinInputError(f"{item.label}: {item.target!r} is an estimated parameter")
            conditions[item.target] = float(item.value)
        elif isinstance(item, Inhibitor):
            _add_inhibitor(model, conditions, item)
            row: dict[str, object] = {c: np.nan for c in parameters.columns}
            row.update(parameterScale="lin", lowerBound=0.0, upperBound=1.0, nominalValue=1.0, estimate=1)
            parameters.loc[item.fraction_parameter] = pd.Series(row)
            inhibitors.append(item)
        else:
            raise CelltwinInputError(f"unknown intervention {item!r}")
    return model, conditions, parameters, inhibitors


def _require_species(model, sid, item) -> None:
    if sid not in model.species:
        raise CelltwinInputError(f"{item.label}: no species {sid!r} in the model "
                                 f"(species: {', '.join(model.species)})")


def _initial_values(model, conditions, sid) -> np.ndarray:
    """Per condition, the numeric initial value of species ``sid``."""
    if sid in conditions.columns:
        values = pd.to_numeric(conditions[sid], errors="coerce")
        if values.isna().any():
            raise CelltwinInputError(f"species {sid!r}: the condition table sets it to a non-numeric value")
        return values.to_numpy(dtype=float)
    expr = model.initial_assignments.get(sid, model.species[sid].initial)
    values = {symbol(p): v.value for p, v in model.parameters.items()}
    number = as_expr(expr, where=f"initial value of {sid}").subs(values)
    if not number.is_number:
        raise CelltwinInputError(f"species {sid!r}: its initial value {expr} is not a number")
    return np.full(len(conditions), float(number))


def _add_inhibitor(model, conditions, item: Inhibitor) -> None:
    fraction = item.fraction_parameter
    model.add_parameter(fraction, 1.0)
    fraction_symbol = symbol(fraction)
    if item.target in model.species:
        if item.target in conditions.columns:
            raise CelltwinInputError(f"{item.label}: the condition table sets {item.target!r}; "
                                     "give the inhibitor on a rate constant instead")
        old = model.initial_assignments.get(item.target, model.species[item.target].initial)
        model.initial_assignments[item.target] = as_expr(old, where=f"initial value of {item.target}") * fraction_symbol
    elif item.target in model.parameters:
        target = symbol(item.target)
        for rid, r in model.reactions.items():
            model.reactions[rid] = dataclasses.replace(r, rate=r.rate.subs(target, target * fraction_symbol))
        for group in (model.assignment_rules, model.rate_rules):
            for var, expr in group.items():
                group[var] = expr.subs(target, target * fraction_symbol)
    else:
        raise CelltwinInputError(f"{item.label}: no species or parameter {item.target!r} in the model")
