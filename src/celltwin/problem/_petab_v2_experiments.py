"""PEtab v2 experiments as v1 conditions, start times and model events.

A v2 experiment is a sequence of periods, each applying condition changes (``targetId``,
``targetValue``) at its start time. celltwin simulates one experiment as one v1 simulation
condition:

* a period at ``-inf`` is the pre-equilibration (its own v1 condition);
* the first finite period starts the simulation (its start time is the simulation's ``t0``)
  and its changes are the v1 condition's values, as long as they are numbers or parameter
  ids;
* every later period, and a first period with a formula as a target value, becomes a model
  event at the period's start that assigns all of the period's changes at once. An event
  evaluates its assignments with the values just before it fires, which is how v2 defines
  a period's changes (a target value ``A + 5`` refers to ``A`` at the end of the previous
  period), and a measurement at the start time sees the changed state, as v2 defines it.

A period that resizes a compartment changes no concentration (its event has
``keep_amounts=False``; the PEtab test suite keeps a concentration there, case 0022), unlike
an SBML event, which keeps the species' amounts.

Each event fires at a parameter added to the model (``+inf`` by default, never firing) that
only its own experiment's v1 condition sets to the period's start; the problem drops events
that never fire from a simulation, so each experiment runs through its own periods only.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable

import pandas as pd

from ..errors import CelltwinInputError, PEtabError, UnsupportedFeatureError
from ..model import TIME, Model, as_expr, is_identifier
from ..petab import PEtabSource
from ._cells import as_float, is_missing

PREEQUILIBRATION = "__preequilibration"  # suffix of the v1 pre-equilibration condition of an experiment
NO_EXPERIMENT = "__model_defaults"  # the v1 condition of measurements without an experimentId


@dataclasses.dataclass(frozen=True)
class Change:
    """One row of the condition table: set ``target`` to ``value`` (``at``: file, row, condition)."""

    target: str
    value: str
    at: str

    @property
    def is_formula(self) -> bool:
        """A target value that is neither a number nor a single id."""
        return as_float(self.value) is None and not is_identifier(self.value)


@dataclasses.dataclass(frozen=True)
class Experiments:
    """What the v1 tables and the model need to simulate the experiments.

    Attributes:
        model: the model with an event for each period that is not a v1 condition.
        conditions: the v1 condition table (index ``conditionId``).
        contexts: experiment id -> (simulation condition, pre-equilibration condition or None).
        start_times: simulation condition id -> the time its simulation starts.
    """

    model: Model
    conditions: pd.DataFrame
    contexts: dict[str, tuple[str, str | None]]
    start_times: dict[str, float]


def table_cell(row: dict, column: str) -> str:
    """A cell as stripped text ("" where empty)."""
    value = row.get(column, "")
    return "" if is_missing(value) else str(value).strip()


def table_rows(source: PEtabSource, kind: str) -> Iterable[tuple[str, int, dict]]:
    """(file, line, row) for every row of every file of one table kind."""
    for path, df in source.tables.get(kind, []):
        for line, row in enumerate(df.to_dict("records"), start=2):
            yield str(path), line, row


def _changes(source: PEtabSource) -> dict[str, list[Change]]:
    """condition id -> its changes."""
    changes: dict[str, list[Change]] = {}
    for file, line, row in table_rows(source, "condition"):
        cid = table_cell(row, "conditionId")
        at = f"{file}, row {line} (condition {cid!r})"
        changes.setdefault(cid, []).append(Change(table_cell(row, "targetId"), table_cell(row, "targetValue"), at))
    return changes


def _periods(source: PEtabSource) -> dict[str, dict[float, list[str]]]:
    """experiment id -> period start time -> condition ids applied then."""
    periods: dict[str, dict[float, list[str]]] = {}
    for file, line, row in table_rows(source, "experiment"):
        eid, cid = table_cell(row, "experimentId"), table_cell(row, "conditionId")
        start = as_float(table_cell(row, "time"))
        if start is None or math.isnan(start) or start == math.inf:
            raise PEtabError(f"{file}, row {line}, column 'time': a period starts at a number or -inf, "
                             f"got {table_cell(row, 'time')!r}")
        conditions = periods.setdefault(eid, {}).setdefault(start, [])
        if cid:
            conditions.append(cid)
    return periods


def _fresh_id(model: Model, base: str) -> str:
    name = base
    while name in model.all_ids():
        name += "_"
    return name


class _EventWriter:
    """Adds the events of periods to a copy of the model."""

    def __init__(self, model: Model, parameter_ids: Iterable[str]):
        self.model = copy.deepcopy(model)
        self.table_only = [p for p in parameter_ids if p not in self.model.all_ids()]
        self.targets = {*self.model.species, *self.model.compartments, *self.model.parameters}
        self.period_ids: list[str] = []

    def add(self, eid: str, k: int, start: float, changes: dict[str, Change]) -> str:
        """An event at ``start`` applying ``changes``; returns the id of its time parameter."""
        assignments = {}
        for target, change in changes.items():
            if target not in self.targets:
                raise PEtabError(f"{change.at}, column 'targetId': {target!r} is not a "
                                 "species, compartment or parameter of the model")
            try:
                expr = as_expr(change.value, where=f"{change.at}, column 'targetValue'")
            except CelltwinInputError as exc:
                raise PEtabError(str(exc)) from None
            for name in sorted(s.name for s in expr.free_symbols if s != TIME):
                if name in self.table_only:  # a parameter the model lacks: the event reads it from the model
                    self.model.add_parameter(name, 0.0)
                    self.table_only.remove(name)
                elif name not in self.model.all_ids():
                    raise PEtabError(f"{change.at}, column 'targetValue': {name!r} in {change.value!r} is not an id "
                                     "of the model or the "
                                     "parameter table")
            assignments[target] = expr
        time_id = _fresh_id(self.model, f"{eid}__period{k}_start")
        self.model.add_parameter(time_id, math.inf)  # never fires, except in its own experiment
        # PEtab's condition changes keep concentrations when they resize a compartment (case 0022)
        event = self.model.add_event(_fresh_id(self.model, f"{eid}__period{k}"), time_id, assignments,
                                     keep_amounts=False)
        # Events at the same time fire in the model's order: a period's changes come before the
        # model's own events (case 0030: the period sets C = 8, then the model's event doubles it).
        self.period_ids.append(event.id)
        events = self.model.events
        self.model.events = {**{i: events[i] for i in self.period_ids},
                             **{i: e for i, e in events.items() if i not in self.period_ids}}
        return time_id


def _applied(condition_ids: list[str], changes: dict[str, list[Change]]) -> dict[str, Change]:
    """The changes of the conditions of one period, by target."""
    values: dict[str, Change] = {}
    for cid in condition_ids:
        for change in changes.get(cid, []):
            values[change.target] = change
    return values


def experiments(source: PEtabSource, model: Model, parameter_ids: Iterable[str]) -> Experiments:
    """The v2 experiments of ``source`` in v1 form (see the module's description).

    Raises:
        PEtabError: a period start that is not a number or -inf, a target value that is not a
            formula of known ids, a target that is not in the model.
        UnsupportedFeatureError: a formula as a target value during pre-equilibration.
    """
    changes = _changes(source)
    writer = _EventWriter(model, parameter_ids)
    plans = {}
    for eid, periods in _periods(source).items():
        pre = _applied(periods.pop(-math.inf), changes) if -math.inf in periods else None
        for change in (pre or {}).values():
            if change.is_formula:
                raise UnsupportedFeatureError(
                    f"{change.at}, column 'targetValue': {change.value!r} is a formula in a pre-equilibration period (time -inf); celltwin "
                    "takes a number or a parameter id there (define a parameter for the formula's value)")
        starts = sorted(periods)
        t0 = starts[0] if starts else 0.0
        first = _applied(periods[t0], changes) if starts else {}
        timed = [(t, _applied(periods[t], changes)) for t in starts[1:]]
        if any(change.is_formula for change in first.values()):
            timed.insert(0, (t0, first))  # all of the period at once: its formulas see the values before it
            first = {}
        times = {writer.add(eid, k, start, period): start for k, (start, period) in enumerate(timed, start=1)}
        plans[eid] = (t0, pre, first, times)

    state_ids = set(writer.model.state_ids())
    rows: dict[str, dict[str, str]] = {NO_EXPERIMENT: {}}
    contexts: dict[str, tuple[str, str | None]] = {"": (NO_EXPERIMENT, None)}
    start_times = {NO_EXPERIMENT: 0.0}
    for eid, (t0, pre, first, times) in plans.items():
        main = {target: change.value for target, change in first.items()}
        if pre is not None:
            # Parameters keep a value set during pre-equilibration; states continue from the steady state.
            main = {**{t: c.value for t, c in pre.items() if t not in state_ids}, **main}
            rows[eid + PREEQUILIBRATION] = {target: change.value for target, change in pre.items()}
        rows[eid] = {**main, **{time_id: repr(start) for time_id, start in times.items()}}
        contexts[eid] = (eid, eid + PREEQUILIBRATION if pre is not None else None)
        start_times[eid] = t0
    targets = list(dict.fromkeys(t for values in rows.values() for t in values))
    table = pd.DataFrame([[values.get(t, "") for t in targets] for values in rows.values()],
                         index=pd.Index(list(rows), name="conditionId"), columns=targets)
    return Experiments(writer.model, table, contexts, start_times)
