"""``celltwin quickstart``: a PEtab problem end to end, in well under a minute.

Loads ``examples/mapk_cascade`` (a two-tier kinase cascade with synthetic data) or the given
problem, lints it, evaluates the log-likelihood and its gradient at the nominal parameters,
and fits the parameters from there with scipy's L-BFGS-B, using ``problem.value_and_grad()``.
(``celltwin demo`` runs the EGFR twin case, see ``_twin_demo.py``.)
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer

from ..errors import CelltwinInputError
from ._errors import guarded
from ._load import load_problem
from ._output import err_console, out_console, status

EXAMPLE = Path("examples") / "mapk_cascade" / "mapk_cascade.yaml"
TRUE_VALUES = "true_parameters.tsv"  # next to the problem YAML, if the data are synthetic


def default_problem() -> Path:
    """The bundled example: in the current folder's checkout, else beside the installed sources."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (root / EXAMPLE).is_file():
            return root / EXAMPLE
    raise CelltwinInputError(
        f"{EXAMPLE}: the bundled example was not found (run from the celltwin checkout, or pass a PEtab "
        "problem YAML: `celltwin quickstart PROBLEM.yaml`)"
    )


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def quickstart(
    problem_yaml: Path | None = typer.Argument(None, metavar="[PROBLEM.yaml]",
                                               help="PEtab problem (default: the bundled examples/mapk_cascade)."),
    max_iter: int = typer.Option(200, "--max-iter", min=1, help="L-BFGS-B iterations at most."),
) -> None:
    """Run the bundled example: check it, evaluate llh and gradient, fit with L-BFGS-B."""
    from .. import _config  # noqa: F401  (float64 before jax.numpy is used here)
    import jax.numpy as jnp
    import numpy as np
    from rich.table import Table
    from scipy.optimize import minimize

    from ..problem import read_parameter_values

    started = time.perf_counter()
    path = problem_yaml or default_problem()
    console = out_console()
    problem, files, issues = load_problem(path)
    true_file = Path(path).parent / TRUE_VALUES  # read before the compile, so that a bad one fails at once
    theta_true = read_parameter_values(problem, true_file) if true_file.is_file() else None
    console.print(f"[bold]celltwin quickstart[/bold]: {_shown(path)}")
    console.print(f"  model {problem.model.name!r}: {problem.compiled.n_states} states, "
                  f"{len(problem.model.reactions)} reactions", markup=False)
    console.print(f"  data: {problem.n_measurements} measurements in {problem.n_conditions} conditions; "
                  f"{problem.n_parameters} parameters to estimate", markup=False)
    console.print(f"  PEtab lint: {'no problems found' if not issues else f'{len(issues)} warning(s)'}")

    value_and_grad = problem.value_and_grad()
    x0 = np.asarray(problem.x_nominal, dtype=float)
    with status(f"Compiling the log-likelihood and its gradient ({problem.gradient_mode()} mode)"):
        t0 = time.perf_counter()
        llh0, grad0 = value_and_grad(jnp.asarray(x0))
        llh0 = float(llh0)
        compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    value_and_grad(jnp.asarray(x0))[0].block_until_ready()
    eval_ms = 1000 * (time.perf_counter() - t0)
    console.print(f"  log-likelihood and gradient compiled in {compile_s:.1f} s; {eval_ms:.1f} ms per evaluation")
    console.print(f"  at the nominal parameters: log-likelihood {llh0:.4f}, "
                  f"|gradient| {float(np.linalg.norm(np.asarray(grad0))):.4g}")

    def objective(x):
        value, grad = value_and_grad(jnp.asarray(x))
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            return 1e12, np.zeros_like(x)  # a failed simulation: a wall for the line search
        return -value, -grad

    with status(f"Fitting {problem.n_parameters} parameters with L-BFGS-B"):
        t0 = time.perf_counter()
        result = minimize(objective, x0, jac=True, method="L-BFGS-B",
                          bounds=list(zip(problem.lower, problem.upper)), options={"maxiter": max_iter})
        fit_s = time.perf_counter() - t0
    llh_fit = -float(result.fun)

    llh_true = float(value_and_grad(jnp.asarray(theta_true))[0]) if theta_true is not None else None

    scales = problem.parameter_scales
    table = Table(title="Parameters (linear scale)", title_justify="left")
    table.add_column("parameter")
    table.add_column("scale")
    table.add_column("start", justify="right")
    if theta_true is not None:
        table.add_column("true", justify="right")
    table.add_column("fitted", justify="right")
    start_lin, fit_lin = problem.to_linear(x0), problem.to_linear(result.x)
    true_lin = problem.to_linear(theta_true) if theta_true is not None else None
    for k, pid in enumerate(problem.parameter_ids):
        row = [pid, scales[k], f"{start_lin[k]:.4g}"]
        if true_lin is not None:
            row.append(f"{true_lin[k]:.4g}")
        row.append(f"{fit_lin[k]:.4g}")
        table.add_row(*row)
    console.print(table)
    console.print(f"  L-BFGS-B: {result.nit} iterations, {result.nfev} evaluations in {fit_s:.1f} s "
                  f"({'converged' if result.success else 'stopped: ' + str(result.message)})", markup=False)
    console.print(f"  log-likelihood: start {llh0:.4f} -> fitted {llh_fit:.4f}", markup=False)
    if llh_true is not None:
        console.print(f"  log-likelihood at the true parameters: {llh_true:.4f}", markup=False)
    err_console().print(f"quickstart finished in {time.perf_counter() - started:.1f} s", markup=False)


quickstart = guarded(quickstart)
