"""The observed species' time courses of a task, for methods that learn dynamics on them.

Model-free methods (sparse discovery, the neural ODE) learn ``dx/dt`` of the observed
species directly, so they need every observable to be a plain species (identity formula,
linear scale), every condition measured at shared times, and each condition's initial
state of the observed species. What a condition sets is read from the task's condition
table: a condition parameter used in a species' initial amount sets the initial state; any
other condition parameter (a dose) is a constant input to the learned dynamics. Anything
else is a :class:`~.base.MethodFailure` with the reason, which the runner stores as a
failure row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from ...model import as_expr
from .base import MethodFailure

MIN_TIMES = 4  # sampled times per training condition (t = 0 from the condition comes on top)


@dataclasses.dataclass(frozen=True)
class ObservedDesign:
    """Which observables are which species, and what the conditions set.

    Attributes:
        species: the observed species, in observable order.
        observables: the observable id of each species.
        inputs: condition parameters that are constant inputs (doses), not initial amounts.
    """

    species: tuple[str, ...]
    observables: tuple[str, ...]
    inputs: tuple[str, ...]

    def initial_state(self, problem, condition: str) -> np.ndarray:
        """The observed species' amounts at t = 0 in ``condition``."""
        conditions = problem.tables["conditions"]
        overrides = conditions.loc[condition].to_dict() if condition in conditions.index else {}
        model = problem.model
        values = {p.id: float(p.value) for p in model.parameters.values()}
        for key, value in overrides.items():
            if isinstance(value, int | float | np.number) and np.isfinite(value):
                values[str(key)] = float(value)
        out = []
        for s in self.species:
            if s in overrides and not (isinstance(overrides[s], float) and np.isnan(overrides[s])):
                if not isinstance(overrides[s], int | float | np.number):
                    raise MethodFailure(f"condition {condition!r} sets {s} to {overrides[s]!r}, not a number")
                out.append(float(overrides[s]))
                continue
            expr = model.initial_assignments.get(s, model.species[s].initial)
            expr = as_expr(expr, where=f"initial value of {s}")
            value = expr.subs({x: values[x.name] for x in expr.free_symbols if x.name in values})
            if value.free_symbols or not value.is_number or not np.isfinite(float(value)):
                raise MethodFailure(f"the initial amount of {s} in condition {condition!r} is not a number "
                                    f"from the condition table ({expr})")
            out.append(float(value))
        return np.asarray(out)

    def input_values(self, problem, condition: str) -> np.ndarray:
        """The dose inputs of ``condition`` (model nominal value where the table has none)."""
        conditions = problem.tables["conditions"]
        row = conditions.loc[condition] if condition in conditions.index else pd.Series(dtype=float)
        return np.asarray([float(row[p]) if p in row and pd.notna(row[p]) else float(problem.model.parameters[p].value)
                           for p in self.inputs], dtype=float)


def observed_design(problem) -> ObservedDesign:
    """What a model-free method sees of ``problem``.

    Raises:
        MethodFailure: an observable is not a plain species on linear scale, the model has
            rules or events the observed dynamics would miss, or there is no condition table.
    """
    if problem.tables is None:
        raise MethodFailure("the task's problem was not built from tables")
    model = problem.model
    observables = problem.tables["observables"]
    species, ids = [], []
    for oid, row in observables.iterrows():
        formula = str(row["observableFormula"]).strip()
        transform = str(row.get("observableTransformation", "lin") or "lin")
        if formula not in model.species or transform not in ("lin", "nan"):
            raise MethodFailure(f"observable {oid!r} is {formula!r} ({transform}), not a plain species: "
                                "this method learns the dynamics of observed species")
        species.append(formula)
        ids.append(str(oid))
    if model.events:
        raise MethodFailure("the model has events, which time courses of observed species do not show")
    conditions = problem.tables["conditions"]
    initial_symbols = set()
    for s in model.species.values():
        initial_symbols |= {str(x) for x in as_expr(model.initial_assignments.get(s.id, s.initial)).free_symbols}
    inputs = tuple(str(c) for c in conditions.columns
                   if str(c) in model.parameters and str(c) not in initial_symbols and conditions[c].nunique() > 1)
    return ObservedDesign(tuple(species), tuple(ids), inputs)


def training_runs(problem, design: ObservedDesign) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(condition, t, states)]`` per training condition, ``t`` starting at 0 with the
    condition's initial state, replicates averaged.

    Raises:
        MethodFailure: a condition has too few sampled times, or not every observed species
            is measured at every time.
    """
    df = problem.measurement_df
    runs = []
    for condition, rows in df.groupby("simulationConditionId", sort=True):
        table = rows.pivot_table(index="time", columns="observableId", values="measurement", aggfunc="mean")
        if set(table.columns) != set(design.observables) or table.isna().any().any():
            raise MethodFailure(f"condition {condition!r}: not every observed species is measured at every time")
        if len(table) < MIN_TIMES:
            raise MethodFailure(f"condition {condition!r} has {len(table)} sampled times; "
                                f"this method needs at least {MIN_TIMES}")
        t = table.index.to_numpy(dtype=float)
        states = table[list(design.observables)].to_numpy(dtype=float)
        x0 = design.initial_state(problem, str(condition))
        if t[0] > 0:
            t, states = np.concatenate([[0.0], t]), np.vstack([x0, states])
        runs.append((str(condition), t, states))
    return runs


def predict_table(heldout, design: ObservedDesign,
                  simulate: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """The value of every measurement row of ``heldout`` (table order) from
    ``simulate(x0, inputs, times) -> (len(times), n_species)`` per condition."""
    df = heldout.measurement_df
    out = np.full(len(df), np.nan)
    column = {o: k for k, o in enumerate(design.observables)}
    for condition, rows in df.groupby("simulationConditionId", sort=False):
        unknown = set(rows["observableId"]) - set(column)
        if unknown:
            raise MethodFailure(f"held-out observables {sorted(unknown)} are not observed in training")
        times = np.unique(np.concatenate([[0.0], rows["time"].to_numpy(dtype=float)]))
        x0 = design.initial_state(heldout, str(condition))
        sim = simulate(x0, design.input_values(heldout, str(condition)), times)
        where = np.searchsorted(times, rows["time"].to_numpy(dtype=float))
        out[rows.index.to_numpy()] = sim[where, [column[o] for o in rows["observableId"]]]
    return out
