"""Multi-start local optimisation: Latin-hypercube starts inside the bounds, L-BFGS-B with
JAX gradients, starts run in parallel through an :class:`~._executor.Executor`.

The objective is the negative log-posterior (the negative log-likelihood when the problem
has no priors), on the parameters' own scales, as pyPESTO and PEtab define it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ._executor import Executor, problem_in_worker
from ._progress import progress_bar

if TYPE_CHECKING:  # the problem package pulls in the PEtab library; consumers need only the name
    from ..problem import AbstractProblem

# L-BFGS-B needs a finite value at every trial point: where the ODE solve fails the
# objective is this (the line search then backtracks).
FAILED_OBJECTIVE = 1e100
OPTIMIZERS = ("L-BFGS-B", "trust-constr")


def latin_hypercube(lower, upper, n: int, seed: int) -> np.ndarray:
    """``n`` points in the box ``[lower, upper]`` (a Latin hypercube: every parameter's range
    is cut in ``n`` equal strata, each used once)."""
    from scipy.stats import qmc

    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    unit = qmc.LatinHypercube(d=len(lower), seed=np.random.default_rng(seed)).random(n)
    return qmc.scale(unit, lower, upper) if len(lower) else unit


def objective_function(problem: AbstractProblem) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (negative log-posterior, its gradient)`` as numpy (the problem compiles its
    parts once, so a worker that fits many starts compiles them once)."""
    import jax.numpy as jnp

    llh_and_grad = problem.value_and_grad()
    prior_and_grad = problem.jit_log_prior_value_and_grad

    def f(theta):
        theta = jnp.asarray(theta, dtype=float)
        llh, g = llh_and_grad(theta)
        lp, g_lp = prior_and_grad(theta)
        value = -(float(llh) + float(lp))
        grad = -(np.asarray(g) + np.asarray(g_lp))
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            return FAILED_OBJECTIVE, np.zeros_like(grad)
        return value, grad

    return f


def fit_start(key: str, source, index: int, x0: np.ndarray, options: dict) -> dict:
    """One local optimisation from ``x0`` (runs in a worker)."""
    from scipy.optimize import minimize

    problem = problem_in_worker(key, source)
    f = objective_function(problem)
    start = time.perf_counter()
    value0, _ = f(x0)
    if value0 >= FAILED_OBJECTIVE:
        return {"start": index, "objective": math.inf, "status": "failed",
                "message": "the model cannot be simulated at the starting point", "iterations": 0,
                "evaluations": 1, "time_s": time.perf_counter() - start, "theta": np.full_like(x0, np.nan)}
    bounds = list(zip(problem.lower, problem.upper))
    if options.get("optimizer", "L-BFGS-B") == "trust-constr":  # trust region, BFGS Hessian, interior point
        from scipy.optimize import BFGS

        res = minimize(f, x0, jac=True, hess=BFGS(), method="trust-constr", bounds=bounds,
                       options={"maxiter": options["max_iterations"], "gtol": options["gtol"], "xtol": 1e-10})
    else:
        res = minimize(f, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": options["max_iterations"], "ftol": options["ftol"], "gtol": options["gtol"]})
    value = float(res.fun) if res.fun < FAILED_OBJECTIVE else math.inf
    return {
        "start": index, "objective": value, "status": "converged" if res.success else "stopped",
        "message": str(res.message), "iterations": int(res.nit), "evaluations": int(res.nfev),
        "time_s": time.perf_counter() - start, "theta": np.asarray(res.x, dtype=float),
    }


@dataclasses.dataclass
class MultistartResult:
    """The starts of a multi-start optimisation, best first.

    Attributes:
        table: one row per start: ``start, objective, llh, log_prior, status, message,
            iterations, evaluations, time_s`` and one column per estimated parameter (on its
            scale). ``objective`` is the negative log-posterior. ``status`` is ``converged``
            when the optimiser met its stopping rule, ``stopped`` otherwise (iteration limit,
            or L-BFGS-B's line search ending "ABNORMAL", which also happens at an optimum
            where the objective no longer decreases within rounding: compare ``objective``
            across starts), ``failed`` when the start could not be simulated.
        parameter_ids: the estimated parameters, in ``theta`` order.
        seed: the seed of the starting points.
    """

    table: pd.DataFrame
    parameter_ids: list[str]
    seed: int

    @property
    def best_theta(self) -> np.ndarray:
        return self.table.iloc[0][self.parameter_ids].to_numpy(dtype=float)

    @property
    def best_llh(self) -> float:
        return float(self.table.iloc[0]["llh"])

    def to_tsv(self, path) -> None:
        """Write the table as TSV; atomically, so a reader or a kill never finds it half written."""
        with atomic_path(path) as tmp:
            self.table.to_csv(tmp, sep="\t", index=False, float_format="%.10g")

    def waterfall(self, path=None, reference: float | None = None):
        """Waterfall plot: the sorted final objectives, relative to the best one (log axis);
        ``reference`` draws a line at a known objective value. Returns the figure."""
        from ._plots import waterfall_plot

        return waterfall_plot(self.table["objective"].to_numpy(dtype=float), path=path, reference=reference)


def multistart(problem: AbstractProblem, n_starts: int = 20, *, seed: int = 0, executor=None, workers: int | None = None,
               starts: np.ndarray | None = None, max_iterations: int = 1000, ftol: float = 1e-12,
               gtol: float = 1e-6, optimizer: str = "L-BFGS-B", progress: bool = True,
               on_result: Callable | None = None) -> MultistartResult:
    """Fit ``problem`` from ``n_starts`` starting points and return all results, best first.

    Arguments:
        problem: a :class:`~celltwin.problem.Problem` or any other
            :class:`~celltwin.problem.AbstractProblem`.
        n_starts: number of local optimisations.
        seed: seed of the Latin-hypercube starting points (same seed, same starts).
        executor: ``None``/``"local"`` (worker processes), ``"serial"``, a Dask scheduler
            address ``"tcp://HOST:PORT"`` or a ``distributed.Client``.
        workers: number of local worker processes (default: one per core).
        starts: explicit starting points ``(n_starts, n_parameters)`` instead of sampling.
        max_iterations, ftol, gtol: stopping rules (``ftol`` is L-BFGS-B's only).
        optimizer: ``L-BFGS-B`` (default) or ``trust-constr`` (scipy's trust-region
            interior-point method with BFGS updates); ``benchmarks/optimizers.py`` compares
            them on the same starts.
        progress: show a progress bar with the time remaining.
        on_result: called with the :class:`MultistartResult` so far after every finished
            start (the CLI writes its table each time, so a killed run keeps what finished).
    """
    if starts is None:
        starts = latin_hypercube(problem.lower, problem.upper, n_starts, seed)
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    if starts.shape[1] != problem.n_parameters:
        raise ValueError(f"starting points have {starts.shape[1]} columns, the problem has {problem.n_parameters} parameters")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    options = {"max_iterations": max_iterations, "ftol": ftol, "gtol": gtol, "optimizer": optimizer}
    with Executor(executor, workers=workers) as pool, pool.share(problem) as (key, source):
        tasks = [(key, source, i, x0, options) for i, x0 in enumerate(starts)]
        rows = []
        with progress_bar(f"fitting {problem.name}", len(tasks), enabled=progress) as advance:
            for _, row in pool.map_unordered(fit_start, tasks):
                rows.append(row)
                advance()
                if on_result is not None:
                    on_result(_table(problem, [dict(r) for r in rows], seed))
    return _table(problem, rows, seed)


def _table(problem: AbstractProblem, rows: list[dict], seed: int) -> MultistartResult:
    import jax.numpy as jnp

    ids = list(problem.parameter_ids)
    records = []
    for row in rows:
        theta = row.pop("theta")
        lp = float(problem.log_prior(jnp.asarray(theta))) if np.all(np.isfinite(theta)) else math.nan
        row["log_prior"] = lp
        row["llh"] = -row["objective"] - lp if math.isfinite(row["objective"]) else -math.inf
        records.append({**row, **dict(zip(ids, theta))})
    columns = ["start", "objective", "llh", "log_prior", "status", "message", "iterations", "evaluations", "time_s", *ids]
    table = pd.DataFrame(records, columns=columns).sort_values(["objective", "start"], kind="stable")
    return MultistartResult(table.reset_index(drop=True), ids, seed)
