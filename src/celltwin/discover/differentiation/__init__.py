"""Derivative estimates: how sampled trajectories become regression rows."""

from .base import AbstractDerivativeEstimate as AbstractDerivativeEstimate
from .finite_difference import FiniteDifference as FiniteDifference
from .smoothed import SmoothedDerivative as SmoothedDerivative
from .weak import WeakForm as WeakForm
