"""``celltwin profile``: profile likelihoods of a PEtab problem around its best fit."""

from __future__ import annotations

from pathlib import Path

import typer

from .._atomic import atomic_path
from ..errors import CelltwinInputError
from ._destinations import writable_folder
from ._errors import guarded
from ._load import load_problem
from ._output import err_console, out_console


def profile(
    problem_yaml: Path = typer.Argument(..., metavar="PROBLEM.yaml", help="PEtab v1 problem file."),
    out: Path = typer.Option(..., "--out", "-o", metavar="FOLDER", help="Folder for the profile tables and plot."),
    fits: Path | None = typer.Option(None, "--fits", metavar="FITS.tsv",
                                     help="Start from the best row of a `celltwin fit` table (else fit first)."),
    starts: int = typer.Option(10, "--starts", min=1, help="Multi-start optimisations when no --fits is given."),
    parameters: str | None = typer.Option(None, "--parameters", help="Comma-separated ids to profile (default: all)."),
    alpha: float = typer.Option(0.95, "--alpha", min=0.5, max=0.999, help="Confidence level of the intervals."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR", help="Dask scheduler address."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Local worker processes."),
    seed: int = typer.Option(0, "--seed", help="Seed of the starts when fitting first."),
) -> None:
    """Profile likelihoods: each parameter fixed on a grid away from the best fit, the others
    re-optimised, until the log-posterior falls by chi2(alpha, 1)/2 or a bound is reached.

    Writes FOLDER/points.tsv (every profile point with all parameters), FOLDER/intervals.tsv
    (per parameter: optimum, lower, upper, identifiable; empty where the profile stays above
    the threshold up to a bound) and FOLDER/profiles.png.
    """
    import numpy as np

    from ..inference import multistart, read_best_fit
    from ..inference import profile as run_profile

    writable_folder(out, "--out")
    problem, _, _ = load_problem(problem_yaml, run_lint=False)
    names = None
    if parameters:
        names = [p.strip() for p in parameters.split(",") if p.strip()]
        unknown = [p for p in names if p not in problem.parameter_ids]
        if unknown:
            raise CelltwinInputError(f"--parameters: unknown or fixed parameter(s) {', '.join(unknown)} "
                                     f"(estimated: {', '.join(problem.parameter_ids)})")
    if fits is not None:
        theta = read_best_fit(problem, fits)
    else:
        err_console().print(f"no --fits: fitting first with {starts} start(s)", markup=False)
        theta = multistart(problem, starts, seed=seed, executor=scheduler, workers=workers).best_theta
    result = run_profile(problem, theta, parameters=names, alpha=alpha, executor=scheduler, workers=workers)
    out.mkdir(exist_ok=True)
    for name, table in (("points.tsv", result.points), ("intervals.tsv", result.intervals)):
        with atomic_path(out / name) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.10g")
    result.plot(out / "profiles.png")
    console = out_console()
    for _, iv in result.intervals.iterrows():
        lo = "open" if not np.isfinite(iv["lower"]) else f"{iv['lower']:.4g}"
        hi = "open" if not np.isfinite(iv["upper"]) else f"{iv['upper']:.4g}"
        note = "" if iv["identifiable"] else "  (not identifiable)"
        console.print(f"{iv['parameter']}: {iv['optimum']:.4g} [{lo}, {hi}]{note}", markup=False)
    console.print(f"wrote {out / 'points.tsv'}, {out / 'intervals.tsv'} and {out / 'profiles.png'}", markup=False)


profile = guarded(profile)
