"""Savitzky-Golay smoothing, then the derivative of the local polynomial fit."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.signal import savgol_filter

from ...errors import CelltwinInputError
from .base import AbstractDerivativeEstimate, Features


@dataclasses.dataclass(frozen=True)
class SmoothedDerivative(AbstractDerivativeEstimate):
    """Local polynomial fits of degree ``order`` over ``window`` samples (uniform time grid).

    The features are evaluated at the smoothed states, the targets are the fits' slopes.
    """

    window: int = 11
    order: int = 3

    def min_samples(self) -> int:
        return max(self.window, self.order + 2)

    def rows(self, t, states, features: Features):
        dt = np.diff(t)
        if not np.allclose(dt, dt[0], rtol=1e-6, atol=0.0):
            raise CelltwinInputError("smoothed derivatives need equally spaced times; "
                                     "use the weak form (derivative='weak') for uneven sampling")
        window = min(self.window, len(t) - (1 - len(t) % 2))
        smooth = savgol_filter(states, window, self.order, axis=0, mode="interp")
        slope = savgol_filter(states, window, self.order, deriv=1, delta=float(dt[0]), axis=0, mode="interp")
        return features(smooth), slope
