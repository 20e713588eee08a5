"""What commands load: a PEtab problem (file checks, optional lint, celltwin import) and a
sampling result."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CelltwinInputError
from ._output import note, status, warn


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



def load_posterior(path: Path):
    """The ``InferenceData`` in ``path``; a clear error naming the file where it is missing,
    unreadable or has no posterior."""
    import arviz as az

    if not path.is_file():
        raise CelltwinInputError(f"{path}: no such file (give the NetCDF file written by `celltwin sample --out`)")
    try:
        idata = az.from_netcdf(str(path))
    except (OSError, ValueError) as exc:
        raise CelltwinInputError(f"{path}: not a NetCDF file that arviz can read ({exc})") from None
    if "posterior" not in idata.groups():
        raise CelltwinInputError(f"{path}: no posterior group; is it a `celltwin sample` result?")
    return idata
