"""The typed pieces of a hybrid problem: neural terms, experiments, observables, parameters.

A neural term is an Equinox module (any callable ``module(*inputs)`` whose floating-point
array leaves are its weights) placed in a model. Its ``stage`` says where:

* ``"pre"``: upstream of the ODE, evaluated once per experiment; its inputs are parameters,
  condition values or constant arrays, its outputs set model parameters or initial values.
* ``"dynamic"``: inside the model, evaluated at each state; its inputs are expressions of
  states, parameters and time; its outputs set model parameters (so they act in the
  right-hand side: a reaction rate or a species flux) or appear in observable formulas.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import sympy as sp

from ..problem import Prior

Stage = Literal["pre", "dynamic"]


@dataclasses.dataclass(frozen=True)
class ArrayInput:
    """A constant input array of a network: one for all experiments (key ``"0"``) or per condition id."""

    values: dict[str, np.ndarray]

    def for_condition(self, condition_id: str | None) -> np.ndarray:
        if condition_id is not None and condition_id in self.values:
            return self.values[condition_id]
        if "0" in self.values:
            return self.values["0"]
        raise KeyError(condition_id)


@dataclasses.dataclass(frozen=True)
class NeuralTerm:
    """An Equinox module in a model.

    Attributes:
        id: the network id.
        module: the Equinox module; its inexact array leaves are its weights.
        inputs: one entry per call argument: a tuple of expressions (a vector input; over
            model ids for ``"dynamic"``, over parameter-table ids for ``"pre"``), an
            :class:`ArrayInput`, or the name of an input filled per experiment (see
            ``input_ids``).
        outputs: output symbol id -> ``(output argument, flat element index)``.
        stage: ``"pre"`` or ``"dynamic"`` (module docstring).
        input_ids: for ``"pre"`` terms, the id of each element of each vector input (so a
            condition table can set it), ``None`` where the element has no id.
    """

    id: str
    module: Any
    inputs: tuple
    outputs: dict[str, tuple[int, int]]
    stage: Stage = "dynamic"
    input_ids: tuple = ()


@dataclasses.dataclass(frozen=True)
class NetworkArrays:
    """Which weights of a network are estimated, their nominal values and priors.

    ``rows`` are applied in order; each is ``(layer or None, array or None, estimate,
    nominal or None, prior or None)``: ``None`` for layer/array means all of them, a
    ``None`` nominal keeps the module's current values.
    """

    network: str
    rows: tuple[tuple[str | None, str | None, bool, float | None, Prior | None], ...]


@dataclasses.dataclass(frozen=True)
class ParameterRow:
    """A scalar parameter of the problem (PEtab parameter table semantics)."""

    id: str
    scale: str
    lower: float
    upper: float
    nominal: float
    estimate: bool
    prior: Prior | None = None


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One simulated experiment from t = 0: its condition's target -> value expressions."""

    id: str
    condition_id: str | None
    targets: dict[str, sp.Expr]


@dataclasses.dataclass(frozen=True)
class Observable:
    id: str
    formula: sp.Expr
    noise: sp.Expr
    transformation: str = "lin"
    distribution: str = "normal"
