"""PEtab v2 tables as the tables :meth:`Problem.from_tables` reads (PEtab v1 semantics).

The two versions describe the same measurement model in different tables:

* v2 *experiments* are sequences of periods; a period at ``-inf`` is a pre-equilibration and
  the period at ``t = 0`` the time course. Each experiment becomes one simulation condition
  (and one pre-equilibration condition where it has one) of the v1 form.
* v2 *conditions* list changes (``targetId``, ``targetValue``) one per row; they become the
  columns of a v1 condition table. A change persists until changed again, so a parameter set
  during pre-equilibration keeps its value in the time course unless the time course sets it.
* v2 observables name their placeholders (``observablePlaceholders``) and fold the
  transformation into ``noiseDistribution`` (``log-normal``); they become v1's
  ``observableParameter1_<id>`` placeholders and ``observableTransformation``.
* v2 parameters have no ``parameterScale`` (all linear) and ``estimate`` ``true``/``false``.

What v1 cannot express (condition changes during the time course, a start time other than 0,
formulas as target values, aliases in the mapping table, priors without a v1 type) is
refused with an :class:`UnsupportedFeatureError` naming the file, row and column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import pandas as pd

from ..errors import PEtabError, UnsupportedFeatureError
from ..model import is_identifier
from ..petab import PEtabSource
from ._cells import as_float, is_missing

PREEQUILIBRATION = "__preequilibration"  # suffix of the v1 pre-equilibration condition of an experiment
NO_EXPERIMENT = "__model_defaults"  # the v1 condition of measurements without an experimentId

# v2 noiseDistribution -> (v1 observableTransformation, v1 noiseDistribution)
_NOISE = {"": ("lin", "normal"), "normal": ("lin", "normal"), "laplace": ("lin", "laplace"),
          "log-normal": ("log", "normal"), "log-laplace": ("log", "laplace")}
# v2 priorDistribution -> v1 objectivePriorType (on linear scale: v2 parameters have no scale)
_PRIORS = {"normal": "normal", "laplace": "laplace", "log-normal": "logNormal", "log-laplace": "logLaplace",
           "uniform": "uniform"}


def _cell(row: dict, column: str) -> str:
    value = row.get(column, "")
    return "" if is_missing(value) else str(value).strip()


def _rows(source: PEtabSource, kind: str) -> Iterable[tuple[str, int, dict]]:
    """(file, line, row) for every row of every file of one table kind."""
    for path, df in source.tables.get(kind, []):
        for line, row in enumerate(df.to_dict("records"), start=2):
            yield str(path), line, row


def _rename(formula: str, names: dict[str, str]) -> str:
    """``formula`` with whole identifiers replaced (``k1`` but not ``k10`` or ``1e5``)."""
    if not names:
        return formula
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?!\w)")
    return pattern.sub(lambda m: names[m.group(1)], formula)


def _check_mapping(source: PEtabSource) -> None:
    for file, line, row in _rows(source, "mapping"):
        petab_id, model_id = _cell(row, "petabEntityId"), _cell(row, "modelEntityId")
        if model_id and model_id != petab_id:
            raise UnsupportedFeatureError(
                f"{file}, row {line}, column 'modelEntityId': the mapping table aliases {petab_id!r} to model "
                f"entity {model_id!r}; celltwin takes PEtab ids that are the model's own ids")


def _observables(source: PEtabSource) -> pd.DataFrame:
    records = []
    for file, line, row in _rows(source, "observable"):
        oid = _cell(row, "observableId")
        at = f"{file}, row {line} (observable {oid!r})"
        names = {}
        for column, kind in (("observablePlaceholders", "observable"), ("noisePlaceholders", "noise")):
            placeholders = [p.strip() for p in _cell(row, column).split(";") if p.strip()]
            for k, name in enumerate(placeholders, start=1):
                if not is_identifier(name):
                    raise PEtabError(f"{at}, column {column!r}: {name!r} is not a PEtab id")
                names[name] = f"{kind}Parameter{k}_{oid}"
        formula = _rename(_cell(row, "observableFormula"), names)
        # A noise formula may use the observable's own value (v2): its formula, in brackets.
        noise = _rename(_rename(_cell(row, "noiseFormula"), names), {oid: f"({formula})"} if formula else {})
        distribution = _cell(row, "noiseDistribution")
        if distribution not in _NOISE:
            raise PEtabError(f"{at}, column 'noiseDistribution': {distribution!r} is not one of "
                             f"{', '.join(d for d in _NOISE if d)}")
        transform, noise_distribution = _NOISE[distribution]
        records.append({"observableId": oid, "observableFormula": formula, "noiseFormula": noise,
                        "observableTransformation": transform, "noiseDistribution": noise_distribution})
    return pd.DataFrame.from_records(records, columns=["observableId", "observableFormula", "noiseFormula",
                                                       "observableTransformation", "noiseDistribution"])


def _parameters(source: PEtabSource) -> pd.DataFrame:
    records = []
    for file, line, row in _rows(source, "parameter"):
        pid = _cell(row, "parameterId")
        at = f"{file}, row {line} (parameter {pid!r})"
        estimate = _cell(row, "estimate").lower()
        if estimate not in ("true", "false"):
            raise PEtabError(f"{at}, column 'estimate': must be true or false, got {_cell(row, 'estimate')!r}")
        record = {"parameterId": pid, "parameterScale": "lin", "lowerBound": _cell(row, "lowerBound"),
                  "upperBound": _cell(row, "upperBound"), "nominalValue": _cell(row, "nominalValue"),
                  "estimate": "1" if estimate == "true" else "0",
                  "objectivePriorType": "", "objectivePriorParameters": ""}
        if estimate == "false":  # bounds do not apply to a fixed parameter (v2 leaves them empty)
            record["lowerBound"] = record["lowerBound"] or record["nominalValue"]
            record["upperBound"] = record["upperBound"] or record["nominalValue"]
        prior = _cell(row, "priorDistribution")
        if prior:
            if prior not in _PRIORS:
                raise UnsupportedFeatureError(
                    f"{at}, column 'priorDistribution': the prior {prior!r}; celltwin supports "
                    f"{', '.join(_PRIORS)} priors in PEtab v2 problems")
            record["objectivePriorType"] = _PRIORS[prior]
            record["objectivePriorParameters"] = _cell(row, "priorParameters")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _changes(source: PEtabSource) -> dict[str, list[tuple[str, str, str]]]:
    """condition id -> its changes as (target, value, where)."""
    changes: dict[str, list[tuple[str, str, str]]] = {}
    for file, line, row in _rows(source, "condition"):
        cid, target, value = _cell(row, "conditionId"), _cell(row, "targetId"), _cell(row, "targetValue")
        at = f"{file}, row {line} (condition {cid!r}), column 'targetValue'"
        if as_float(value) is None and not is_identifier(value):
            raise UnsupportedFeatureError(
                f"{at}: {value!r} is a formula; celltwin takes a number or a parameter id as a target value "
                "(define a parameter for the formula's value, or compute the number)")
        changes.setdefault(cid, []).append((target, value, at))
    return changes


def _periods(source: PEtabSource) -> dict[str, dict[float, list[str]]]:
    """experiment id -> period start time -> condition ids applied then."""
    periods: dict[str, dict[float, list[str]]] = {}
    for file, line, row in _rows(source, "experiment"):
        eid, cid = _cell(row, "experimentId"), _cell(row, "conditionId")
        start = as_float(_cell(row, "time"))
        if start is None or math.isnan(start) or start == math.inf:
            raise PEtabError(f"{file}, row {line}, column 'time': a period starts at a number or -inf, "
                             f"got {_cell(row, 'time')!r}")
        if start != -math.inf and start != 0.0:
            raise UnsupportedFeatureError(
                f"{file}, row {line} (experiment {eid!r}), column 'time': a period starting at t = {start:g}; "
                "celltwin simulates from t = 0, with an optional pre-equilibration (-inf): condition changes "
                "during the time course and other start times are not supported")
        conditions = periods.setdefault(eid, {}).setdefault(start, [])
        if cid:
            conditions.append(cid)
    return periods


def _conditions(source: PEtabSource, state_ids: set[str]) -> tuple[pd.DataFrame, dict[str, tuple[str, str | None]]]:
    """The v1 condition table, and experiment id -> (simulation condition, pre-equilibration condition)."""
    changes = _changes(source)
    rows: dict[str, dict[str, str]] = {NO_EXPERIMENT: {}}
    contexts: dict[str, tuple[str, str | None]] = {"": (NO_EXPERIMENT, None)}

    def applied(condition_ids: list[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for cid in condition_ids:
            for target, value, _ in changes.get(cid, []):
                values[target] = value
        return values

    for eid, periods in _periods(source).items():
        pre = applied(periods.get(-math.inf, [])) if -math.inf in periods else None
        main = applied(periods.get(0.0, []))
        if pre is not None:
            # Parameters keep a value set during pre-equilibration; states continue from the steady state.
            main = {**{t: v for t, v in pre.items() if t not in state_ids}, **main}
            rows[eid + PREEQUILIBRATION] = pre
        rows[eid] = main
        contexts[eid] = (eid, eid + PREEQUILIBRATION if pre is not None else None)
    targets = list(dict.fromkeys(t for values in rows.values() for t in values))
    table = pd.DataFrame([[values.get(t, "") for t in targets] for values in rows.values()],
                         index=pd.Index(list(rows), name="conditionId"), columns=targets)
    return table, contexts


def _measurements(source: PEtabSource, contexts: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    records = []
    for file, line, row in _rows(source, "measurement"):
        eid = _cell(row, "experimentId")
        if eid not in contexts:
            raise PEtabError(f"{file}, row {line}, column 'experimentId': experiment {eid!r} is not in the "
                             f"{source.files.names('experiment') or 'experiment table (the problem has none)'}")
        simulation, pre = contexts[eid]
        records.append({"observableId": _cell(row, "observableId"), "simulationConditionId": simulation,
                        "preequilibrationConditionId": pre or "", "time": _cell(row, "time"),
                        "measurement": _cell(row, "measurement"),
                        "observableParameters": _cell(row, "observableParameters"),
                        "noiseParameters": _cell(row, "noiseParameters")})
    return pd.DataFrame.from_records(records)


def v1_tables(source: PEtabSource, state_ids: Iterable[str]) -> dict[str, pd.DataFrame]:
    """The keywords ``measurements, observables, parameters, conditions`` of :meth:`Problem.from_tables`.

    Raises:
        PEtabError: a cell v2 does not allow (file, row and column named).
        UnsupportedFeatureError: a v2 feature celltwin does not simulate (named, with its file and row).
    """
    if source.content.get("extensions"):
        names = ", ".join(map(str, source.content["extensions"]))
        raise UnsupportedFeatureError(f"{source.path}, field 'extensions': {names}; PEtab SciML problems are read by "
                                      "celltwin.hybrid.sciml.from_petab_sciml (`celltwin hybrid`)")
    _check_mapping(source)
    conditions, contexts = _conditions(source, set(state_ids))
    return {"measurements": _measurements(source, contexts), "observables": _observables(source),
            "parameters": _parameters(source), "conditions": conditions}


def measurement_table(source: PEtabSource) -> pd.DataFrame:
    """The v2 measurement table as the simulation table reports it (numbers as floats)."""
    frame = source.table("measurement")
    if frame is None:  # every v2 problem has one (checked when it is read)
        raise PEtabError(f"{source.path}: no measurement table")
    frame = frame.copy()
    for column in frame.columns:
        frame[column] = frame[column].where(frame[column] != "")  # empty cells as NaN, as pandas reads them
    for column in ("time", "measurement"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame
