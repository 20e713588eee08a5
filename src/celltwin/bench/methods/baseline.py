"""The reference every method must beat: the average training time course.

For each held-out measurement (observable, time) the prediction is the mean of that
observable's training measurements at that time over the training conditions (the
nearest sampled time where the held-out time was not sampled), with the spread of the
observable's training measurements as a Gaussian sd. No model and no fit: what a
leaderboard shows as "no learning".
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .base import AbstractMethod, FittedMethod

if TYPE_CHECKING:
    import pandas as pd


@dataclasses.dataclass
class _TrainingCurves(FittedMethod):
    table: pd.DataFrame  # the training measurement table

    def predict(self, heldout, n_draws: int, seed: int) -> np.ndarray:
        train = self.table
        out_mean, out_sd = [], []
        for obs, t in zip(heldout.measurement_df["observableId"], heldout.measurement_df["time"].astype(float)):
            rows = train[train["observableId"] == obs]
            if rows.empty:
                raise ValueError(f"observable {obs!r} has no training data")
            times = rows["time"].astype(float).to_numpy()
            nearest = times[np.argmin(np.abs(times - t))]
            values = rows["measurement"].astype(float).to_numpy()
            out_mean.append(float(np.mean(values[times == nearest])))
            out_sd.append(max(float(np.std(values)), 1e-12))
        rng = np.random.default_rng(seed)
        return np.asarray(out_mean) + np.asarray(out_sd) * rng.standard_normal((n_draws, len(out_mean)))


@dataclasses.dataclass(frozen=True)
class TrainingMean(AbstractMethod):
    """The average training time course per observable (see the module docstring)."""

    name: ClassVar[str] = "training_mean"

    def fit(self, task, *, seed: int) -> FittedMethod:
        return _TrainingCurves(task.problem.measurement_df.copy())
