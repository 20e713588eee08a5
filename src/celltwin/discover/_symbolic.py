"""Symbolic recovery: a closed-form, sparse expression for any input -> output map
(a trained neural term, a lookup table, a black-box rate)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from ..errors import CelltwinInputError
from .library import AbstractLibrary, PolynomialLibrary, Term, evaluate
from .optimizers import AbstractSparseOptimizer, ThresholdPath


@dataclasses.dataclass(frozen=True)
class SymbolicTerm:
    """``output_k(x) ~ sum_j coefficients[k, j] * terms[j](x)`` with inclusion probabilities
    and ``r2``, the fraction of each output's variance the expression explains."""

    inputs: tuple[str, ...]
    terms: tuple[Term, ...]
    coefficients: np.ndarray
    inclusion: np.ndarray
    r2: np.ndarray

    def expression(self, output: int = 0) -> sp.Expr:
        """The recovered closed form of one output, a sympy expression over the input names."""
        return sp.Add(*[sp.Float(c) * t.expr for t, c in zip(self.terms, self.coefficients[output]) if c != 0.0])

    def selected(self, output: int = 0) -> dict[str, float]:
        """``{term: coefficient}`` of one output's selected terms."""
        return {t.name: float(c) for t, c in zip(self.terms, self.coefficients[output]) if c != 0.0}

    def probabilities(self, output: int = 0) -> dict[str, float]:
        """``{term: inclusion probability}`` for every term with a non-zero probability."""
        return {t.name: float(p) for t, p in zip(self.terms, self.inclusion[output]) if p > 0.0}


def _outputs(fn: Callable, inputs: np.ndarray, batched: bool) -> np.ndarray:
    if batched:
        values = fn(inputs)
    else:
        try:
            import jax

            values = jax.vmap(fn)(inputs)
        except Exception:  # noqa: BLE001 - not traceable by JAX: evaluate row by row
            values = [fn(x) for x in inputs]
    values = np.asarray(values, dtype=float)
    return values.reshape(len(inputs), -1)


def recover_term(
    fn: Callable | np.ndarray,
    inputs: np.ndarray,
    names: Sequence[str],
    *,
    library: AbstractLibrary = PolynomialLibrary(degree=2),
    optimizer: AbstractSparseOptimizer = ThresholdPath(),
    batched: bool = False,
    seed: int = 0,
) -> SymbolicTerm:
    """Regress a map's outputs at ``inputs`` onto a library of closed-form terms.

    Arguments:
        fn: a callable taking one input vector (d,) (or, with ``batched=True``, the whole
            array (n, d)) and returning a scalar or vector; e.g. a trained equinox module.
            An array (n,) or (n, k) of outputs already evaluated at ``inputs`` works too.
        inputs: (n, d) points where the map is probed, e.g. the states along the data.
        names: the d input names used in the term names.
        library, optimizer: as for :func:`discover`.

    Raises:
        CelltwinInputError: shapes do not match, or the outputs are not finite.
    """
    inputs = np.asarray(inputs, dtype=float)
    names = tuple(names)
    if inputs.ndim != 2 or inputs.shape[1] != len(names):
        raise CelltwinInputError(f"inputs have shape {inputs.shape}; expected (n, {len(names)}) for inputs {names}")
    outputs = (np.asarray(fn, dtype=float).reshape(len(inputs), -1) if isinstance(fn, np.ndarray)
               else _outputs(fn, inputs, batched))
    if not np.all(np.isfinite(outputs)):
        raise CelltwinInputError("the map returned non-finite values at some inputs")
    terms = library.terms(names)
    theta = evaluate(terms, names, inputs)
    fits = [optimizer.fit(theta, outputs[:, k], seed=seed + k) for k in range(outputs.shape[1])]
    coef = np.array([f.coefficients for f in fits])
    resid = outputs - theta @ coef.T
    var = np.var(outputs, axis=0)
    r2 = 1.0 - np.mean(resid**2, axis=0) / np.where(var > 0, var, 1.0)
    return SymbolicTerm(names, tuple(terms), coef, np.array([f.inclusion for f in fits]), r2)
