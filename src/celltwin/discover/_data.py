"""Observed time courses: one or more trajectories (conditions) of the same species."""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import CelltwinInputError
from ..model import is_identifier


def _is_name(text: str) -> bool:
    return is_identifier(text) and not keyword.iskeyword(text)


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """One condition: sample times (n,) and states (n, n_species)."""

    condition: str
    t: np.ndarray
    states: np.ndarray


@dataclasses.dataclass(frozen=True)
class TimeCourses:
    """The data that discovery fits: trajectories of the same observed species."""

    species: tuple[str, ...]
    trajectories: tuple[Trajectory, ...]

    @classmethod
    def from_arrays(cls, species: Sequence[str], runs: Sequence[tuple[np.ndarray, np.ndarray]]) -> TimeCourses:
        """From ``[(t, states), ...]`` with states of shape (len(t), len(species))."""
        species = tuple(species)
        for s in species:
            if not _is_name(s):
                raise CelltwinInputError(f"species name {s!r} is not an identifier (letters, digits, _; "
                                         "not a Python keyword)")
        trajectories = []
        for k, (t, x) in enumerate(runs):
            t, x = np.asarray(t, dtype=float), np.asarray(x, dtype=float)
            if x.shape != (len(t), len(species)):
                raise CelltwinInputError(f"trajectory {k}: states have shape {x.shape}, expected {(len(t), len(species))}")
            trajectories.append(Trajectory(str(k), t, x))
        return cls(species, tuple(trajectories))


def read_time_courses(path: str | Path, *, time_col: str = "t", condition_col: str = "condition") -> TimeCourses:
    """Read a CSV with a time column, one column per observed species and an optional
    condition column (one trajectory per condition).

    Raises:
        CelltwinInputError: naming the file, and the row (line number) and column at fault.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CelltwinInputError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise CelltwinInputError(f"{path}: cannot read as CSV: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if time_col not in df.columns:
        raise CelltwinInputError(f"{path}: no time column {time_col!r} (columns: {', '.join(df.columns)}); "
                                 "name it with --time-col")
    if df.empty:
        raise CelltwinInputError(f"{path}: no data rows below the header; discovery needs at least 5 time points")
    species = [c for c in df.columns if c not in (time_col, condition_col)]
    if not species:
        raise CelltwinInputError(f"{path}: no species columns besides {time_col!r}")
    problems = [f"{path}: column {c!r}: a species name must be an identifier (letters, digits, _; "
                "not a Python keyword)" for c in species if not _is_name(c)]
    values = {}
    for col in [time_col, *species]:
        numbers = pd.to_numeric(df[col].str.strip(), errors="coerce").to_numpy(dtype=float)
        for i in np.flatnonzero(~np.isfinite(numbers))[:5]:
            raw = df[col].iloc[i]
            what = "is empty" if raw.strip() == "" else f"is {raw!r}, not a finite number"
            problems.append(f"{path}: line {i + 2}, column {col!r}: value {what}")
        values[col] = numbers
    if problems:
        raise CelltwinInputError("; ".join(problems))
    groups = df[condition_col].astype(str).to_numpy() if condition_col in df.columns else np.full(len(df), "0")
    trajectories = []
    for cond in map(str, dict.fromkeys(groups)):
        where = f"condition {cond!r}" if condition_col in df.columns else "the time course"
        rows = np.flatnonzero(groups == cond)
        t = values[time_col][rows]
        order = np.argsort(t, kind="stable")
        dup = np.flatnonzero(np.diff(t[order]) == 0)
        if len(dup):
            line = rows[order[dup[0] + 1]] + 2
            raise CelltwinInputError(f"{path}: line {line}, column {time_col!r}: time {t[order][dup[0]]:g} "
                                     f"repeats within {where}")
        if len(rows) < 5:
            raise CelltwinInputError(f"{path}: {where} has {len(rows)} rows; discovery needs at least 5")
        states = np.column_stack([values[s][rows][order] for s in species])
        trajectories.append(Trajectory(cond, t[order], states))
    return TimeCourses(tuple(species), tuple(trajectories))
