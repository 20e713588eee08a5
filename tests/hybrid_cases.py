"""Small hybrid problems that worker processes can rebuild (their ``source`` is importable)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from celltwin.hybrid import Experiment, HybridProblem, NeuralTerm, Observable, ParameterRow
from celltwin.model import Model
from celltwin.model._model import as_expr, symbol


def decay_with_mlp() -> HybridProblem:
    """dx/dt = -k x + net(x), data from dx/dt = -0.7 x + 0.21 (x0 = 2), one MLP 1 -> 4 -> 1."""
    m = Model("decay")
    m.add_compartment("cell", 1.0)
    m.add_species("x", 2.0, compartment="cell")
    m.add_parameter("k", 1.0)
    m.add_parameter("nn_rate", 0.0)
    m.add_reaction("decay", "x ->", rate="k*x")
    m.add_reaction("unknown", "-> x", rate="nn_rate")
    net = eqx.nn.MLP(1, 1, width_size=4, depth=1, activation=jnp.tanh, key=jax.random.PRNGKey(0))
    term = NeuralTerm("net", net, ((symbol("x"),),), {"net_out": (0, 0)}, "dynamic")
    t = np.linspace(0.5, 5, 10)
    data = pd.DataFrame({"observableId": "x_obs", "experimentId": "e1", "time": t,
                         "measurement": 2.0 * np.exp(-0.7 * t) + 0.3 * (1 - np.exp(-0.7 * t))})
    problem = HybridProblem(m, [term], [ParameterRow("k", "log10", 1e-3, 1e3, 1.0, True)],
                            [Experiment("e1", None, {})], [Observable("x_obs", as_expr("x"), as_expr("0.05"))], data,
                            hybridization={"nn_rate": as_expr("net_out")})
    problem.source = decay_with_mlp
    return problem
