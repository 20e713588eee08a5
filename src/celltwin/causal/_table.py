"""The predictions table read by ``celltwin diagnose``: parsed and validated once, at the edge.

Format (comma-separated; tab-separated when the file name ends in ``.tsv``), one row per
(compound, target) pair, header row required:

* ``compound``: compound identifier (any text, not empty).
* ``target``: target identifier (any text, not empty).
* ``predicted``: the predictor's affinity, in ``unit``.
* ``measured``: the measured affinity, in ``unit``.
* ``unit`` (optional): the unit of ``predicted`` and ``measured`` on that row, one of
  :data:`celltwin.units.UNITS` (``nM``, ``uM``, ``M``, ``pKd``, ``log10_M``,
  ``kcal/mol``, ...). Without the column every row is in the table's default unit
  (``pKd`` unless told otherwise).
* any further columns: candidate hidden mechanisms (strata), e.g. ``kinase_family``,
  ``chemotype``; each cell is a label, read as text. A stratum column used for diagnostics
  must have no empty cells.

Every affinity is converted to pKd = -log10(Kd / M), so an error
``predicted - measured > 0`` means the predictor overestimates the affinity.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CelltwinInputError
from ..units import CONCENTRATION_UNITS, UNITS, to_log10_molar

REQUIRED_COLUMNS = ("compound", "target", "predicted", "measured")
MAX_LISTED_PROBLEMS = 10


@dataclasses.dataclass(frozen=True)
class PredictionTable:
    """Predicted and measured affinities (pKd) of compound x target pairs, with stratum labels.

    Attributes:
        compound, target: identifiers, one per pair.
        predicted, measured: pKd = -log10(Kd / M), float64 arrays.
        strata: stratum column name -> labels (object array of str), one per pair.
        source: where the table was read from (for messages).
    """

    compound: np.ndarray
    target: np.ndarray
    predicted: np.ndarray
    measured: np.ndarray
    strata: dict[str, np.ndarray]
    source: str = "<table>"

    @property
    def error(self) -> np.ndarray:
        """``predicted - measured`` in pKd units (> 0: affinity overestimated)."""
        return self.predicted - self.measured

    def __len__(self) -> int:
        return len(self.predicted)

    def labels(self, column: str) -> np.ndarray:
        """The stratum labels of ``column``; a clear error when the column is absent."""
        if column not in self.strata:
            present = ", ".join(self.strata) or "none"
            raise CelltwinInputError(
                f"{self.source}: no stratum column {column!r} (stratum columns present: {present})")
        return self.strata[column]


def _line(i: int) -> int:
    return i + 2  # header is line 1


def _numeric(df: pd.DataFrame, column: str, problems: list[str], where: str) -> np.ndarray:
    values = np.full(len(df), np.nan)
    for i, cell in enumerate(df[column]):
        try:
            v = float(cell)
        except ValueError:
            problems.append(f"{where}: line {_line(i)}, column {column!r}: {cell!r} is not a number")
            continue
        if not math.isfinite(v):
            problems.append(f"{where}: line {_line(i)}, column {column!r}: {cell!r} is not a finite number")
            continue
        values[i] = v
    return values


def table_from_frame(df: pd.DataFrame, *, default_unit: str = "pKd", source: str = "<table>",
                     strata: tuple[str, ...] | None = None) -> PredictionTable:
    """Validate a data frame of text cells in the predictions format (see the module docstring).

    Arguments:
        df: the table; every cell a string (``dtype=str``, no NA conversion).
        default_unit: the unit of rows when there is no ``unit`` column.
        source: the file name used in messages.
        strata: stratum columns that must be present and complete; ``None``: every extra
            column is kept, and empty labels are reported only when a column is used.

    Raises:
        CelltwinInputError: listing each problem with its line and column.
    """
    if default_unit not in UNITS:
        raise CelltwinInputError(f"unknown default unit {default_unit!r}: use one of {', '.join(UNITS)}")
    df = df.rename(columns=lambda c: str(c).strip())
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise CelltwinInputError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))}; the header has "
            f"{', '.join(map(repr, df.columns))} (required: {', '.join(REQUIRED_COLUMNS)})")
    if len(df) == 0:
        raise CelltwinInputError(f"{source}: no data rows after the header")
    extra = [c for c in df.columns if c not in (*REQUIRED_COLUMNS, "unit")]
    wanted = list(extra) if strata is None else list(strata)
    absent = [c for c in wanted if c not in df.columns]
    if absent:
        raise CelltwinInputError(
            f"{source}: no stratum column {', '.join(map(repr, absent))}; "
            f"columns that can be strata: {', '.join(map(repr, extra)) or 'none'}")
    df = df.apply(lambda col: col.astype(str).str.strip())

    problems: list[str] = []
    for column in ("compound", "target", *([] if strata is None else strata)):
        for i in np.flatnonzero(df[column].to_numpy() == ""):
            problems.append(f"{source}: line {_line(int(i))}, column {column!r}: empty")
    predicted = _numeric(df, "predicted", problems, source)
    measured = _numeric(df, "measured", problems, source)
    units = df["unit"].to_numpy() if "unit" in df.columns else np.full(len(df), default_unit)
    pred_pkd = np.full(len(df), np.nan)
    meas_pkd = np.full(len(df), np.nan)
    for unit in pd.unique(units):
        rows = np.flatnonzero(units == unit)
        if unit not in UNITS:
            for i in rows[:3]:
                problems.append(f"{source}: line {_line(i)}, column 'unit': unknown unit {unit!r} "
                                f"(use one of {', '.join(UNITS)})")
            continue
        for name, raw, out in (("predicted", predicted, pred_pkd), ("measured", measured, meas_pkd)):
            v = raw[rows]
            if unit in CONCENTRATION_UNITS:
                for i in rows[v <= 0]:
                    problems.append(f"{source}: line {_line(i)}, column {name!r}: a Kd in {unit} must be > 0, "
                                    f"got {raw[i]:g}")
                v = np.where(v > 0, v, np.nan)
            with np.errstate(invalid="ignore"):
                out[rows] = -_log10_molar(v, unit)
    if problems:
        shown = problems[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        tail = f"; and {more} more problem(s)" if more > 0 else ""
        raise CelltwinInputError("; ".join(shown) + tail)
    return PredictionTable(
        compound=df["compound"].to_numpy(dtype=object), target=df["target"].to_numpy(dtype=object),
        predicted=pred_pkd, measured=meas_pkd,
        strata={c: df[c].to_numpy(dtype=object) for c in wanted}, source=source)


def _log10_molar(v: np.ndarray, unit: str) -> np.ndarray:
    """``to_log10_molar`` that lets NaN (already reported) through."""
    ok = np.isfinite(v)
    out = np.full(v.shape, np.nan)
    if ok.any():
        out[ok] = to_log10_molar(v[ok], unit)
    return out


def read_predictions(path: str | Path, *, default_unit: str = "pKd",
                     strata: tuple[str, ...] | None = None) -> PredictionTable:
    """Read and validate a predictions CSV (format in the module docstring).

    Raises:
        CelltwinInputError: naming the file, line and column of each problem.
    """
    path = Path(path)
    if not path.is_file():
        raise CelltwinInputError(f"{path}: no such file (give a predictions CSV)")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise CelltwinInputError(f"{path}: the file is empty (it needs a header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise CelltwinInputError(f"{path}: not a valid {'tab' if sep == chr(9) else 'comma'}-separated "
                                 f"table: {detail}") from None
    return table_from_frame(df, default_unit=default_unit, source=str(path), strata=strata)
