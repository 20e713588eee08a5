"""Read a PEtab parameter table into a :class:`ParameterSpace`, checking every cell.

Each bad cell raises a :class:`PEtabError` that names the file, the row (the file's line
number, header = 1) and the column, and says what a valid value looks like. Checks follow
PEtab v1: finite nominal values, bounds with ``lowerBound <= nominalValue <= upperBound``
for estimated parameters, positive bounds on log scales, and prior parameters that define
a proper density.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import PEtabError
from ._cells import as_float, is_missing, shown
from ._parameters import PRIOR_PARAMETERS, PRIOR_TYPES, SCALES, V2_PRIOR_TYPES, ParameterSpace, Prior

REQUIRED = ("parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue", "estimate")

# The second prior parameter is a standard deviation or scale (must be > 0); for the uniform
# priors the two parameters are an interval (must have a < b); the v2 types' parameters are
# all positive (log-uniform's interval too, as it is an interval of logarithms).
_SCALE_PRIORS = ("normal", "laplace", "logNormal", "logLaplace", "parameterScaleNormal", "parameterScaleLaplace",
                 "cauchy")
_INTERVAL_PRIORS = ("uniform", "parameterScaleUniform", "logUniform")
_POSITIVE_PRIORS = ("chisquare", "exponential", "gamma", "logUniform", "rayleigh")
_V1_PRIOR_TYPES = tuple(t for t in PRIOR_TYPES if t not in V2_PRIOR_TYPES)


def read_parameter_space(df, where: str, petab_version: int = 1) -> tuple[ParameterSpace, dict[str, int]]:
    """Check a PEtab parameter table and build the parameter space.

    Arguments:
        df: the table (``parameterId`` as a column or as the index).
        where: the file name, for messages.
        petab_version: 2 for a table in v1 form read from a PEtab v2 problem: it may use
            v2's prior types (:data:`V2_PRIOR_TYPES`), and an estimated parameter's nominal
            value may lie outside its bounds (v2 takes it as a reference value only, and the
            PEtab library's v2 checks accept it).

    Returns:
        ``(space, rows)``: the parameters, and the file row of each parameter id.

    Raises:
        PEtabError: naming the file, row and column of the first bad cell.
    """
    if df is None or len(df) == 0:
        raise PEtabError(f"{where}: no parameters")
    df = df.reset_index() if "parameterId" not in df.columns else df
    for col in REQUIRED:
        if col not in df.columns:
            raise PEtabError(f"{where}: required column {col!r} is missing")
    ids, estimate, scales, nominal, lower, upper = [], [], [], [], [], []
    priors: dict[str, Prior] = {}
    rows: dict[str, int] = {}
    for row_no, row in enumerate(df.itertuples(index=False), start=2):
        row = row._asdict()
        pid = "" if is_missing(row["parameterId"]) else str(row["parameterId"]).strip()
        if not pid:
            raise PEtabError(f"{where}, row {row_no}, column 'parameterId': empty parameter id")
        at = f"{where}, row {row_no} (parameter {pid!r})"
        if pid in rows:
            raise PEtabError(f"{at}, column 'parameterId': duplicated (first in row {rows[pid]}); "
                             "each parameter must be listed once")
        est = as_float(row["estimate"])
        if est not in (0.0, 1.0):
            raise PEtabError(f"{at}, column 'estimate': must be 0 or 1, got {shown(row['estimate'])}")
        scale = _scale(row["parameterScale"], bool(est), at)
        nom = _nominal(row["nominalValue"], bool(est), at)
        lo, hi = as_float(row["lowerBound"]), as_float(row["upperBound"])
        if est:
            _check_bounds(lo, hi, nom if petab_version == 1 else math.nan, scale, row, at)
        ids.append(pid)
        rows[pid] = row_no
        estimate.append(bool(est))
        scales.append(scale)
        nominal.append(nom)
        lower.append(lo if lo is not None else -np.inf)
        upper.append(hi if hi is not None else np.inf)
        prior = _prior(row, at, PRIOR_TYPES if petab_version == 2 else _V1_PRIOR_TYPES) if est else None
        if prior is not None:
            priors[pid] = prior
    space = ParameterSpace(tuple(ids), np.array(estimate), tuple(scales), np.array(nominal, dtype=float),
                           np.array(lower, dtype=float), np.array(upper, dtype=float), priors)
    return space, rows


def _scale(value, estimated: bool, at: str) -> str:
    if is_missing(value):
        if estimated:
            raise PEtabError(f"{at}, column 'parameterScale': empty; use one of {', '.join(SCALES)}")
        return "lin"  # a fixed parameter is never transformed, so its scale does not matter
    scale = str(value).strip()
    if scale not in SCALES:
        raise PEtabError(f"{at}, column 'parameterScale': {scale!r} is not one of {', '.join(SCALES)}")
    return scale


def _nominal(value, estimated: bool, at: str) -> float:
    nom = as_float(value)
    # PEtab makes nominalValue optional for estimated parameters (an empty cell reads as NaN).
    if nom is None or (math.isnan(nom) and not (estimated and is_missing(value))):
        raise PEtabError(f"{at}, column 'nominalValue': must be a number, got {shown(value)}")
    if math.isinf(nom):
        raise PEtabError(f"{at}, column 'nominalValue': must be a finite number, got {shown(value)}")
    return nom


def _check_bounds(lo, hi, nom, scale: str, row: dict, at: str) -> None:
    for value, col in ((lo, "lowerBound"), (hi, "upperBound")):
        if value is None or math.isnan(value):
            raise PEtabError(f"{at}, column {col!r}: an estimated parameter needs a numeric bound, "
                             f"got {shown(row[col])}")
    if lo > hi:
        raise PEtabError(f"{at}, column 'lowerBound': {lo:g} is greater than the upperBound {hi:g}")
    if scale != "lin" and lo <= 0:
        raise PEtabError(f"{at}, column 'lowerBound': the parameter is estimated on {scale} scale, so its "
                         f"bounds must be positive, got {lo:g}")
    if not math.isnan(nom) and not lo <= nom <= hi:
        raise PEtabError(f"{at}, column 'nominalValue': {nom:g} is outside the bounds [{lo:g}, {hi:g}] of this "
                         "estimated parameter; change the nominal value or the bounds")


def _prior(row: dict, at: str, types: tuple[str, ...]) -> Prior | None:
    kind_cell, pars_cell = row.get("objectivePriorType"), row.get("objectivePriorParameters")
    if is_missing(kind_cell):
        if is_missing(pars_cell):
            return None  # flat within the bounds
        kind = "parameterScaleUniform"  # PEtab's default type when only the parameters are given
    else:
        kind = str(kind_cell).strip()
        if kind not in types:
            raise PEtabError(f"{at}, column 'objectivePriorType': {kind!r} is not one of {', '.join(types)}")
    names = PRIOR_PARAMETERS.get(kind, ("a", "b"))
    needed = f"{len(names)} finite number{'s' if len(names) > 1 else ''} '{';'.join(names)}'"
    column = f"{at}, column 'objectivePriorParameters'"
    if is_missing(pars_cell):
        raise PEtabError(f"{column}: a {kind} prior needs {needed}")
    values = [as_float(v) for v in str(pars_cell).split(";")]
    numbers = [v for v in values if v is not None and math.isfinite(v)]
    if len(values) != len(names) or len(numbers) != len(names):
        raise PEtabError(f"{column}: a {kind} prior needs {needed}, got {shown(pars_cell)}")
    a, b = (*numbers, math.nan)[:2]
    if kind in _SCALE_PRIORS and b <= 0:
        raise PEtabError(f"{column}: the second parameter of a {kind} prior is its scale and must be positive, "
                         f"got {b:g}")
    if kind in _POSITIVE_PRIORS and any(v <= 0 for v in numbers):
        raise PEtabError(f"{column}: the parameters of a {kind} prior ({', '.join(names)}) must be positive, "
                         f"got {shown(pars_cell)}")
    if kind in _INTERVAL_PRIORS and not a < b:
        raise PEtabError(f"{column}: a {kind} prior needs a < b (its interval), got {a:g};{b:g}")
    return Prior(kind, a, b)
