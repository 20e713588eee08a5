"""Regression pins: numbers of the current code, recorded before a refactoring, to check
that the refactoring leaves them unchanged (to 1e-10).

These are not correctness tests (the closed-form tests are); they say "the same numbers as
the commit that recorded them". Record again only on purpose, with a reason in the commit:

    PYTHONPATH=src python tests/regression_pins.py   # writes tests/data/regression_pins.json

Only public entry points are exercised, so the pins survive moves of private code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PINS = HERE / "data" / "regression_pins.json"
MAPK = HERE.parent / "examples" / "mapk_cascade" / "mapk_cascade.yaml"

# Offsets from the nominal values (parameter scale): a point that is not special.
SHIFT = np.array([0.13, -0.21, 0.07, 0.19, -0.11, 0.05])


def _mapk():
    from celltwin.problem import from_petab

    return from_petab(MAPK)


def _mapk_with_priors():
    """mapk_cascade with an objective prior of every supported kind on some parameters."""
    import pandas as pd

    base = _mapk()
    table = base.tables["parameters"] if base.tables else None
    if table is None:  # built from PEtab files: read the parameter table again
        table = pd.read_csv(MAPK.parent / "parameters.tsv", sep="\t", index_col="parameterId")
    table = table.copy()
    table["objectivePriorType"] = ""
    table["objectivePriorParameters"] = ""
    priors = {"k_act1": ("parameterScaleNormal", "-0.5;0.4"), "V_deact1": ("logNormal", "0.1;0.8"),
              "k_act2": ("normal", "0.6;0.3"), "scale_pK1": ("parameterScaleLaplace", "0.1;0.5"),
              "scale_pK2": ("uniform", "0.05;50")}
    for pid, (kind, args) in priors.items():
        table.loc[pid, ["objectivePriorType", "objectivePriorParameters"]] = [kind, args]
    table = table.replace({"": np.nan})
    from celltwin.problem import Problem

    data = {name: pd.read_csv(MAPK.parent / f"{name}.tsv", sep="\t") for name in ("measurements", "observables",
                                                                                   "conditions")}
    return Problem.from_tables(base.model, measurements=data["measurements"],
                               observables=data["observables"].set_index("observableId"),
                               conditions=data["conditions"].set_index("conditionId"), parameters=table,
                               name="mapk_priors")


def _problem_numbers(problem, prefix: str) -> dict:
    import jax
    import jax.numpy as jnp

    from celltwin.inference._space import BoundedSpace
    from celltwin.inference._space import z_target as _z_target

    out = {}
    for label, theta in (("nominal", problem.x_nominal), ("shifted", problem.x_nominal + SHIFT)):
        theta = jnp.asarray(theta)
        key = f"{prefix}/{label}"
        out[f"{key}/llh"] = float(problem.log_likelihood(theta))
        out[f"{key}/log_prior"] = float(problem.log_prior(theta))
        for mode in ("forward", "reverse"):
            value, grad = problem.value_and_grad(mode)(theta)
            out[f"{key}/value_{mode}"] = float(value)
            out[f"{key}/grad_{mode}"] = np.asarray(grad).tolist()
        sim = problem.simulate(theta)
        out[f"{key}/observables"] = np.asarray(sim.observables).tolist()
        out[f"{key}/sigmas"] = np.asarray(sim.sigmas).tolist()
        out[f"{key}/pointwise"] = np.asarray(problem.pointwise_log_likelihood(theta)).tolist()
        space = BoundedSpace(problem.lower, problem.upper)
        z = space.z(theta)
        out[f"{key}/z_target"] = float(_z_target(space, problem.log_posterior)(z))
        out[f"{key}/z_target_grad"] = np.asarray(jax.grad(_z_target(space, problem.differentiable_log_posterior()))(z)
                                                 ).tolist()
    return out


def _fit_numbers(problem) -> dict:
    from celltwin.inference import multistart

    result = multistart(problem, 2, seed=3, executor="serial", max_iterations=15, progress=False)
    t = result.table.sort_values("start")
    return {"fit/objective": t["objective"].tolist(), "fit/theta": t[result.parameter_ids].to_numpy().tolist(),
            "fit/iterations": t["iterations"].astype(float).tolist()}


def _hybrid_numbers() -> dict:
    import jax
    import jax.numpy as jnp

    from celltwin.hybrid._shooting import shooting_layout, shooting_terms

    sys.path.insert(0, str(HERE))
    from hybrid_cases import decay_with_mlp

    problem = decay_with_mlp()
    out = {}
    theta = jnp.asarray(problem.x_nominal) + 0.05 * jnp.sin(jnp.arange(len(problem.parameter_ids), dtype=float))
    value, grad = jax.jit(jax.value_and_grad(problem.log_posterior))(theta)
    out["hybrid/llh"] = float(problem.log_likelihood(theta))
    out["hybrid/log_prior"] = float(problem.log_prior(theta))
    out["hybrid/log_posterior"] = float(value)
    out["hybrid/grad_log_posterior"] = np.asarray(grad).tolist()
    y, sigma, _ = problem.simulate(theta)
    out["hybrid/observables"] = np.asarray(y).tolist()
    out["hybrid/sigmas"] = np.asarray(sigma).tolist()
    ll, contribution = problem.training_terms(theta)
    out["hybrid/training_pointwise"] = np.asarray(ll).tolist()
    out["hybrid/training_contribution"] = float(contribution)
    layout = shooting_layout(problem, 3)
    nodes = jnp.full((layout.n_nodes, problem.cm.n_states), 1.1)
    ll, contribution, residuals = shooting_terms(problem, layout, theta, nodes)
    out["hybrid/shooting_pointwise"] = np.asarray(ll).tolist()
    out["hybrid/shooting_contribution"] = float(contribution)
    out["hybrid/shooting_residuals"] = np.asarray(residuals).tolist()
    return out


def _hybrid_with_priors():
    """A hybrid with an upstream network (a parameter from ``u``) and one in the right-hand
    side, priors on scalars and weights, log-normal and Laplace noise."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import pandas as pd

    from celltwin.hybrid import Experiment, HybridProblem, NetworkArrays, NeuralTerm, Observable, ParameterRow
    from celltwin.model import Model
    from celltwin.model._model import as_expr, symbol
    from celltwin.problem import Prior

    m = Model("decay")
    m.add_compartment("cell", 1.0)
    m.add_species("x", 2.0, compartment="cell")
    m.add_parameter("k", 1.0)
    m.add_parameter("nn_rate", 0.0)
    m.add_reaction("decay", "x ->", rate="k*x")
    m.add_reaction("unknown", "-> x", rate="nn_rate")
    net = eqx.nn.MLP(1, 1, width_size=3, depth=1, activation=jnp.tanh, key=jax.random.PRNGKey(1))
    up = eqx.nn.Linear(1, 1, key=jax.random.PRNGKey(2))
    terms = [NeuralTerm("net", net, ((symbol("x"),),), {"net_out": (0, 0)}, "dynamic"),
             NeuralTerm("up", up, ((symbol("u"),),), {"up_out": (0, 0)}, "pre", input_ids=((None,),))]
    rows = [ParameterRow("u", "lin", -5, 5, 0.8, True, Prior("normal", 0.5, 1.0)),
            ParameterRow("s", "log10", 1e-2, 1e2, 1.5, True, Prior("parameterScaleLaplace", 0.1, 0.5)),
            ParameterRow("sd", "log", 1e-3, 1.0, 0.1, True)]
    t = np.linspace(0.5, 4, 8)
    x = 2.0 * np.exp(-0.5 * t) + 0.2
    data = pd.DataFrame({"observableId": ["a"] * 8 + ["b"] * 8, "experimentId": "e1", "time": np.r_[t, t],
                         "measurement": np.r_[1.5 * x, x + 0.03 * np.cos(7 * t)]})
    observables = [Observable("a", as_expr("s*x"), as_expr("sd"), "log", "normal"),
                   Observable("b", as_expr("x"), as_expr("sd"), "lin", "laplace")]
    arrays = [NetworkArrays("net", ((None, None, True, None, Prior("normal", 0.0, 2.0)),))]
    return HybridProblem(m, terms, rows, [Experiment("e1", None, {})], observables, data,
                         hybridization={"nn_rate": as_expr("0.4 + 0.1*net_out"), "k": as_expr("0.5 + up_out**2")},
                         network_arrays=arrays)


def _hybrid_prior_numbers() -> dict:
    import jax
    import jax.numpy as jnp

    problem = _hybrid_with_priors()
    theta = jnp.asarray(problem.x_nominal) + 0.03 * jnp.cos(jnp.arange(len(problem.parameter_ids), dtype=float))
    value, grad = jax.jit(jax.value_and_grad(problem.log_posterior))(theta)
    y, sigma, _ = problem.simulate(theta)
    return {"hybrid_priors/x_nominal": np.asarray(problem.x_nominal).tolist(),
            "hybrid_priors/lower": np.asarray(problem.lower).tolist(),
            "hybrid_priors/upper": np.asarray(problem.upper).tolist(),
            "hybrid_priors/llh": float(problem.log_likelihood(theta)),
            "hybrid_priors/log_prior": float(problem.log_prior(theta)),
            "hybrid_priors/log_posterior": float(value), "hybrid_priors/grad_log_posterior": np.asarray(grad).tolist(),
            "hybrid_priors/observables": np.asarray(y).tolist(), "hybrid_priors/sigmas": np.asarray(sigma).tolist(),
            "hybrid_priors/pointwise": np.asarray(problem.pointwise_log_likelihood(theta)).tolist()}


def compute() -> dict:
    """Every pinned number, by name."""
    mapk = _mapk()
    return {**_problem_numbers(mapk, "mapk"), **_problem_numbers(_mapk_with_priors(), "mapk_priors"),
            **_fit_numbers(mapk), **_hybrid_numbers(), **_hybrid_prior_numbers()}


def record() -> None:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "src"], cwd=HERE, capture_output=True,
                                text=True).stdout.strip())
    PINS.parent.mkdir(exist_ok=True)
    PINS.write_text(json.dumps({"commit": commit, "src_modified": dirty, "values": compute()}, indent=1) + "\n")


if __name__ == "__main__":
    record()
