"""A benchmark task: what a method learns from, what it must predict, and the truth."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from ..problem import Problem

AXES = ("model", "noise", "n_times", "n_conditions", "unobserved", "prior", "skeleton")
"""The challenge axes every task records (``None`` where an axis does not apply)."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One benchmark task, built reproducibly from a registry entry and a seed.

    Attributes:
        id: registry id, starting with the registry version (``v2/...``).
        seed: the seed its data (and the methods fitted to it) were drawn with.
        problem: what a method learns from: the skeleton model (possibly wrong), the
            training conditions' measurements, observables with their noise model, and
            the parameter space.
        heldout: the same model and parameter space with the held-out measurements (a
            condition no training data come from); methods predict its measurement rows.
        evidence: prior knowledge as evidence terms (e.g. an ML-predicted Kd as an
            :class:`~celltwin.evidence.AffinityEvidence`); empty when the task has none.
        true_parameters: the values the data were simulated at (linear scale), for the
            parameters the skeleton shares with the true model; ``None`` for real data.
        true_structure: ids of the reactions of the true model; ``None`` when unknown.
        axes: the task's place on the challenge axes (see :data:`AXES`).
        kind: ``synthetic`` or ``real``.
    """

    id: str
    seed: int
    problem: Problem
    heldout: Problem
    evidence: tuple = ()
    true_parameters: Mapping[str, float] | None = None
    true_structure: frozenset[str] | None = None
    axes: Mapping[str, object] = dataclasses.field(default_factory=dict)
    kind: str = "synthetic"

    @property
    def heldout_measurements(self) -> np.ndarray:
        """The held-out measured values (measurement table order of :attr:`heldout`)."""
        return self.heldout.measurements

    @property
    def heldout_observables(self) -> np.ndarray:
        """The observable id of each held-out measurement row."""
        return self.heldout.measurement_df["observableId"].astype(str).to_numpy()

    def skeleton_structure(self) -> frozenset[str]:
        """The reactions of the model a method is given."""
        return frozenset(self.problem.model.reactions)
