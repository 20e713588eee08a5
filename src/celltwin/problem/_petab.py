"""PEtab import: a problem YAML (v1 or v2), or a read :class:`~celltwin.petab.PEtabSource`, to a :class:`Problem`."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ..errors import SBMLError, UnsupportedFeatureError
from ..petab import PEtabSource, read_petab
from ..simulate import SolverSettings
from ._problem import Problem
from ._tables import Files


def table_files(source: PEtabSource) -> Files:
    """The problem's file names, for messages about its tables."""
    files = source.files
    return Files(measurements=files.names("measurement") or "?", observables=files.names("observable") or "?",
                 conditions=files.names("condition") or "condition table (the problem has none)",
                 parameters=files.names("parameter") or "?")


def from_petab(path: str | os.PathLike | PEtabSource, *, settings: SolverSettings | None = None) -> Problem:
    """Read a PEtab problem (v1 or v2) into a :class:`Problem`.

    Arguments:
        path: the problem YAML file, or a problem already read by :func:`celltwin.petab.read_petab`.
        settings: solver settings.

    Raises:
        PEtabError: a file is missing, or a table is inconsistent (named file, row, column).
        UnsupportedFeatureError: the model or the problem uses something celltwin cannot simulate.
    """
    source = read_petab(path)
    label = str(source.files.sbml[0])
    try:
        model = source.model()
        if source.version == 1:
            v1 = source.v1_tables()
            tables = {"measurements": v1["measurement"], "observables": v1["observable"],
                      "parameters": v1["parameter"], "conditions": v1["condition"]}
        else:
            from ._petab_v2 import v1_tables

            model, tables = v1_tables(source, model)
        problem = Problem.from_tables(model, **tables, settings=settings, files=table_files(source),
                                      name=source.path.stem)
    except (SBMLError, UnsupportedFeatureError) as exc:  # the model's elements: say which file holds them
        if label in str(exc) or str(source.path.parent) in str(exc):
            raise
        raise type(exc)(f"{label}: {exc}") from None
    if source.version == 2:
        from ._petab_v2 import measurement_table

        # The simulation table answers in the problem's own (v2) measurement table, not the v1 form.
        problem.measurement_df = measurement_table(source)
    problem.source = functools.partial(from_petab, str(Path(source.path).resolve()), settings=settings)
    return problem
