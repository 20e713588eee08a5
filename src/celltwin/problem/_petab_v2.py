"""PEtab v2 tables as the tables :meth:`Problem.from_tables` reads (PEtab v1 semantics).

The two versions describe the same measurement model in different tables:

* v2 *experiments* are sequences of periods; a period at ``-inf`` is a pre-equilibration and
  the first finite period starts the time course. Each experiment becomes one simulation
  condition (and one pre-equilibration condition where it has one) of the v1 form, with its
  own start time; later periods become model events (:mod:`._petab_v2_experiments`).
* v2 *conditions* list changes (``targetId``, ``targetValue``) one per row; they become the
  columns of a v1 condition table. A change persists until changed again, so a parameter set
  during pre-equilibration keeps its value in the time course unless the time course sets it.
* v2 observables name their placeholders (``observablePlaceholders``) and fold the
  transformation into ``noiseDistribution`` (``log-normal``); they become v1's
  ``observableParameter1_<id>`` placeholders and ``observableTransformation``.
* v2 parameters have no ``parameterScale`` (all linear) and ``estimate`` ``true``/``false``.

Aliases in the mapping table, formulas as target values of a pre-equilibration, and
compartments resized after the start while a rate rule defines a concentration in them are
refused with an :class:`UnsupportedFeatureError` naming the file, row and column.
"""

from __future__ import annotations

import re

import pandas as pd

from ..errors import PEtabError, UnsupportedFeatureError
from ..model import Model, is_identifier
from ..petab import PEtabSource
from ._petab_v2_experiments import experiments, table_cell, table_rows

# v2 noiseDistribution -> (v1 observableTransformation, v1 noiseDistribution)
_NOISE = {"": ("lin", "normal"), "normal": ("lin", "normal"), "laplace": ("lin", "laplace"),
          "log-normal": ("log", "normal"), "log-laplace": ("log", "laplace")}
# v2 priorDistribution -> v1 objectivePriorType (on linear scale: v2 parameters have no scale)
_PRIORS = {"normal": "normal", "laplace": "laplace", "log-normal": "logNormal", "log-laplace": "logLaplace",
           "uniform": "uniform", "cauchy": "cauchy", "chisquare": "chisquare", "exponential": "exponential",
           "gamma": "gamma", "log-uniform": "logUniform", "rayleigh": "rayleigh"}


def _rename(formula: str, names: dict[str, str]) -> str:
    """``formula`` with whole identifiers replaced (``k1`` but not ``k10`` or ``1e5``)."""
    if not names:
        return formula
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?!\w)")
    return pattern.sub(lambda m: names[m.group(1)], formula)


def _check_mapping(source: PEtabSource) -> None:
    for file, line, row in table_rows(source, "mapping"):
        petab_id, model_id = table_cell(row, "petabEntityId"), table_cell(row, "modelEntityId")
        if model_id and model_id != petab_id:
            raise UnsupportedFeatureError(
                f"{file}, row {line}, column 'modelEntityId': the mapping table aliases {petab_id!r} to model "
                f"entity {model_id!r}; celltwin takes PEtab ids that are the model's own ids")


def _observables(source: PEtabSource) -> pd.DataFrame:
    records = []
    for file, line, row in table_rows(source, "observable"):
        oid = table_cell(row, "observableId")
        at = f"{file}, row {line} (observable {oid!r})"
        names = {}
        for column, kind in (("observablePlaceholders", "observable"), ("noisePlaceholders", "noise")):
            placeholders = [p.strip() for p in table_cell(row, column).split(";") if p.strip()]
            for k, name in enumerate(placeholders, start=1):
                if not is_identifier(name):
                    raise PEtabError(f"{at}, column {column!r}: {name!r} is not a PEtab id")
                names[name] = f"{kind}Parameter{k}_{oid}"
        formula = _rename(table_cell(row, "observableFormula"), names)
        # A noise formula may use the observable's own value (v2): its formula, in brackets.
        noise = _rename(_rename(table_cell(row, "noiseFormula"), names), {oid: f"({formula})"} if formula else {})
        distribution = table_cell(row, "noiseDistribution")
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
    for file, line, row in table_rows(source, "parameter"):
        pid = table_cell(row, "parameterId")
        at = f"{file}, row {line} (parameter {pid!r})"
        estimate = table_cell(row, "estimate").lower()
        if estimate not in ("true", "false"):
            raise PEtabError(f"{at}, column 'estimate': must be true or false, got {table_cell(row, 'estimate')!r}")
        record = {"parameterId": pid, "parameterScale": "lin", "lowerBound": table_cell(row, "lowerBound"),
                  "upperBound": table_cell(row, "upperBound"), "nominalValue": table_cell(row, "nominalValue"),
                  "estimate": "1" if estimate == "true" else "0",
                  "objectivePriorType": "", "objectivePriorParameters": ""}
        if estimate == "false":  # bounds do not apply to a fixed parameter (v2 leaves them empty)
            record["lowerBound"] = record["lowerBound"] or record["nominalValue"]
            record["upperBound"] = record["upperBound"] or record["nominalValue"]
        prior = table_cell(row, "priorDistribution")
        if prior:
            if prior not in _PRIORS:
                raise UnsupportedFeatureError(
                    f"{at}, column 'priorDistribution': the prior {prior!r}; celltwin supports "
                    f"{', '.join(_PRIORS)} priors in PEtab v2 problems")
            record["objectivePriorType"] = _PRIORS[prior]
            record["objectivePriorParameters"] = table_cell(row, "priorParameters")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _measurements(source: PEtabSource, contexts: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    records = []
    for file, line, row in table_rows(source, "measurement"):
        eid = table_cell(row, "experimentId")
        if eid not in contexts:
            raise PEtabError(f"{file}, row {line}, column 'experimentId': experiment {eid!r} is not in the "
                             f"{source.files.names('experiment') or 'experiment table (the problem has none)'}")
        simulation, pre = contexts[eid]
        records.append({"observableId": table_cell(row, "observableId"), "simulationConditionId": simulation,
                        "preequilibrationConditionId": pre or "", "time": table_cell(row, "time"),
                        "measurement": table_cell(row, "measurement"),
                        "observableParameters": table_cell(row, "observableParameters"),
                        "noiseParameters": table_cell(row, "noiseParameters")})
    return pd.DataFrame.from_records(records)


def v1_tables(source: PEtabSource, model: Model) -> tuple[Model, dict]:
    """The model (with the events of the experiments' later periods) and the keywords
    ``measurements, observables, parameters, conditions, start_times, petab_version`` of
    :meth:`Problem.from_tables`.

    Raises:
        PEtabError: a cell v2 does not allow (file, row and column named).
        UnsupportedFeatureError: a v2 feature celltwin does not simulate (named, with its file and row).
    """
    if source.content.get("extensions"):
        names = ", ".join(map(str, source.content["extensions"]))
        raise UnsupportedFeatureError(f"{source.path}, field 'extensions': {names}; PEtab SciML problems are read by "
                                      "celltwin.hybrid.sciml.from_petab_sciml (`celltwin hybrid`)")
    _check_mapping(source)
    parameters = _parameters(source)
    plan = experiments(source, model, parameters["parameterId"] if len(parameters) else [])
    return plan.model, {"measurements": _measurements(source, plan.contexts), "observables": _observables(source),
                        "parameters": parameters, "conditions": plan.conditions, "start_times": plan.start_times,
                        "petab_version": 2}


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
