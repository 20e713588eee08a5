"""``celltwin bench``: run the method benchmark into a result store, and write its leaderboard."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._output import err_console, out_console, status

bench_app = typer.Typer(help="Benchmark digital-twin methods on the task registry and write a leaderboard.",
                        no_args_is_help=True, add_completion=False)


def run(
    suite: str = typer.Option("quick", "--suite", help="quick (every method on two small tasks, for CI) or full."),
    out: Path = typer.Option(..., "--out", "-o", metavar="RESULTS.duckdb",
                             help="DuckDB result store (created if absent; finished cells are skipped)."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR",
                                         help="Dask scheduler, e.g. tcp://HOST:8786, or 'serial' (in this process); default: local processes."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Local worker processes (default: one per core)."),
    tasks: str | None = typer.Option(None, "--tasks", metavar="REGEX", help="Only tasks whose id matches this regular expression."),
    seeds: int | None = typer.Option(None, "--seeds", min=1, help="Only the suite's first N seeds."),
    methods: str | None = typer.Option(None, "--methods", help="Only these methods (comma-separated)."),
    wait: bool = typer.Option(False, "--wait",
                              help="If another run is writing the store, wait for it to end, then run what is left "
                                   "(default: exit 2 at once, naming it)."),
) -> None:
    """Run every (task, method, seed) cell of a suite that is not yet in the result store.

    Each row holds the held-out normalised RMSE, 90 % interval coverage, CRPS, parameter
    log10 error, structure F1, wall time and, for a failed cell, its error. An interrupted
    run is resumed by running the same command again.

    One run writes a store at a time: it holds RESULTS.duckdb.lock while it runs. A second
    run on the same store exits with status 2 and names the first (PID, host, start), or
    with --wait waits for it and then runs only the cells still missing.
    """
    from ..bench import METHODS
    from ..bench import run as run_suite
    from ..bench import suite as get_suite

    writable_file(out, "--out")
    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    unknown = [m for m in chosen or [] if m not in METHODS]
    if unknown:
        raise CelltwinInputError(f"--methods: unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if tasks:
        try:
            re.compile(tasks)
        except re.error as exc:
            raise CelltwinInputError(f"--tasks {tasks!r}: not a regular expression ({exc})") from None
    check_selection(get_suite(suite), tasks, chosen, seeds, scheduler)
    summary = run_suite(get_suite(suite), out, scheduler=scheduler, workers=workers, tasks=tasks, methods=chosen,
                        seeds=seeds, progress=True, wait=wait,
                        on_wait=lambda holder: err_console().print(
                            f"{out}: another run is writing this store ({holder}); waiting for it to end",
                            markup=False, soft_wrap=True))
    for name, reason in summary.unavailable.items():
        if not chosen or name in chosen:
            out_console().print(f"{name}: skipped, {reason}", markup=False, soft_wrap=True)
    waited = f" after waiting {summary.waited:.0f} s for the other run" if summary.waited >= 0.5 else ""
    out_console().print(f"{summary.total} cells: {summary.skipped} already stored, {summary.ran} run "
                        f"({summary.failed} failed) in {summary.seconds:.0f} s{waited}; wrote {out}",
                        markup=False, soft_wrap=True)


def check_selection(chosen_suite, tasks: str | None, methods: list[str] | None, seeds: int | None,
                    scheduler: str | None) -> None:
    """A selection of no cells, or a scheduler address that cannot be one, is an error before
    the result store is created."""
    from ..bench import cells
    from ..inference import check_scheduler

    if not cells(chosen_suite, tasks=tasks, methods=methods, seeds=seeds):
        raise CelltwinInputError(f"suite {chosen_suite.name}: no cells match --tasks {tasks!r} and "
                                 f"--methods {','.join(methods) if methods else None!r}")
    check_scheduler(scheduler)


def report(
    results: Path = typer.Argument(..., metavar="RESULTS.duckdb", help="Result store of `celltwin bench run`."),
    out: Path = typer.Option(..., "--out", "-o", metavar="LEADERBOARD.html", help="Where to write the leaderboard."),
) -> None:
    """Write the leaderboard: ranking, method x challenge heat map, per-axis curves and all rows."""
    from ..bench import write_leaderboard

    writable_file(out, "--out")
    with status(f"writing the leaderboard of {results}"):
        write_leaderboard(results, out)
    out_console().print(f"wrote {out}", markup=False, soft_wrap=True)


def tasks_command() -> None:
    """List the registered tasks (id and kind) of this registry version."""
    from ..bench import task_registry

    for task_id, spec in task_registry().items():
        out_console().print(f"{task_id}\t{type(spec).__name__}", markup=False, soft_wrap=True)


bench_app.command("run")(guarded(run))
bench_app.command("report")(guarded(report))
bench_app.command("tasks")(guarded(tasks_command))
