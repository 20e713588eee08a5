"""Affinity units: everything to log10 of the dissociation constant in molar.

Kd in M, mM, uM, nM, pM or fM; pKd = -log10(Kd / M); a binding free energy
dG = R T ln(Kd / 1 M) in kcal/mol or kJ/mol at temperature T (dG < 0 for binding).
"""

from __future__ import annotations

import math

import numpy as np

R_KCAL = 1.987204259e-3  # gas constant, kcal / (mol K)
R_KJ = 8.314462618e-3  # kJ / (mol K)
BODY_TEMPERATURE = 310.0  # K (Huber & Finley's choice for predicted dG)

CONCENTRATION_UNITS = {"M": 0.0, "mM": -3.0, "uM": -6.0, "µM": -6.0, "nM": -9.0, "pM": -12.0, "fM": -15.0}
ENERGY_UNITS = {"kcal/mol": R_KCAL, "kJ/mol": R_KJ}
LOG_UNITS = ("pKd", "log10_M")
UNITS = (*CONCENTRATION_UNITS, *ENERGY_UNITS, *LOG_UNITS)


def to_log10_molar(value, unit: str, temperature: float = BODY_TEMPERATURE):
    """log10(Kd / M) of ``value`` given in ``unit`` (one of ``UNITS``; ``temperature`` in K
    for free energies). Works on scalars and arrays."""
    v = np.asarray(value, dtype=float)
    if unit in CONCENTRATION_UNITS:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log10(v) + CONCENTRATION_UNITS[unit]
        if np.any(~(v > 0)):
            raise ValueError(f"a Kd in {unit} must be > 0, got {value!r}")
        return out
    if unit in ENERGY_UNITS:
        return v / (ENERGY_UNITS[unit] * temperature * math.log(10))
    if unit == "pKd":
        return -v
    if unit == "log10_M":
        return v
    raise ValueError(f"unknown affinity unit {unit!r}: use one of {', '.join(UNITS)}")


def from_log10_molar(log10_kd, unit: str, temperature: float = BODY_TEMPERATURE):
    """The inverse of :func:`to_log10_molar`."""
    v = np.asarray(log10_kd, dtype=float)
    if unit in CONCENTRATION_UNITS:
        return 10.0 ** (v - CONCENTRATION_UNITS[unit])
    if unit in ENERGY_UNITS:
        return v * ENERGY_UNITS[unit] * temperature * math.log(10)
    if unit == "pKd":
        return -v
    if unit == "log10_M":
        return v
    raise ValueError(f"unknown affinity unit {unit!r}: use one of {', '.join(UNITS)}")
