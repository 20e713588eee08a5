"""Measurement noise models: normal and Laplace on lin, log or log10 scale (PEtab v1).

For a transformed observable the density is of the measurement on *linear* scale, so it
includes the Jacobian of the transformation, e.g. for log-normal noise

    log p(m) = -log(sqrt(2 pi) sigma m) - (log m - log y)^2 / (2 sigma^2).

A noise level must be positive: a noise formula that evaluates to a negative, zero or
non-finite sigma gives a NaN density (so the log-likelihood is -inf and optimizers and
samplers reject the point), never the density of |sigma|.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

TRANSFORMS = ("lin", "log", "log10")
DISTRIBUTIONS = ("normal", "laplace")


@dataclasses.dataclass(frozen=True)
class MeasurementModel:
    """Measured values and their noise model, one entry per measurement row.

    Attributes:
        measured: the measured values.
        transform_codes: observable transformation per row (0 lin, 1 log, 2 log10).
        laplace: per row, Laplace noise (``True``) or normal noise (``False``).
    """

    measured: jax.Array
    transform_codes: jax.Array
    laplace: jax.Array

    @classmethod
    def from_names(cls, measured, transformations: Sequence[str], distributions: Sequence[str]) -> MeasurementModel:
        """From per-row PEtab names: ``observableTransformation`` and ``noiseDistribution``."""
        return cls(jnp.asarray(measured, dtype=float), jnp.asarray([TRANSFORMS.index(t) for t in transformations]),
                   jnp.asarray([d == "laplace" for d in distributions]))

    def log_densities(self, simulated, sigma):
        """Log-density of each measurement given the simulation (see :func:`log_densities`)."""
        return log_densities(simulated, self.measured, sigma, self.transform_codes, self.laplace)

    def residuals(self, simulated, sigma):
        """Weighted residuals ``(transform(m) - transform(y)) / sigma``."""
        return residuals(simulated, self.measured, sigma, self.transform_codes)

    def sample(self, key, simulated, sigma):
        """Measurements drawn around ``simulated`` with this noise model."""
        return sample_measurements(key, simulated, sigma, self.transform_codes, self.laplace)

    def with_measured(self, values) -> MeasurementModel:
        """The same noise model for other measured values (may be traced)."""
        return dataclasses.replace(self, measured=values)

    def take(self, rows) -> MeasurementModel:
        """The rows ``rows`` (an index array), e.g. to reorder."""
        return MeasurementModel(self.measured[rows], self.transform_codes[rows], self.laplace[rows])

    @property
    def is_normal_on_linear_scale(self) -> bool:
        """Every row has normal noise on an untransformed observable (least squares)."""
        return not (bool(jnp.any(self.transform_codes != 0)) or bool(jnp.any(self.laplace)))


def transform(values, codes):
    """Apply observable transformations (codes: 0 lin, 1 log, 2 log10)."""
    safe = jnp.where(codes == 0, 1.0, values)
    return jnp.where(codes == 1, jnp.log(safe), jnp.where(codes == 2, jnp.log10(safe), values))


def log_jacobian(measured, codes):
    """log |d transform(m) / d m|, the term that makes densities refer to linear scale."""
    safe = jnp.where(codes == 0, 1.0, measured)
    return jnp.where(codes == 1, -jnp.log(safe), jnp.where(codes == 2, -jnp.log(safe * math.log(10.0)), 0.0))


def residuals(simulated, measured, sigma, codes):
    """Weighted residuals (transform(m) - transform(y)) / sigma."""
    return (transform(measured, codes) - transform(simulated, codes)) / sigma


def log_densities(simulated, measured, sigma, transform_codes, laplace_mask):
    """Pointwise log-likelihood of each measurement; NaN where sigma is not positive and finite."""
    valid = valid_sigma(sigma)
    # The density is computed with a stand-in sigma where it is invalid so that neither the
    # value nor its derivative there can leak into the selected branch (NaN * 0 in reverse mode).
    safe = jnp.where(valid, sigma, 1.0)
    r = residuals(simulated, measured, safe, transform_codes)
    normal = -0.5 * jnp.log(2 * math.pi * safe**2) - 0.5 * r**2
    laplace = -jnp.log(2 * safe) - jnp.abs(r)
    density = jnp.where(laplace_mask, laplace, normal) + log_jacobian(measured, transform_codes)
    return jnp.where(valid, density, jnp.nan)


def valid_sigma(sigma):
    """Where a noise level is usable: positive and finite (sigma**2 would hide a sign)."""
    return (sigma > 0) & jnp.isfinite(sigma)


def sample_measurements(key, simulated, sigma, transform_codes, laplace_mask):
    """Draw measurements from the noise model: noise added on the transformed scale."""
    k1, k2 = jax.random.split(key)
    eps = jnp.where(laplace_mask, jax.random.laplace(k1, simulated.shape), jax.random.normal(k2, simulated.shape))
    noisy = transform(simulated, transform_codes) + sigma * eps
    return jnp.where(transform_codes == 1, jnp.exp(noisy), jnp.where(transform_codes == 2, 10.0**noisy, noisy))
