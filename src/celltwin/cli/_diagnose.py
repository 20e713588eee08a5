"""``celltwin diagnose``: is an affinity predictor's error driven by a hidden mechanism?"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from .._atomic import atomic_write_text
from ._destinations import writable_file
from ._errors import guarded
from ._output import out_console

OUT_SUFFIXES = (".json", ".html")


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _interval(lo: float, hi: float) -> str:
    return "-" if not (math.isfinite(lo) and math.isfinite(hi)) else f"[{lo:+.2f},{hi:+.2f}]"


def print_diagnosis(diagnosis, rows: int) -> None:
    """The diagnosis as rich tables on stdout: overall error, then per column the focus,
    the reversal verdict and the strata that explain most of the error."""
    from rich.table import Table

    console = out_console()
    if not console.is_terminal:  # files and pipes: wide enough that the table is not squeezed
        console.width = max(console.width, 150)
    o = diagnosis.overall
    console.print(f"[bold]{diagnosis.source}[/bold]: {o.n} pairs, {o.compounds} compounds, {o.targets} targets; "
                  f"error = predicted - measured (pKd): bias {o.bias:+.3f}, RMSE {o.rmse:.3f}, "
                  f"MAE {o.mae:.3f}, Pearson r {_fmt(o.pearson, 3)}")
    for col in diagnosis.columns:
        f, r = col.focus, col.reversal
        pct = f"{100 * f.level:g} %"
        console.print()
        console.print(f"[bold]stratum column {col.column!r}[/bold] ({f.k} strata)")
        console.print(f"  focus eta^2 = {f.eta2:.3f} ({pct} interval {f.interval[0]:.3f}-{f.interval[1]:.3f}), "
                      f"omega^2 = {f.omega2:.3f}, permutation p = {f.p_value:.2g}")
        verdict = "[bold red]REVERSAL[/bold red]" if r.reversal else "no reversal"
        console.print(f"  Simpson check (slope of measured on predicted): {verdict} - pooled {r.pooled:+.3f} "
                      f"{_interval(*r.pooled_interval)}, within strata {r.within:+.3f} {_interval(*r.within_interval)}")
        console.print(f"  {r.reason}", markup=False)
        slopes = {s.stratum: s for s in r.strata}
        table = Table(show_edge=False, header_style="bold")
        for name in ("stratum", "n", "cpds", "targets", "bias", "RMSE", "MAE", "r", "slope", f"slope {pct}",
                     "focus share"):
            table.add_column(name, justify="left" if name == "stratum" else "right")
        ordered = sorted(col.strata, key=lambda s: -s.focus_share if math.isfinite(s.focus_share) else 0.0)
        for s in ordered[:rows]:
            sl = slopes[s.label]
            table.add_row(s.label, str(s.n), str(s.compounds), str(s.targets), f"{s.bias:+.2f}", _fmt(s.rmse),
                          _fmt(s.mae), _fmt(s.pearson), _fmt(sl.slope), _interval(*sl.interval),
                          _fmt(s.focus_share, 3))
        console.print(table)
        if len(ordered) > rows:
            console.print(f"  ... {len(ordered) - rows} more strata (sorted by focus share; all of them in --out)")


def diagnose(
    predictions_csv: Path = typer.Argument(..., metavar="PREDICTIONS.csv",
                                           help="compound,target,predicted,measured[,unit] + stratum columns."),
    strata: list[str] = typer.Option(..., "--strata", "-s", metavar="COL",
                                     help="Stratum column (candidate hidden mechanism); repeat for several."),
    unit: str = typer.Option("pKd", "--unit", help="Unit of rows when the CSV has no 'unit' column."),
    out: list[Path] = typer.Option([], "--out", "-o", metavar="FILE.json|FILE.html",
                                   help="Also write the full diagnosis: JSON or a self-contained HTML report "
                                        "(by the suffix); repeat for both."),
    n_boot: int = typer.Option(2000, "--bootstrap", min=10, help="Stratified bootstrap replicates."),
    n_perm: int = typer.Option(2000, "--permutations", min=10, help="Label permutations for the focus p-value."),
    level: float = typer.Option(0.95, "--level", min=0.5, max=0.999, help="Interval level."),
    min_size: int = typer.Option(5, "--min-size", min=3, help="Smallest stratum that gets its own slope."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutations."),
    rows: int = typer.Option(15, "--rows", min=1, help="Strata shown per column (most focus share first)."),
) -> None:
    """Stratify a predictor's error by candidate hidden mechanisms.

    For each --strata column: the error per stratum (bias, RMSE, MAE,
    Pearson r, slope of measured on predicted with a bootstrap interval),
    the focus eta^2 (the fraction of the error variance the stratum
    explains, with interval, omega^2 and a permutation p-value) and a check
    for a Simpson-type reversal (a trend within every stratum that flips
    when pooled). Affinities are converted to pKd; error = predicted -
    measured. The CSV format is in docs/causal_diagnostics.md.
    """
    from ..causal import diagnose as run_diagnosis
    from ..causal import read_predictions, write_html
    from ..inference import progress_bar

    for path in out:
        writable_file(path, "--out", suffixes=OUT_SUFFIXES)
    table = read_predictions(predictions_csv, default_unit=unit, strata=tuple(strata))
    with progress_bar(f"diagnosing {len(table)} pairs", total=len(strata)) as advance:
        diagnosis = run_diagnosis(table, strata, n_boot=n_boot, n_perm=n_perm, level=level, min_size=min_size,
                                  seed=seed, progress=lambda _column: advance())
    print_diagnosis(diagnosis, rows)
    for path in out:
        if path.suffix.lower() == ".json":
            atomic_write_text(path, json.dumps(diagnosis.to_dict(), indent=2))
        else:
            write_html(diagnosis, table, path)
        out_console().print(f"wrote {path}", markup=False, soft_wrap=True)


diagnose = guarded(diagnose)
