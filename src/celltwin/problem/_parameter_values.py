"""Parameter values from a table (``parameterId``, ``value`` on linear scale), as the
``theta`` of a problem: what ``celltwin simulate --parameters`` and the quickstart's true
values read."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import PEtabError
from ..petab import read_table
from ._parameters import SCALES, scale

if TYPE_CHECKING:
    from ._problem import Problem


def read_parameter_values(problem: Problem, path: str | os.PathLike) -> np.ndarray:
    """Parameter values from a TSV file, as ``theta`` (parameter scale) of ``problem``.

    The file has a ``parameterId`` column and a ``value`` column with values on *linear*
    scale (as a PEtab parameter table's ``nominalValue``, which is accepted instead, so a
    PEtab parameter table works too). Estimated parameters that the file does not list keep
    their nominal values. Fixed parameters (``estimate`` 0 in the problem) may be listed only
    with the value they already have.

    Raises:
        PEtabError: naming the file, row and column of an unknown id or a bad value.
    """
    path = Path(path)
    df = read_table(path, "parameter values")
    if "parameterId" not in df.columns:
        raise PEtabError(f"{path}: required column 'parameterId' is missing (columns: {', '.join(df.columns)})")
    column = "value" if "value" in df.columns else "nominalValue" if "nominalValue" in df.columns else None
    if column is None:
        raise PEtabError(f"{path}: needs a column 'value' (linear scale) or 'nominalValue' next to 'parameterId'")
    space = problem.parameters
    theta = np.array(problem.x_nominal, dtype=float)
    index = {pid: k for k, pid in enumerate(problem.parameter_ids)}
    all_index = {pid: k for k, pid in enumerate(space.ids)}
    seen: dict[str, int] = {}
    for k, (pid, raw) in enumerate(zip(df["parameterId"], df[column]), start=2):
        pid = pid.strip()
        at = f"{path}, row {k}"
        if not pid:
            raise PEtabError(f"{at}, column 'parameterId': empty parameter id")
        if pid in seen:
            raise PEtabError(f"{at}, column 'parameterId': {pid!r} is listed twice (first in row {seen[pid]})")
        seen[pid] = k
        try:
            value = float(raw)
        except ValueError:
            raise PEtabError(f"{at}, column {column!r}: must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise PEtabError(f"{at}, column {column!r}: must be a finite number, got {raw!r}")
        if pid in index:
            i = index[pid]
            scale_ = problem.parameter_scales[i]
            if scale_ in ("log", "log10") and value <= 0:
                raise PEtabError(f"{at}, column {column!r}: parameter {pid!r} is on {scale_} scale, "
                                 f"so its value must be positive, got {value}")
            theta[i] = float(scale(np.array([value]), np.array([SCALES.index(scale_)]))[0])
        elif pid in all_index:
            fixed = float(space.nominal[all_index[pid]])
            if not np.isclose(value, fixed, rtol=1e-9, atol=0.0):
                raise PEtabError(
                    f"{at}, column {column!r}: parameter {pid!r} is not estimated (estimate 0 in the problem's "
                    f"parameter table), so it keeps its value {fixed}; got {value}. Change it in the problem's "
                    f"parameter table instead."
                )
        else:
            raise PEtabError(f"{at}, column 'parameterId': unknown parameter {pid!r}: not in the problem's "
                             f"parameter table (estimated: {', '.join(problem.parameter_ids) or 'none'})")
    return theta
