"""PEtab v1 import: a problem YAML (or a petab.v1.Problem) to a :class:`Problem`."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from .._textfile import read_yaml as read_yaml_file
from ..errors import PEtabError, SBMLError, UnsupportedFeatureError
from ..model import check_math_names, from_sbml, is_identifier
from ..simulate import SolverSettings
from ._problem import Problem
from ._tables import Files


def _petab():
    import petab.v1 as petab_v1  # petab is slow to import; only when reading PEtab

    return petab_v1


def read_yaml(path: str | os.PathLike) -> dict:
    """Read a PEtab problem YAML file, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise PEtabError(f"{path}: PEtab problem file not found")
    content = read_yaml_file(path, "PEtab problem file", PEtabError)
    if not isinstance(content, dict):
        raise PEtabError(f"{path}: not a PEtab problem file (a YAML mapping was expected)")
    version = str(content.get("format_version", ""))
    if version and not version.startswith("1"):
        raise PEtabError(f"{path}: format_version {version!r}: only PEtab v1 problems are supported")
    if "problems" not in content:
        raise PEtabError(f"{path}: not a PEtab problem file (no 'problems' entry)")
    problems = content["problems"]
    if not isinstance(problems, list) or not all(isinstance(p, dict) for p in problems):
        raise PEtabError(f"{path}: field 'problems' must be a list of mappings (sbml_files, measurement_files, ...)")
    if len(problems) != 1:
        raise PEtabError(f"{path}: exactly one entry under 'problems' is supported, got {len(problems)}")
    return content


def _files(path: Path, content: dict) -> Files:
    sub = content["problems"][0]

    def name(key: str) -> str:
        values = sub.get(key) or content.get(key) or ["?"]
        values = values if isinstance(values, list) else [values]
        return ", ".join(str(path.parent / v) for v in values)

    return Files(
        measurements=name("measurement_files"),
        observables=name("observable_files"),
        conditions=name("condition_files"),
        parameters=name("parameter_file"),
    )


# The tables whose rows are defined by an id, and the id's column.
_ID_COLUMNS = {"parameter_file": "parameterId", "condition_files": "conditionId", "observable_files": "observableId"}


def check_unique_ids(path: str | os.PathLike, content: dict) -> None:
    """Each parameter, condition and observable table has its id column, and each id is a PEtab
    id defined once (the PEtab library's own messages for these name neither the file nor the row).

    Raises:
        PEtabError: naming the file, the row of the second definition and the id column.
    """
    import pandas as pd

    path = Path(path)
    sub = content["problems"][0] if isinstance(content.get("problems"), list) and content["problems"] else {}
    for key, column in _ID_COLUMNS.items():
        names = (sub.get(key) if isinstance(sub, dict) else None) or content.get(key) or []
        for name in names if isinstance(names, list) else [names]:
            table = path.parent / str(name)
            try:
                df = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
            except Exception:  # noqa: BLE001, S112 - unreadable tables are reported by the reader
                continue
            if column not in df.columns:
                raise PEtabError(f"{table}, column {column!r}: this required column is missing")
            ids = df[column]
            first: dict[str, int] = {}
            for row, value in enumerate(ids, start=2):
                value = value.strip()
                if value and not is_identifier(value):
                    raise PEtabError(f"{table}, row {row}, column {column!r}: {value!r} is not a PEtab id (a letter "
                                     "or '_', then letters, digits or '_')")
                if value in first:
                    raise PEtabError(f"{table}, row {row}, column {column!r}: {value!r} is duplicated (first in "
                                     f"row {first[value]}); each id must be defined once")
                first[value] = row


def load_petab(path: str | os.PathLike):
    """Load the PEtab tables and SBML model of a YAML file (petab.v1.Problem)."""
    path = Path(path)
    content = read_yaml(path)
    check_unique_ids(path, content)
    petab = _petab()
    logging.getLogger("petab").setLevel(logging.ERROR)
    try:
        pp = petab.Problem.from_yaml(str(path))
    except FileNotFoundError as exc:
        raise PEtabError(f"{path}: a file it names is missing: {exc.filename or exc}") from None
    except Exception as exc:  # petab raises many types for malformed tables
        raise PEtabError(f"{path}: cannot read the PEtab problem: {exc}") from None
    sbml_model = getattr(getattr(pp, "model", None), "sbml_model", None)
    if sbml_model is not None:  # before the PEtab library or we evaluate any of its math
        check_math_names(sbml_model, _sbml_label(path, content))
    return pp, content


def _sbml_label(path: Path, content: dict) -> str:
    """The model file's name for messages (the first ``sbml_files`` entry)."""
    try:
        return str(path.parent / content["problems"][0]["sbml_files"][0])
    except (KeyError, IndexError, TypeError):
        return f"{path}: the SBML model"


def from_petab(path: str | os.PathLike, *, settings: SolverSettings | None = None) -> Problem:
    """Read a PEtab v1 problem (YAML) into a :class:`Problem`.

    Raises:
        PEtabError: a file is missing, or a table is inconsistent (named file, row, column).
        UnsupportedFeatureError: the model uses something celltwin cannot simulate.
    """
    path = Path(path)
    pp, content = load_petab(path)
    files = _files(path, content)
    sbml_model = getattr(getattr(pp, "model", None), "sbml_model", None)
    if sbml_model is None:
        raise PEtabError(f"{path}: no SBML model could be read")
    try:
        model = from_sbml(sbml_model)
        problem = Problem.from_tables(
            model, measurements=pp.measurement_df, observables=pp.observable_df, parameters=pp.parameter_df,
            conditions=pp.condition_df, settings=settings, files=files, name=path.stem,
        )
    except (SBMLError, UnsupportedFeatureError) as exc:  # the model's elements: say which file holds them
        label = _sbml_label(path, content)
        if label in str(exc):
            raise
        raise type(exc)(f"{label}: {exc}") from None
    problem.source = functools.partial(from_petab, str(path.resolve()), settings=settings)
    return problem
