"""One call that stratifies a predictor's error by candidate hidden mechanisms.

For each stratum column: per-stratum error summaries, the focus score
(:mod:`celltwin.causal._focus`) and the Simpson-reversal check of measured on predicted
(:mod:`celltwin.causal._reversal`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import CelltwinInputError
from ._focus import FocusScore, focus_score
from ._resample import encode
from ._reversal import SimpsonReversal, simpson_reversal
from ._table import PredictionTable


@dataclasses.dataclass(frozen=True)
class ErrorSummary:
    """Error of the predictor on a set of pairs (pKd units; error = predicted - measured).

    Attributes:
        label: stratum label (``"all"`` for the whole table).
        n, compounds, targets: pairs, distinct compounds, distinct targets.
        bias: mean error; ``rmse``, ``mae``: root-mean-square and mean absolute error.
        pearson: Pearson correlation of predicted and measured (nan below 3 pairs or
            without spread).
        focus_share: the stratum's term of the focus, ``n_s (ebar_s - ebar)^2 / SS_total``
            (the shares of a column's strata add up to its focus; nan for the whole table).
    """

    label: str
    n: int
    compounds: int
    targets: int
    bias: float
    rmse: float
    mae: float
    pearson: float
    focus_share: float = float("nan")


def error_summary(table: PredictionTable, rows: np.ndarray | None = None, label: str = "all") -> ErrorSummary:
    """The :class:`ErrorSummary` of ``table`` (or of the pairs ``rows``)."""
    rows = np.arange(len(table)) if rows is None else rows
    p, m = table.predicted[rows], table.measured[rows]
    e = p - m
    pearson = float("nan")
    if len(rows) >= 3 and np.std(p) > 0 and np.std(m) > 0:
        pearson = float(np.corrcoef(p, m)[0, 1])
    return ErrorSummary(label=label, n=len(rows), compounds=len(set(table.compound[rows])),
                        targets=len(set(table.target[rows])), bias=float(e.mean()),
                        rmse=float(np.sqrt(np.mean(e**2))), mae=float(np.mean(np.abs(e))), pearson=pearson)


@dataclasses.dataclass(frozen=True)
class StratumDiagnosis:
    """Diagnostics of one candidate mechanism (one stratum column)."""

    column: str
    strata: tuple[ErrorSummary, ...]
    focus: FocusScore
    reversal: SimpsonReversal


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """Result of :func:`diagnose`: the overall error and one :class:`StratumDiagnosis` per column."""

    source: str
    overall: ErrorSummary
    columns: tuple[StratumDiagnosis, ...]
    settings: dict

    def to_dict(self) -> dict:
        """Plain JSON-able data (NaN written as ``None``)."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def diagnose(table: PredictionTable, strata: Sequence[str], *, n_boot: int = 2000, n_perm: int = 2000,
             level: float = 0.95, min_size: int = 5, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> Diagnosis:
    """Stratify the predictor's error by each column in ``strata``.

    Arguments:
        table: the predictions (see :func:`celltwin.causal.read_predictions`).
        strata: stratum column names (candidate hidden mechanisms).
        n_boot, n_perm: bootstrap replicates and label permutations.
        level: interval level; ``min_size``: smallest stratum that gets its own slope.
        seed: seed of all resampling (results are reproducible).
        progress: called with the column name after each column is done (e.g. to advance a bar).

    Raises:
        CelltwinInputError: no column given, fewer than 3 pairs, or a column is missing, has
            empty labels or a single stratum.
    """
    if not strata:
        raise CelltwinInputError("give at least one stratum column")
    results = []
    for column in strata:
        labels = table.labels(column)
        empty = np.flatnonzero(np.asarray(labels).astype(str) == "")
        if len(empty):
            lines = ", ".join(str(i + 2) for i in empty[:5])
            raise CelltwinInputError(f"{table.source}: column {column!r} has empty labels (line {lines}"
                                     f"{' ...' if len(empty) > 5 else ''})")
        codes, names = encode(labels)
        if len(names) < 2:
            raise CelltwinInputError(f"{table.source}: column {column!r} has a single stratum ({names[0]!r}); "
                                     "a candidate mechanism needs at least 2")
        if len(table.error) < 3:  # the focus score's permutation test and interval need them
            raise CelltwinInputError(f"{table.source}: {len(table.error)} pair(s); the diagnosis needs at least 3")
        centred = table.error - table.error.mean()
        ss_total = float(np.sum(centred**2))
        summaries = []
        for j, name in enumerate(names):
            rows = np.flatnonzero(codes == j)
            share = len(rows) * centred[rows].mean() ** 2 / ss_total if ss_total > 0 else float("nan")
            summaries.append(dataclasses.replace(error_summary(table, rows, label=name), focus_share=float(share)))
        summaries = tuple(summaries)
        focus = focus_score(table.error, labels, n_boot=n_boot, n_perm=n_perm, level=level, seed=seed)
        reversal = simpson_reversal(table.predicted, table.measured, labels, min_size=min_size,
                                    n_boot=n_boot, level=level, seed=seed)
        results.append(StratumDiagnosis(column=column, strata=summaries, focus=focus, reversal=reversal))
        if progress is not None:
            progress(column)
    settings = {"n_boot": n_boot, "n_perm": n_perm, "level": level, "min_size": min_size, "seed": seed,
                "error": "predicted - measured, pKd", "trend": "slope of measured on predicted"}
    return Diagnosis(source=table.source, overall=error_summary(table), columns=tuple(results),
                     settings=settings)
