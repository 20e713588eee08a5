"""Laplace approximation of a trained hybrid problem: a Gaussian posterior over some of its
parameters (all, or a network's last layer) and linearised predictive bands.

At the trained ``theta`` the negative log-posterior of the selected parameters ``phi`` (the
others stay fixed) is approximated by a quadratic, whose curvature is either

* ``"ggn"`` (generalised Gauss-Newton, the default): ``J^T diag(1/sigma^2) J + prior
  precision``, with ``J`` the Jacobian of the simulated training measurements (normal noise,
  linear scale; always positive semi-definite), or
* ``"hessian"``: the exact Hessian of the negative log-likelihood of the training rows plus
  the prior precision (any noise model; may be indefinite away from an optimum).

The prior precision is that of the problem's normal priors on the selected weights and
``prior_precision`` for every selected parameter without one. The predictive standard
deviation of a measurement row is ``sqrt(g^T Sigma g)`` with ``g`` its gradient with respect
to ``phi`` (the linearised, "GLM" predictive of Immer et al. 2021), plus the noise variance
with ``noise=True``. For a model that is linear in ``phi`` with normal noise and a normal
prior this is exact Bayesian linear regression.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from ._problem import HybridProblem
from ._weights import PRIOR_KINDS


@dataclasses.dataclass
class LaplacePosterior:
    """A Gaussian ``N(theta[index], covariance)`` over the selected entries of ``theta``."""

    theta: np.ndarray
    index: np.ndarray
    covariance: np.ndarray
    precision: np.ndarray
    labels: list[str]
    jacobian: np.ndarray | None = None  # of every measurement row at theta (kept from the GGN)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` draws of the full ``theta`` (unselected entries at their trained values)."""
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(self.theta[self.index], self.covariance, size=n, method="cholesky")
        out = np.tile(self.theta, (n, 1))
        out[:, self.index] = draws
        return out

    def predict(self, problem: HybridProblem, *, noise: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Mean (the simulation at ``theta``) and linearised predictive standard deviation of
        every measurement row; ``noise=True`` adds the measurement noise variance."""
        y, sigma, _ = jax.jit(problem.simulate)(jnp.asarray(self.theta))
        if self.jacobian is None:
            self.jacobian = _row_jacobian(problem, self.theta, self.index)[0]
        g = self.jacobian
        var = np.einsum("ij,jk,ik->i", g, self.covariance, g)
        if noise:
            var = var + np.asarray(sigma) ** 2
        return np.asarray(y), np.sqrt(np.maximum(var, 0.0))


def last_layer(problem: HybridProblem, network_id: str) -> list[str]:
    """The ``parameter_ids`` of a network's last layer (its last weight array's layer)."""
    if network_id not in problem.terms:
        raise CelltwinInputError(f"no neural term {network_id!r} (have {', '.join(problem.terms)})")
    names = problem.weights.names[problem.weights.ids.index(network_id)]
    layer = names[-1].rsplit(".", 1)[0] if "." in names[-1] else names[-1]
    prefix = f"{network_id}.{layer}."
    ids = [p for p in problem.parameter_ids[problem.n_mechanistic:] if p.startswith(prefix)]
    if not ids:
        raise CelltwinInputError(f"network {network_id!r}: its last layer {layer!r} has no estimated weights")
    return ids


def _forward_mode(problem: HybridProblem) -> HybridProblem:
    """The problem differentiated in forward mode (the default checkpointed adjoint is
    reverse-only): Jacobians of few parameters and Hessians (forward over forward)."""
    return problem.with_adjoint(diffrax.ForwardMode())


def _row_jacobian(problem: HybridProblem, theta, index) -> tuple[np.ndarray, np.ndarray]:
    """The Jacobian of the simulated rows with respect to ``theta[index]``, and the rows'
    noise levels (from the same simulation)."""
    theta = jnp.asarray(theta)
    forward = len(index) <= len(problem.measurement_df)
    model = _forward_mode(problem) if forward else problem

    def rows(phi):
        y, sigma, _ = model.simulate(theta.at[index].set(phi))
        return y, sigma

    jacobian, sigma = jax.jit((jax.jacfwd if forward else jax.jacrev)(rows, has_aux=True))(theta[index])
    return np.asarray(jacobian), np.asarray(sigma)


def _prior_precision(problem: HybridProblem, index: np.ndarray, default: float) -> np.ndarray:
    precision = np.full(len(index), float(default))
    w = problem.weights
    n_mech = problem.n_mechanistic
    for j, k in enumerate(index):
        if k >= n_mech and w.prior_kind[w.index[k - n_mech]] == PRIOR_KINDS["normal"]:
            precision[j] = 1.0 / w.prior_b[w.index[k - n_mech]] ** 2
    return precision


def laplace(problem: HybridProblem, theta, *, parameters: Sequence[str] | None = None, rows: np.ndarray | None = None,
            curvature: str = "ggn", prior_precision: float = 1.0) -> LaplacePosterior:
    """The Laplace approximation at ``theta`` (see the module docstring).

    Arguments:
        problem: the hybrid problem.
        theta: the trained parameters (e.g. ``train(...).theta``).
        parameters: ids (from ``problem.parameter_ids``) of the parameters that get a
            posterior, e.g. ``last_layer(problem, "net")``; default: all.
        rows: boolean mask of the measurement rows that inform it (default: all; pass
            ``result.train_mask`` to leave held-out rows out).
        curvature: ``"ggn"`` or ``"hessian"``.
        prior_precision: the precision of parameters without a normal prior.

    Raises:
        ValueError: unknown curvature, unknown parameter ids, or a GGN for a problem whose
            noise is not normal on linear scale.
    """
    if curvature not in ("ggn", "hessian"):
        raise ValueError(f"curvature must be 'ggn' or 'hessian', got {curvature!r}")
    ids = list(problem.parameter_ids if parameters is None else parameters)
    unknown = [p for p in ids if p not in problem.parameter_ids]
    if unknown:
        raise ValueError(f"unknown parameter id(s) {unknown[:5]}")
    index = np.array([problem.parameter_ids.index(p) for p in ids], dtype=int)
    theta = np.asarray(theta, dtype=float)
    mask = np.ones(len(problem.measurement_df), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    prior = np.diag(_prior_precision(problem, index, prior_precision))
    jacobian = None
    if curvature == "ggn":
        if not problem.measurement_model.is_normal_on_linear_scale:
            raise ValueError("the Gauss-Newton curvature needs normal noise on linear scale; use curvature='hessian'")
        jacobian, sigma = _row_jacobian(problem, theta, index)
        g = jacobian[mask] / sigma[mask, None]
        precision = g.T @ g + prior
    else:
        model = _forward_mode(problem)

        def nll(phi):
            ll = model.pointwise_log_likelihood(jnp.asarray(theta).at[index].set(phi))
            return -jnp.sum(jnp.where(jnp.asarray(mask), ll, 0.0))

        precision = np.asarray(jax.jit(jax.jacfwd(jax.jacfwd(nll)))(jnp.asarray(theta[index]))) + prior
    precision = 0.5 * (precision + precision.T)
    covariance = np.linalg.inv(precision)
    return LaplacePosterior(theta, index, 0.5 * (covariance + covariance.T), precision, ids, jacobian)
