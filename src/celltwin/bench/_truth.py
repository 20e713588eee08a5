"""Noise-free data of a curated model, solved with scipy (LSODA, tight tolerances) from its
symbolic reactions: no JAX compilation, so building a task takes milliseconds, and the
data a method is scored on do not come from the solver the methods themselves use."""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

from ._models import CuratedModel

RTOL, ATOL = 1e-10, 1e-12


def simulate_truth(cm: CuratedModel, condition_value: float, times: np.ndarray) -> np.ndarray:
    """States ``(n_species, n_times)`` of the true model (unit compartment) at ``times``."""
    model = cm.build()
    species = list(cm.species)
    symbols = [sp.Symbol(s, real=True) for s in species]
    values = {sp.Symbol(p, real=True): v for p, v in cm.rates.items()}
    values[sp.Symbol(cm.condition_parameter, real=True)] = float(condition_value)
    rhs = [sp.Integer(0)] * len(species)
    for reaction in model.reactions.values():
        rate = reaction.rate.subs(values)
        for sid, n in reaction.reactants.items():
            rhs[species.index(sid)] -= n * rate
        for sid, n in reaction.products.items():
            rhs[species.index(sid)] += n * rate
    f = sp.lambdify(symbols, rhs, "numpy")
    x0 = [float(model.species[s].initial.subs(values)) for s in species]
    sol = solve_ivp(lambda t, x: np.asarray(f(*x), dtype=float), (0.0, float(times[-1])), x0, t_eval=times,
                    method="LSODA", rtol=RTOL, atol=ATOL)
    if not sol.success:
        raise RuntimeError(f"{cm.name}: the true model cannot be solved ({sol.message})")
    return sol.y
