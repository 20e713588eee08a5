"""The best start of a ``celltwin fit`` table (:meth:`MultistartResult.to_tsv`), read back
as ``theta``: where ``celltwin profile --fits`` and ``celltwin sample --init`` start."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..errors import CelltwinInputError
from ..petab import read_table
from ..problem import AbstractProblem


def read_best_fit(problem: AbstractProblem, path: str | os.PathLike) -> np.ndarray:
    """The parameter values (``theta``) of the row with the smallest finite objective.

    Raises:
        CelltwinInputError: not a fit table of this problem, or a bad cell; the message names
            the file, row and column.
    """
    df = read_table(path, "fit results")
    missing = [c for c in ["objective", *problem.parameter_ids] if c not in df.columns]
    if missing:
        raise CelltwinInputError(f"{path}: not a `celltwin fit` table of this problem: column(s) "
                                 f"{', '.join(missing)} missing")
    objective = pd.to_numeric(df["objective"].str.strip(), errors="coerce")
    bad = [k + 2 for k, (raw, value) in enumerate(zip(df["objective"], objective))
           if np.isnan(value) and raw.strip().lower() not in ("nan", "inf", "-inf", "")]
    if bad:
        raise CelltwinInputError(f"{path}, row {bad[0]}, column 'objective': must be a number, "
                                 f"got {df['objective'].iloc[bad[0] - 2]!r}")
    if not np.isfinite(objective).any():
        raise CelltwinInputError(f"{path}: no start with a finite objective")
    best = int(np.nanargmin(np.where(np.isfinite(objective), objective, np.nan)))
    row = df.iloc[best]
    theta = []
    for p in problem.parameter_ids:
        try:
            theta.append(float(row[p]))
        except ValueError:
            raise CelltwinInputError(f"{path}, row {best + 2}, column {p!r}: must be a number, got {row[p]!r}") from None
        if not np.isfinite(theta[-1]):
            raise CelltwinInputError(f"{path}, row {best + 2}, column {p!r}: must be a finite number, got {row[p]!r}")
    return np.array(theta)
