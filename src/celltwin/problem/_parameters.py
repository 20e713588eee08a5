"""The estimated parameters: scales, bounds and prior densities (PEtab v1 semantics)."""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

SCALES = ("lin", "log", "log10")

# PEtab v2's prior types that v1 does not have (v2 spelling; ``logUniform`` for v2's
# ``log-uniform``, in v1's camel case). Like all priors without ``parameterScale`` they are
# densities of the linear-scale value.
V2_PRIOR_TYPES = ("cauchy", "chisquare", "exponential", "gamma", "logUniform", "rayleigh")

PRIOR_TYPES = (
    "uniform", "normal", "laplace", "logNormal", "logLaplace",
    "parameterScaleUniform", "parameterScaleNormal", "parameterScaleLaplace",
    *V2_PRIOR_TYPES,
)

# The names of each prior type's parameters, in table order (two unless listed).
PRIOR_PARAMETERS = {"chisquare": ("degrees of freedom",), "exponential": ("scale",), "rayleigh": ("scale",),
                    "gamma": ("shape", "scale"), "cauchy": ("location", "scale"), "logUniform": ("low", "high")}


def unscale(theta, scale_codes):
    """Parameter-scale values to linear scale (codes: 0 lin, 1 log, 2 log10)."""
    return jnp.where(scale_codes == 1, jnp.exp(theta), jnp.where(scale_codes == 2, 10.0**theta, theta))


def scale(values, scale_codes):
    """Linear-scale values to parameter scale."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale_codes == 1, np.log(values), np.where(scale_codes == 2, np.log10(values), values))


@dataclasses.dataclass(frozen=True)
class Prior:
    """An objective prior of one estimated parameter, as in the PEtab parameter table.

    ``kind`` is a PEtab ``objectivePriorType`` (or a PEtab v2 type, :data:`V2_PRIOR_TYPES`);
    ``a``, ``b`` its parameters (``b`` is NaN for the one-parameter types ``chisquare``,
    ``exponential`` and ``rayleigh``). Priors without ``parameterScale`` act on the
    linear-scale value; the density is of that value (no Jacobian of the parameter
    transformation), as PEtab and pyPESTO define it. The density is not renormalised to the
    parameter's bounds (PEtab v1's definition; PEtab v2 truncates to the bounds, which adds a
    constant per parameter).
    """

    kind: str
    a: float
    b: float = math.nan

    def log_density(self, theta_i, linear_i):
        a, b = self.a, self.b
        k = self.kind
        if k == "parameterScaleUniform":
            return _uniform(theta_i, a, b)
        if k == "uniform":
            return _uniform(linear_i, a, b)
        if k == "parameterScaleNormal":
            return _normal(theta_i, a, b)
        if k == "normal":
            return _normal(linear_i, a, b)
        if k == "parameterScaleLaplace":
            return _laplace(theta_i, a, b)
        if k == "laplace":
            return _laplace(linear_i, a, b)
        if k == "logNormal":
            return _normal(jnp.log(linear_i), a, b) - jnp.log(linear_i)
        if k == "logLaplace":
            return _laplace(jnp.log(linear_i), a, b) - jnp.log(linear_i)
        return _V2_DENSITIES[k](linear_i, a, b)


def _uniform(v, a, b):
    return jnp.where((v >= a) & (v <= b), -math.log(b - a), -jnp.inf)


def _normal(v, mu, sd):
    return -0.5 * math.log(2 * math.pi * sd**2) - 0.5 * ((v - mu) / sd) ** 2


def _laplace(v, mu, scale_):
    return -math.log(2 * scale_) - jnp.abs(v - mu) / scale_


def _on_support(v, inside, log_density):
    """``log_density(v)`` where ``inside``, else -inf; evaluated at a point of the support
    elsewhere, so that neither the value nor its gradient is NaN outside."""
    return jnp.where(inside, log_density(jnp.where(inside, v, 1.0)), -jnp.inf)


def _cauchy(v, loc, scale_, _=None):
    return -math.log(math.pi * scale_) - jnp.log1p(((v - loc) / scale_) ** 2)


def _chisquare(v, dof, _=None):
    half = dof / 2
    return _on_support(v, v >= 0, lambda u: xlogy(half - 1, u) - u / 2 - half * math.log(2) - math.lgamma(half))


def _exponential(v, scale_, _=None):
    return _on_support(v, v >= 0, lambda u: -math.log(scale_) - u / scale_)


def _gamma(v, shape, scale_):
    return _on_support(v, v >= 0, lambda u: xlogy(shape - 1, u) - u / scale_ - math.lgamma(shape)
                       - shape * math.log(scale_))


def _log_uniform(v, low, high):
    return _on_support(v, (v >= low) & (v <= high), lambda u: -jnp.log(u) - math.log(math.log(high / low)))


def _rayleigh(v, scale_, _=None):
    return _on_support(v, v >= 0, lambda u: jnp.log(u) - 2 * math.log(scale_) - u**2 / (2 * scale_**2))


_V2_DENSITIES = {"cauchy": _cauchy, "chisquare": _chisquare, "exponential": _exponential, "gamma": _gamma,
                 "logUniform": _log_uniform, "rayleigh": _rayleigh}


@dataclasses.dataclass(frozen=True)
class ParameterSpace:
    """All PEtab parameters; ``theta`` is the vector of the estimated ones on their scales.

    Attributes:
        ids: every parameter of the parameter table, in table order.
        estimate: which are estimated.
        scales: ``lin``, ``log`` or ``log10`` per parameter.
        nominal: nominal values on linear scale.
        lower, upper: bounds on linear scale.
        priors: objective prior per parameter id (estimated ones only; absent = flat).
    """

    ids: tuple[str, ...]
    estimate: np.ndarray
    scales: tuple[str, ...]
    nominal: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    priors: dict[str, Prior]

    @property
    def scale_codes(self) -> np.ndarray:
        return np.array([SCALES.index(s) for s in self.scales], dtype=np.int32)

    @property
    def estimated_index(self) -> np.ndarray:
        return np.flatnonzero(self.estimate)

    @property
    def theta_ids(self) -> list[str]:
        """Ids of the estimated parameters (the order of ``theta``)."""
        return [self.ids[i] for i in self.estimated_index]

    @property
    def theta_scales(self) -> list[str]:
        return [self.scales[i] for i in self.estimated_index]

    @property
    def theta_nominal(self) -> np.ndarray:
        """Nominal values of the estimated parameters on parameter scale."""
        i = self.estimated_index
        return scale(self.nominal[i], self.scale_codes[i])

    @property
    def theta_lower(self) -> np.ndarray:
        i = self.estimated_index
        return scale(self.lower[i], self.scale_codes[i])

    @property
    def theta_upper(self) -> np.ndarray:
        i = self.estimated_index
        return scale(self.upper[i], self.scale_codes[i])

    def values(self, theta):
        """Linear-scale values of all parameters, estimated ones taken from ``theta``."""
        i = self.estimated_index
        est = unscale(jnp.asarray(theta), jnp.asarray(self.scale_codes[i]))
        return jnp.asarray(self.nominal).at[i].set(est, unique_indices=True)  # (a simpler derivative)

    def log_prior(self, theta):
        """Sum of the objective priors at ``theta`` (0 where a parameter has none)."""
        theta = jnp.asarray(theta)
        est = self.estimated_index
        lin = unscale(theta, jnp.asarray(self.scale_codes[est]))
        total = jnp.zeros((), dtype=float)
        for k, pid in enumerate(self.theta_ids):
            prior = self.priors.get(pid)
            if prior is not None:
                total = total + prior.log_density(theta[k], lin[k])
        return total


def effective_prior(prior: Prior | None, scale_: str, lower: float, upper: float):
    """The prior of one estimated parameter as the samplers see it: a numpyro distribution
    of its value on the parameter scale, restricted to the bounds (also on that scale).

    PEtab evaluates priors without ``parameterScale`` at the linear value and adds no
    Jacobian, so on the parameter scale the density is ``p(lin(theta))``. That is again a
    named distribution in these cases: no prior (flat on the bounds), the parameterScale
    priors, ``uniform`` on any scale, ``normal``/``laplace`` on ``lin`` scale, and
    ``logNormal(mu, s)`` on ``log`` scale (``N(theta; mu, s) e^-theta``, i.e.
    ``N(mu - s^2, s)``), and the PEtab v2 types ``cauchy`` and ``logUniform`` on ``lin``
    scale. Other combinations raise ``ValueError``.
    """
    import numpyro.distributions as dist

    kind = None if prior is None else prior.kind
    theta_scale = kind is not None and (kind.startswith("parameterScale") or scale_ == "lin")
    if prior is None:
        return dist.Uniform(lower, upper)
    a, b = prior.a, prior.b
    if kind == "uniform" and not theta_scale:
        a, b = (float(v) for v in scale(np.array([a, b]), np.array([SCALES.index(scale_)] * 2)))
    if kind in ("uniform", "parameterScaleUniform"):
        return dist.Uniform(max(a, lower), min(b, upper))
    if kind == "logNormal" and scale_ == "log":
        theta_scale, kind, a = True, "normal", a - b**2
    if theta_scale and kind in ("normal", "parameterScaleNormal"):
        return dist.TruncatedNormal(a, b, low=lower, high=upper)
    if theta_scale and kind in ("laplace", "parameterScaleLaplace"):
        return dist.TruncatedDistribution(dist.Laplace(a, b), low=lower, high=upper)
    if theta_scale and kind == "cauchy":
        return dist.TruncatedDistribution(dist.Cauchy(a, b), low=lower, high=upper)
    if theta_scale and kind == "logUniform":
        return dist.LogUniform(max(a, lower), min(b, upper))
    if kind in V2_PRIOR_TYPES:
        raise ValueError(f"drawing from a {kind} prior restricted to the bounds is not supported (its density is); "
                         "samplers that start from prior draws need another prior for this parameter")
    raise ValueError(f"a {kind} prior on a {scale_}-scale parameter has no named distribution on the parameter "
                     "scale; use a parameterScale prior to draw from it")
