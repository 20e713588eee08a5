"""Reading the tables and the SBML model of a PEtab problem, each file once, with errors that
name the file (pandas and libsbml say "Error tokenizing data" without saying which file)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PEtabError, SBMLError
from ..model import is_identifier

if TYPE_CHECKING:
    import libsbml
    import pandas as pd


def read_bytes(path: Path, what: str) -> bytes:
    """The bytes of a file the problem names; a missing file is named."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PEtabError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise PEtabError(f"{path}: {what} file not found (it is a folder)") from None
    except OSError as exc:
        raise PEtabError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from None


def parse_table(path: Path, raw: bytes, what: str = "table") -> pd.DataFrame:
    """A tab-separated table as written (every cell a string, empty cells ''); errors name the file."""
    import pandas as pd  # not at the top: `celltwin --help` must not wait for pandas

    try:
        df = pd.read_csv(io.BytesIO(raw), sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise PEtabError(f"{path}: the {what} file is empty (it needs a header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise PEtabError(f"{path}: not a valid tab-separated {what}: {detail}") from None
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise PEtabError(f"{path}: the header row has an empty column name (column {df.columns.get_loc(unnamed[0]) + 1})")
    return df


def read_table(path: str | os.PathLike, what: str = "table") -> pd.DataFrame:
    """Read a tab-separated table (every cell a string); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise PEtabError(f"{path}: {what} file not found")
    return parse_table(path, read_bytes(path, what), what)


def parse_sbml(path: Path, raw: bytes) -> libsbml.SBMLDocument:
    """Parse an SBML file's bytes; the first error names the file and line."""
    import libsbml

    try:
        doc = libsbml.readSBMLFromString(raw.decode("utf-8"))
    except UnicodeDecodeError:  # another encoding, declared in the XML header: libsbml decodes it
        doc = libsbml.readSBMLFromFile(str(path))
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:
        first = errors[0]
        more = f" ({len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise SBMLError(f"{path}: line {first.getLine()}: not valid SBML: {first.getMessage().strip()}{more}")
    if doc.getModel() is None:
        raise SBMLError(f"{path}: the SBML document has no <model> element")
    return doc


def read_sbml(path: Path) -> tuple[bytes, libsbml.SBMLDocument]:
    if not path.is_file():
        raise SBMLError(f"{path}: SBML file not found")
    raw = read_bytes(path, "SBML")
    return raw, parse_sbml(path, raw)


# The tables whose rows are defined by an id, and the id's column. v2 condition tables have one
# row per change, so a condition id repeats there by design.
_ID_COLUMNS = {1: {"parameter": "parameterId", "condition": "conditionId", "observable": "observableId"},
               2: {"parameter": "parameterId", "observable": "observableId"}}


def require_columns(path: Path, df: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise a :class:`PEtabError` naming the file and the first of ``columns`` the table lacks."""
    for column in columns:
        if column not in df.columns:
            raise PEtabError(f"{path}, column {column!r}: this required column is missing")


def check_ids(path: Path, df: pd.DataFrame, column: str, *, unique: bool = False) -> None:
    """Each non-empty cell of ``column`` is a PEtab id (ids become symbol names), defined once
    where ``unique``.

    Raises:
        PEtabError: naming the file, the row and the column.
    """
    first: dict[str, int] = {}
    for row, value in enumerate(df[column], start=2):
        value = value.strip()
        if value and not is_identifier(value):
            raise PEtabError(f"{path}, row {row}, column {column!r}: {value!r} is not a PEtab id (a letter "
                             "or '_', then letters, digits or '_')")
        if unique and value in first:
            raise PEtabError(f"{path}, row {row}, column {column!r}: {value!r} is duplicated (first in "
                             f"row {first[value]}); each id must be defined once")
        first.setdefault(value, row)


def check_unique_ids(version: int, tables: dict[str, list[tuple[Path, pd.DataFrame]]]) -> None:
    """Each parameter, condition and observable table has its id column, and each id is a PEtab
    id defined once (the PEtab library's own messages for these name neither the file nor the row).

    Raises:
        PEtabError: naming the file, the row of the second definition and the id column.
    """
    for kind, column in _ID_COLUMNS[version].items():
        for table, df in tables.get(kind, []):
            require_columns(table, df, (column,))
            check_ids(table, df, column, unique=True)
