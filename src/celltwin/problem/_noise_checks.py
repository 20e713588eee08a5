"""Noise levels must be positive: checks when the tables are read and after a simulation.

The normal density depends on sigma only through sigma**2, so a negative sigma would give
the same log-likelihood as a positive one and a wrong model would pass unnoticed. Where a
noise formula *is* one value (a number, a parameter, or a ``noiseParameter`` placeholder
that the measurement table maps to a number or a parameter), that value is checked when
the tables are read. Any other formula can only be judged by evaluating it, so
:func:`check_noise_levels` looks at the sigmas of a simulation; the log-likelihood itself
is -inf wherever a sigma is not positive (see ``_noise.log_densities``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..errors import PEtabError
from ..model import symbol
from ._parameters import ParameterSpace


@dataclasses.dataclass(frozen=True)
class NoiseDefinition:
    """The noise formula of one observable and where the observable table defines it."""

    observable: str
    expr: sp.Expr
    text: str  # as written in the table
    row: int
    where: str  # file and row, for messages

    def is_exactly(self, sym: sp.Symbol) -> bool:
        """Whether sigma is this symbol's value itself (so it must be positive)."""
        return self.expr == sym


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def check_constant_sigma(definition: NoiseDefinition) -> None:
    """A noise formula without ids must be a positive number."""
    if definition.expr.free_symbols:
        return
    try:
        value = float(definition.expr)
    except TypeError:  # a complex or undefined constant, such as sqrt(-1) or 1/0
        value = math.nan
    if not _positive(value):
        raise PEtabError(f"{definition.where}, column 'noiseFormula': the noise level {definition.text!r} is "
                         f"{value:g}; a noise level must be a positive number")


class NoiseParameterChecks:
    """Check the values that a noise formula consists of, at the nominal parameters."""

    def __init__(self, space: ParameterSpace, rows: dict[str, int], parameter_file: str,
                 pool_value: Callable[[int], float]):
        self.space = space
        self.rows = rows
        self.parameter_file = parameter_file
        self.pool_value = pool_value
        self._index = {pid: i for i, pid in enumerate(space.ids)}

    def check_formula(self, definition: NoiseDefinition) -> None:
        """A noise formula that is one parameter of the parameter table."""
        if isinstance(definition.expr, sp.Symbol) and definition.expr.name in self._index:
            self._check_parameter(definition.expr.name, definition,
                                  f"it is the whole noiseFormula of {definition.where}")

    def check_overrides(self, definition: NoiseDefinition, refs: list[int], where: str) -> None:
        """Values a measurement row gives to ``noiseParameter<k>_<observable>`` placeholders."""
        for k, ref in enumerate(refs, start=1):
            placeholder = symbol(f"noiseParameter{k}_{definition.observable}")
            if not definition.is_exactly(placeholder):
                continue
            if ref < len(self.space.ids):
                self._check_parameter(self.space.ids[ref], definition,
                                      f"{where} sets {placeholder.name}, the noiseFormula of observable "
                                      f"{definition.observable!r}")
                continue
            value = self.pool_value(ref)
            if not _positive(value):
                raise PEtabError(f"{where}: {placeholder.name} is {value:g}, but it is the noise level (sigma) of "
                                 f"observable {definition.observable!r}, which must be positive")

    def _check_parameter(self, pid: str, definition: NoiseDefinition, why: str) -> None:
        value = float(self.space.nominal[self._index[pid]])
        if math.isnan(value):  # an estimated parameter without a nominal value: judged when evaluated
            return
        if not _positive(value):
            raise PEtabError(f"{self.parameter_file}, row {self.rows[pid]} (parameter {pid!r}), column "
                             f"'nominalValue': {value:g}, but the parameter is a noise level (sigma), which must "
                             f"be positive: {why}")


def check_noise_levels(arrays, sigmas, status, measurement_file: str) -> None:
    """Raise where a simulation's noise levels are not positive and finite.

    Arguments:
        arrays: the problem's ``ProblemArrays``.
        sigmas: simulated noise levels in measurement table order.
        status: one solver status per simulation context (0 = success); a non-finite sigma
            of a failed simulation is the failure's doing, not the formula's.
        measurement_file: for messages.

    Raises:
        PEtabError: naming the observable, its noise formula and the first measurement row.
    """
    sigmas = np.asarray(sigmas, dtype=float)
    failed = np.asarray(status) != 0
    sorted_context = np.array([arrays.groups[g].contexts[c] for g, c in zip(arrays.group_of_row, arrays.local_context)],
                              dtype=np.int64)
    for obs in arrays.observables:
        table_rows = np.asarray(arrays.order)[obs.rows]
        values = sigmas[table_rows]
        bad = (values <= 0) | (~np.isfinite(values) & ~failed[sorted_context[obs.rows]])
        if not bad.any():
            continue
        rows = np.sort(table_rows[bad])
        first = int(rows[0])
        more = f" and {len(rows) - 1} more row(s)" if len(rows) > 1 else ""
        raise PEtabError(
            f"{obs.defined_at}, column 'noiseFormula': the noise formula {obs.noise_formula!r} gives sigma = "
            f"{sigmas[first]:g} for {measurement_file}, row {first + 2}{more}; a noise level must be positive "
            "(the normal density would treat a negative sigma as its absolute value): change the formula or "
            "the values of its parameters"
        )
