"""``celltwin fit``: multi-start optimisation of a PEtab problem."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .._atomic import atomic_path
from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._load import load_problem
from ._output import err_console, out_console, warn

if TYPE_CHECKING:
    import numpy as np


def best_parameter_table(problem, theta: np.ndarray):
    """``parameterId, value`` (linear scale) of ``theta``: the format ``--parameters`` reads."""
    import pandas as pd

    unscale = {"lin": lambda v: v, "log": math.exp, "log10": lambda v: 10.0**v}
    values = [unscale[s](float(v)) for s, v in zip(problem.parameter_scales, theta)]
    return pd.DataFrame({"parameterId": problem.parameter_ids, "value": values})


def fit(
    problem_yaml: Path = typer.Argument(..., metavar="PROBLEM.yaml", help="PEtab v1 problem file."),
    starts: int = typer.Option(20, "--starts", "-n", min=1, help="Number of local optimisations."),
    out: Path = typer.Option(..., "--out", "-o", metavar="FITS.tsv", help="Where to write one row per start."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", metavar="ADDR",
        help="Dask scheduler address (tcp://HOST:PORT) to run the starts on; default: local worker processes.",
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Local worker processes (default: one per core)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Latin-hypercube starting points."),
    max_iterations: int = typer.Option(1000, "--max-iterations", min=1, help="Optimiser iterations per start."),
    optimizer: str = typer.Option("L-BFGS-B", "--optimizer", help="L-BFGS-B or trust-constr (scipy)."),
    plot: Path | None = typer.Option(None, "--plot", metavar="WATERFALL.png",
                                     help="Waterfall plot (default: next to --out, *.waterfall.png)."),
) -> None:
    """Fit a PEtab problem by multi-start local optimisation (L-BFGS-B with JAX gradients).

    Starting points are a Latin hypercube inside the parameter bounds (on parameter scale).
    Writes FITS.tsv (one row per start, best first: objective = negative log-posterior, llh,
    status, iterations, time and the parameters on their scales), FITS.best.tsv (the best
    parameters on linear scale, readable by `celltwin simulate --parameters`) and a waterfall
    plot. The table is rewritten after every finished start, so a killed run keeps them.
    """
    import numpy as np

    from ..inference import OPTIMIZERS, multistart

    if optimizer not in OPTIMIZERS:
        raise CelltwinInputError(f"--optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    writable_file(out, "--out")
    plot = writable_file(plot or out.with_suffix(".waterfall.png"), "--plot")
    best_path = out.with_suffix(".best.tsv")
    problem, _, _ = load_problem(problem_yaml, run_lint=False)
    err_console().print(f"{problem!r}: {starts} start(s), seed {seed}", markup=False)
    result = multistart(problem, starts, seed=seed, executor=scheduler, workers=workers,
                        max_iterations=max_iterations, optimizer=optimizer, progress=True,
                        on_result=lambda r: r.to_tsv(out))
    result.to_tsv(out)
    table = result.table
    finite = table[np.isfinite(table["objective"])]
    if finite.empty:
        warn("no start could be simulated: every start failed (see the message column)")
        err_console().print(f"wrote {out}", markup=False)
        raise typer.Exit(1)
    with atomic_path(best_path) as tmp:
        best_parameter_table(problem, result.best_theta).to_csv(tmp, sep="\t", index=False, float_format="%.12g")
    result.waterfall(plot)
    best = float(finite["objective"].iloc[0])
    hits = int((finite["objective"] - best < 0.1).sum())
    console = out_console()
    console.print(f"best log-likelihood {result.best_llh:.6g} (negative log-posterior {best:.6g})", markup=False)
    console.print(f"{hits}/{len(table)} starts within 0.1 of the best; "
                  f"{int((table['status'] == 'converged').sum())} converged, "
                  f"{int((table['status'] == 'failed').sum())} failed", markup=False)
    console.print(f"wrote {out}, {best_path} and {plot}", markup=False)


fit = guarded(fit)
