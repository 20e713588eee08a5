"""Loading a PEtab problem for a command: file checks, optional lint, celltwin import."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PEtabError
from ._output import note, status, warn

if TYPE_CHECKING:
    import numpy as np


def load_problem(path: str | os.PathLike, *, run_lint: bool = True, warn_lint: bool = True):
    """Read the problem's files (once), lint (optionally), and import the problem with celltwin.

    Lint errors raise :class:`PEtabError`; lint warnings are printed on stderr when
    ``warn_lint`` (``check`` reports them in its own output instead).

    Returns:
        ``(problem, files, lint_issues)``: files is the :class:`celltwin.petab.ProblemFiles`.
    """
    # not at the top: `celltwin --help` must not wait for the model package and JAX
    from ..petab import lint, raise_for_errors, read_petab
    from ..problem import from_petab

    with status(f"Reading {path}"):
        source = read_petab(path)
    issues: list = []
    if run_lint:
        with status("Linting with the PEtab library"):
            issues = lint(source)
        raise_for_errors(source, issues)
        for issue in issues if warn_lint else ():
            warn(f"PEtab linter: {issue.describe()}")
    with status("Importing the model and tables"):
        problem = from_petab(source)
    note(problem.engine_note)
    return problem, source.files, issues


def theta_from_file(problem, path: str | os.PathLike) -> np.ndarray:
    """Parameter values from a TSV file, as ``theta`` (parameter scale) of ``problem``.

    The file has a ``parameterId`` column and a ``value`` column with values on *linear*
    scale (as a PEtab parameter table's ``nominalValue``, which is accepted instead, so a
    PEtab parameter table works too). Estimated parameters that the file does not list keep
    their nominal values. Fixed parameters (``estimate`` 0 in the problem) may be listed only
    with the value they already have.

    Raises:
        PEtabError: naming the file, row and column of an unknown id or a bad value.
    """
    import numpy as np

    from ..petab import read_table

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
            scale = problem.parameter_scales[i]
            if scale in ("log", "log10") and value <= 0:
                raise PEtabError(f"{at}, column {column!r}: parameter {pid!r} is on {scale} scale, "
                                 f"so its value must be positive, got {value}")
            theta[i] = {"lin": value, "log": math.log(value) if value > 0 else 0.0,
                        "log10": math.log10(value) if value > 0 else 0.0}[scale]
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
