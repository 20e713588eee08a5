"""``celltwin scenario``: predictions under interventions, over posterior draws."""

from __future__ import annotations

from pathlib import Path

import typer

from .._atomic import atomic_path
from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._load import load_posterior, load_problem
from ._output import out_console, status


def _pair(text: str, option: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name.strip():
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise CelltwinInputError(f"{option} {text!r}: expected ID=NUMBER") from None


def _inhibitor(text: str):
    from ..scenario import Inhibitor

    parts = text.split(":")
    if not 3 <= len(parts) <= 5:
        raise CelltwinInputError(f"--inhibitor {text!r}: expected TARGET:CONCENTRATION:KD[:UNIT[:KD_SD]]")
    try:
        concentration, kd = float(parts[1]), float(parts[2])
        sd = float(parts[4]) if len(parts) == 5 and parts[4] else None
    except ValueError:
        raise CelltwinInputError(f"--inhibitor {text!r}: concentration, Kd and KD_SD must be numbers") from None
    unit = parts[3] if len(parts) >= 4 and parts[3] else "nM"
    return Inhibitor(parts[0], concentration, kd, unit=unit, kd_sd=sd)


def interventions_from_options(knockout, overexpress, dose, inhibitor) -> list:
    from ..scenario import Dose, Knockout, Overexpression

    items: list = [Knockout(s) for s in knockout]
    items += [Overexpression(*_pair(t, "--overexpress")) for t in overexpress]
    items += [Dose(*_pair(t, "--dose")) for t in dose]
    items += [_inhibitor(t) for t in inhibitor]
    return items


def scenario(
    problem_yaml: Path = typer.Argument(..., metavar="PROBLEM.yaml", help="PEtab v1 problem file."),
    posterior: Path = typer.Option(..., "--posterior", metavar="POSTERIOR.nc", help="Result of `celltwin sample`."),
    out: Path = typer.Option(..., "--out", "-o", metavar="SCENARIOS.tsv", help="Where to write the predictions."),
    knockout: list[str] = typer.Option([], "--knockout", metavar="SPECIES", help="Species absent (initial 0)."),
    overexpress: list[str] = typer.Option([], "--overexpress", metavar="SPECIES=FOLD",
                                          help="Species' initial amount times FOLD."),
    dose: list[str] = typer.Option([], "--dose", metavar="ID=VALUE",
                                   help="A new initial amount or parameter value (model units), e.g. a ligand dose."),
    inhibitor: list[str] = typer.Option([], "--inhibitor", metavar="TARGET:C:KD[:UNIT[:KD_SD]]",
                                        help="Inhibitor at concentration C with dissociation constant KD (same UNIT, "
                                             "default nM; KD_SD: log10 spread) on a species or a rate constant."),
    combine: bool = typer.Option(False, "--combine", help="Apply all interventions together as one scenario "
                                                          "(default: one scenario per intervention)."),
    times: str | None = typer.Option(None, "--times", metavar="T1,T2,...",
                                     help="Output times (default: the measurement times)."),
    condition: list[str] = typer.Option([], "--condition", help="Conditions to predict (default: all)."),
    draws: int = typer.Option(400, "--draws", min=1, help="Posterior draws used (evenly thinned)."),
    seed: int = typer.Option(0, "--seed", help="Seed for uncertain inhibitor Kds."),
    plot: Path | None = typer.Option(None, "--plot", metavar="FIGURE.png", help="Also draw the predictions."),
) -> None:
    """Predict observables with posterior 90 % bands under interventions.

    Every intervention is its own scenario (or all together with --combine), next to the
    baseline without interventions. The table has one row per scenario, observable,
    condition and time: mean, q05, q50, q95 over the posterior draws, and the number of
    draws whose simulation failed.
    """
    from ..scenario import plot_scenarios, posterior_draws, predict

    writable_file(out, "--out")
    if plot is not None:
        writable_file(plot, "--plot")
    items = interventions_from_options(knockout, overexpress, dose, inhibitor)
    if not items:
        raise CelltwinInputError("give at least one intervention (--knockout, --overexpress, --dose, --inhibitor)")
    grid = None
    if times is not None:
        try:
            grid = [float(t) for t in times.split(",") if t.strip()]
        except ValueError:
            raise CelltwinInputError(f"--times {times!r}: expected numbers separated by commas") from None
        if not all(t >= 0 for t in grid):  # also false for NaN; inf is PEtab's steady state
            raise CelltwinInputError(f"--times {times!r}: times must be >= 0 (inf: the steady state)")
    problem, _, _ = load_problem(problem_yaml)
    idata = load_posterior(posterior)
    try:
        thetas = posterior_draws(idata, problem, max_draws=draws)
    except CelltwinInputError as exc:  # draws of other parameters: say which file holds them
        raise CelltwinInputError(f"{posterior}: {exc}") from None
    scenarios = {" + ".join(i.label for i in items): items} if combine else {i.label: [i] for i in items}
    with status(f"simulating {len(scenarios) + 1} scenarios x {len(thetas)} draws"):
        table = predict(problem, thetas, scenarios, times=grid, conditions=condition or None, seed=seed)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    if plot is not None:
        plot_scenarios(table, plot, data=problem.measurement_df)
    console = out_console()
    final = table[table.time == table.time.max()]
    console.print(f"at t = {final.time.max():g} (median [90 % interval]):", markup=False)
    for row in final.itertuples():
        console.print(f"  {row.scenario:<36} {row.observableId:<12} {row.simulationConditionId:<14} "
                      f"{row.q50:.4g} [{row.q05:.4g}, {row.q95:.4g}]", markup=False, soft_wrap=True)
    console.print(f"wrote {out}" + (f" and {plot}" if plot else ""), markup=False, soft_wrap=True)


scenario = guarded(scenario)
