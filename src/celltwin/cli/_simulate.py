"""``celltwin simulate``: write the PEtab simulation table of a problem."""

from __future__ import annotations

from pathlib import Path

import typer

from .._atomic import atomic_path
from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._load import load_problem
from ._output import err_console, status, warn


def simulation_table(problem, theta):
    """The PEtab simulation table at ``theta`` (compiled with ``jax.jit``, then evaluated).

    Raises:
        PEtabError: a noise formula gives a sigma that is not positive at ``theta``.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ..simulate import Status

    sim = jax.jit(problem.simulate)(jnp.asarray(theta))
    problem.check_noise_levels(sim)
    df = problem.measurement_df.copy().rename(columns={"measurement": "simulation"})
    df["simulation"] = np.asarray(sim.observables)
    failed = [(k, int(s)) for k, s in enumerate(np.asarray(sim.status)) if int(s) != Status.OK]
    return df, failed


def simulate(
    problem_yaml: Path = typer.Argument(..., metavar="PROBLEM.yaml", help="PEtab v1 problem file."),
    out: Path = typer.Option(..., "--out", "-o", metavar="SIMULATIONS.tsv", help="Where to write the simulation table."),
    parameters: Path | None = typer.Option(
        None, "--parameters", "-p", metavar="PARAMS.tsv",
        help="Parameter values: a TSV with columns parameterId and value (linear scale), or a PEtab "
             "parameter table (nominalValue). Unlisted parameters keep their nominal values.",
    ),
) -> None:
    """Simulate a PEtab problem and write its simulation table.

    The table is the measurement table with a `simulation` column in place of `measurement`.
    """
    from ..problem import read_parameter_values  # not at the top: `--help` must not import JAX

    writable_file(out, "--out")
    problem, _, _ = load_problem(problem_yaml, run_lint=False)
    theta = problem.x_nominal if parameters is None else read_parameter_values(problem, parameters)
    with status(f"Simulating {problem.n_conditions} condition(s)"):
        table, failed = simulation_table(problem, theta)
    for k, code in failed:
        from ..simulate import Status

        pre, sim = problem.arrays.contexts[k]
        label = f"condition {sim!r}" + (f" (pre-equilibrated with {pre!r})" if pre else "")
        warn(f"simulation of {label} failed: {Status(code).describe()}; its simulated values are not reliable")
    try:
        with atomic_path(out) as tmp:
            table.to_csv(tmp, sep="\t", index=False)
    except OSError as exc:
        raise CelltwinInputError(f"{out}: --out: cannot write the file: {exc.strerror or exc}") from None
    err_console().print(f"wrote {len(table)} simulated values to {out}", markup=False)


simulate = guarded(simulate)
