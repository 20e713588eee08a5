"""The weak (integral) form: no derivative of data is taken.

For a test function ``phi`` that vanishes at both ends of a window ``[a, b]``, integration
by parts turns ``dx/dt = Theta(x) c`` into ``-int phi'(t) x(t) dt = int phi(t) Theta(x(t)) dt c``.
Noise enters only through integrals, which average it out. The integrals use the
trapezoidal rule on the sample times, so uneven sampling is fine.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .base import AbstractDerivativeEstimate, Features


def _trapezoid_weights(t: np.ndarray) -> np.ndarray:
    w = np.zeros_like(t)
    dt = np.diff(t)
    w[:-1] += dt / 2
    w[1:] += dt / 2
    return w


@dataclasses.dataclass(frozen=True)
class WeakForm(AbstractDerivativeEstimate):
    """Test functions ``phi(t) = ((t - a)(b - t))^power`` on ``n_windows`` overlapping windows
    of ``width`` samples each, spread evenly over every trajectory."""

    n_windows: int = 100
    width: int = 41
    power: int = 4
    refine: int = 1

    def min_samples(self) -> int:
        return 5

    def rows(self, t, states, features: Features):
        t = np.asarray(t, dtype=float)
        n = len(t)
        width = int(min(self.width, n))
        starts = np.unique(np.linspace(0, n - width, min(self.n_windows, n - width + 1)).round().astype(int))
        if self.refine > 1:
            from scipy.interpolate import CubicSpline

            spline = CubicSpline(t, states, axis=0)
            fine = np.concatenate([np.linspace(t[k], t[k + 1], self.refine, endpoint=False) for k in range(n - 1)]
                                  + [t[-1:]])
            index = np.arange(n) * self.refine
            t, states = fine, spline(fine)
        else:
            index = np.arange(n)
        theta = features(states)
        a_rows, b_rows = [], []
        for s in starts:
            sl = slice(index[s], index[s + width - 1] + 1)
            tw = t[sl]
            a, b = tw[0], tw[-1]
            u, v = tw - a, b - tw
            p = self.power
            phi = (u * v) ** p
            dphi = p * (u * v) ** (p - 1) * (v - u)
            w = _trapezoid_weights(tw)
            scale = 1.0 / np.sum(w * phi)  # rows of comparable size across windows
            a_rows.append(scale * (w * phi) @ theta[sl])
            b_rows.append(-scale * (w * dphi) @ states[sl])
        return np.array(a_rows), np.array(b_rows)
