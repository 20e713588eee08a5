"""``celltwin check``: lint, load, compile and evaluate a PEtab problem at its nominal parameters."""

from __future__ import annotations

import contextlib
import enum
import json
import math
import statistics
import sys
import time
from pathlib import Path

import typer

from ._errors import guarded
from ._load import load_problem
from ._output import out_console, status, warn

N_TIMED = 5


class Format(str, enum.Enum):
    text = "text"
    json = "json"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluate(problem) -> dict:
    """Compile and evaluate at the nominal parameters: the numbers ``check`` reports.

    Raises:
        PEtabError: the log-likelihood is not finite because a noise formula gives a sigma
            that is not positive (the message names the observable and its noiseFormula).
    """
    import jax.numpy as jnp

    theta = jnp.asarray(problem.x_nominal)
    with status(f"Compiling the log-likelihood ({problem.n_parameters} parameters)"):
        compile_s = problem.compile()
    with status("Evaluating at the nominal parameters"):
        llh = float(problem.jit_log_likelihood(theta))
        times = []
        for _ in range(N_TIMED):
            start = time.perf_counter()
            problem.jit_log_likelihood(theta).block_until_ready()
            times.append(time.perf_counter() - start)
        log_prior = float(problem.log_prior(theta))
    if not math.isfinite(llh):
        with status("Looking for the cause of the non-finite log-likelihood"):
            problem.check_noise_levels(problem.jit_simulate(theta))
    return {
        "llh": llh,
        "log_prior": log_prior,
        "n_measurements": int(problem.n_measurements),
        "n_parameters": int(problem.n_parameters),
        "compile_s": round(compile_s, 4),
        "llh_ms": round(1000 * statistics.median(times), 4),
    }


def check(
    problem_yaml: Path = typer.Argument(..., metavar="PROBLEM.yaml", help="PEtab problem file (v1 or v2)."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="text: a readable summary; json: one JSON object on stdout."),
    lint: bool = typer.Option(True, "--lint/--no-lint", help="Run the PEtab library's linter first."),
) -> None:
    """Lint a PEtab problem, load and compile it, and evaluate it at the nominal parameters.

    With --format json, stdout gets one JSON object: llh, log_prior, n_measurements, n_parameters, compile_s, llh_ms (median of a few evaluations after compilation), then problem, lint and warnings.
    """
    # In JSON mode anything a library prints goes to stderr; only the result reaches stdout.
    redirect = contextlib.redirect_stdout(sys.stderr) if format is Format.json else contextlib.nullcontext()
    with redirect:
        problem, files, issues = load_problem(problem_yaml, run_lint=lint, warn_lint=False)
        result = evaluate(problem)
    warnings = []
    if not math.isfinite(result["llh"]):
        warnings.append("the log-likelihood is not finite at the nominal parameters: a simulation failed or "
                        "gave a value the noise model cannot take, such as a non-positive value of a "
                        "log-transformed observable (`celltwin simulate` shows the simulated values)")
    for w in warnings:
        warn(w)
    if format is Format.json:
        payload = {**result, "llh": _finite_or_none(result["llh"]), "log_prior": _finite_or_none(result["log_prior"]),
                   "problem": problem.name, "lint": [i.as_dict() for i in issues], "warnings": warnings}
        sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
        sys.stdout.flush()
        return
    _print_summary(problem, files, issues, result, lint)


def _print_summary(problem, files, issues, result, linted: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = out_console()
    console.print(f"[bold]celltwin check[/bold]: {escape(str(files.yaml))}", soft_wrap=True)
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column()
    cm = problem.compiled
    table.add_row("problem", problem.name)
    table.add_row("model", f"{cm.n_states} states, {len(problem.model.reactions)} reactions")
    n = problem.n_conditions
    table.add_row("conditions", f"{n} simulation condition{'s' if n != 1 else ''}")
    table.add_row("measurements", str(result["n_measurements"]))
    table.add_row("estimated parameters", str(result["n_parameters"]))
    if not linted:
        lint_text = "skipped (--no-lint)"
    elif issues:
        lint_text = f"[yellow]{len(issues)} warning(s)[/yellow]"
    else:
        lint_text = "[green]no problems found[/green]"
    table.add_row("PEtab lint", lint_text)
    table.add_row("compile time", f"{result['compile_s']:.2f} s")
    llh = result["llh"]
    table.add_row("log-likelihood (nominal)", f"{llh:.6g}" if math.isfinite(llh) else f"[red]{llh}[/red]")
    table.add_row("log-prior (nominal)", f"{result['log_prior']:.6g}")
    table.add_row("time per evaluation", f"{result['llh_ms']:.3g} ms (median of {N_TIMED})")
    console.print(table)
    for issue in issues:
        console.print(f"  [yellow]{issue.severity}[/yellow]: {escape(issue.describe())}")


check = guarded(check)
