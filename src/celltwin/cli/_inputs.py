"""Checks of input files before anything heavy runs, with errors that name file and field.

The PEtab library and pandas raise messages such as "Error tokenizing data" that do not say
which file is at fault; these checks read each file named by a PEtab YAML first.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PEtabError, SBMLError

if TYPE_CHECKING:
    import pandas as pd

# PEtab v1 YAML fields that name files: (key, where it lives, table kind).
_TABLE_FIELDS = {
    "condition_files": "condition",
    "measurement_files": "measurement",
    "observable_files": "observable",
    "visualization_files": "visualization",
    "mapping_files": "mapping",
}


@dataclasses.dataclass
class ProblemFiles:
    """The files a PEtab YAML names, resolved relative to it."""

    yaml: Path
    sbml: list[Path]
    tables: dict[str, list[Path]]  # table kind -> files

    def names(self, kind: str) -> str:
        paths = self.sbml if kind == "model" else self.tables.get(kind, [])
        return ", ".join(str(p) for p in paths)


def _file_list(value, field: str, where: Path) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise PEtabError(f"{where}: field {field!r} must be a file name or a list of file names, got {value!r}")
    return values


def read_table(path: Path, what: str = "table") -> pd.DataFrame:
    """Read a tab-separated table; errors name the file."""
    import pandas as pd  # not at the top: `celltwin --help` must not wait for pandas

    if not path.is_file():
        raise PEtabError(f"{path}: {what} file not found")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise PEtabError(f"{path}: the {what} file is empty (it needs a header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise PEtabError(f"{path}: not a valid tab-separated {what}: {detail}") from None
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise PEtabError(f"{path}: the header row has an empty column name (column {df.columns.get_loc(unnamed[0]) + 1})")
    return df


def check_sbml(path: Path) -> None:
    """Parse an SBML file; the first error names the file and line."""
    import libsbml

    if not path.is_file():
        raise SBMLError(f"{path}: SBML file not found")
    doc = libsbml.readSBMLFromFile(str(path))
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:
        first = errors[0]
        more = f" ({len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise SBMLError(f"{path}: line {first.getLine()}: not valid SBML: {first.getMessage().strip()}{more}")
    if doc.getModel() is None:
        raise SBMLError(f"{path}: the SBML document has no <model> element")


def check_problem_files(yaml_path: str | os.PathLike) -> ProblemFiles:
    """Check that a PEtab v1 YAML and every file it names exist and parse.

    Raises:
        PEtabError, SBMLError: naming the file (and the YAML field or line) at fault.
    """
    from ..problem._petab import read_yaml

    yaml_path = Path(yaml_path)
    if yaml_path.is_dir():
        raise PEtabError(f"{yaml_path}: is a folder; pass the PEtab problem YAML file inside it")
    content = read_yaml(yaml_path)
    base = yaml_path.parent
    problems = content["problems"]
    if not isinstance(problems, list) or not isinstance(problems[0], dict):
        raise PEtabError(f"{yaml_path}: field 'problems' must be a list with one mapping of file lists")
    sub = problems[0]
    param_files = _file_list(content.get("parameter_file"), "parameter_file", yaml_path)
    if not param_files:
        raise PEtabError(f"{yaml_path}: field 'parameter_file' is missing")
    sbml = [base / f for f in _file_list(sub.get("sbml_files"), "problems[0].sbml_files", yaml_path)]
    if not sbml:
        other = [k for k in ("model_files",) if k in sub]
        hint = " (PEtab v2 'model_files' is not supported)" if other else ""
        raise PEtabError(f"{yaml_path}: field 'problems[0].sbml_files' is missing{hint}")
    tables: dict[str, list[Path]] = {"parameter": [base / f for f in param_files]}
    for key, kind in _TABLE_FIELDS.items():
        tables[kind] = [base / f for f in _file_list(sub.get(key), f"problems[0].{key}", yaml_path)]
        if not tables[kind] and kind in ("condition", "measurement", "observable"):
            raise PEtabError(f"{yaml_path}: field 'problems[0].{key}' is missing")
    for path in sbml:
        check_sbml(path)
    for kind, paths in tables.items():
        for path in paths:
            read_table(path, f"{kind} table")
    return ProblemFiles(yaml_path, sbml, tables)
