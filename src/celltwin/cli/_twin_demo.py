"""``celltwin demo``: a twin case end to end (default: the bundled GPCR case, which converges in
minutes; the EGFR case, ``examples/egfr_kholodenko/case.yaml``, takes hours)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CelltwinInputError
from ._destinations import writable_folder
from ._errors import guarded
from ._output import err_console, out_console

CASE = Path("examples") / "gpcr_yi" / "case.yaml"


def default_case() -> Path:
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (root / CASE).is_file():
            return root / CASE
    raise CelltwinInputError(f"{CASE}: the bundled GPCR case was not found (run from the celltwin checkout, or "
                             "pass a case file: `celltwin demo CASE.yaml --out DIR`)")


def demo(
    case_yaml: Path | None = typer.Argument(None, metavar="[CASE.yaml]",
                                            help="Twin case file (default: examples/gpcr_yi/case.yaml)."),
    out: Path = typer.Option(Path("celltwin-demo"), "--out", "-o", metavar="DIR",
                             help="Folder for report.html, summary.json and the posteriors."),
    method: str | None = typer.Option(None, "--method", help="Override the case's sampler: nuts, ensemble or smc."),
    chains: int | None = typer.Option(None, "--chains", min=1, help="Override the case's chains."),
    draws: int | None = typer.Option(None, "--draws", min=1, help="Override the case's draws per chain."),
    warmup: int | None = typer.Option(None, "--warmup", min=0, help="Override the case's warm-up."),
    max_tree_depth: int | None = typer.Option(None, "--max-tree-depth", min=1, max=15, help="Override (NUTS)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the case's seed."),
    stop_rhat: float | None = typer.Option(None, "--stop-rhat", metavar="R",
                                           help="NUTS: stop each run after the first block where every R-hat <= R."),
    stop_ess: float | None = typer.Option(None, "--stop-ess", metavar="N",
                                          help="NUTS: ... and every bulk and tail ESS >= N (--draws is the limit)."),
    imh_proposals: int | None = typer.Option(None, "--imh-proposals", min=0, metavar="M",
                                             help="Override (NUTS): independence proposals after each draw."),
    block: int | None = typer.Option(None, "--block", min=1, help="Override the case's draws per checkpoint."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="NUTS: run the chains in this many groups at once, one process each."),
) -> None:
    """Run a twin case end to end: baseline and evidence-augmented posteriors, information
    gain, held-out prediction, posterior Kds against literature values and an intervention
    scenario. Writes DIR/report.html and DIR/summary.json (and the posteriors as NetCDF).

    An interrupted run continues where it stopped when run again with the same --out.
    """
    from ..twin import read_case, run_case

    writable_folder(out, "--out", parents=True)
    case = read_case(case_yaml or default_case())
    overrides = {k: v for k, v in dict(method=method, chains=chains, draws=draws, warmup=warmup,
                                       max_tree_depth=max_tree_depth, seed=seed, stop_rhat=stop_rhat,
                                       stop_ess=stop_ess, imh_proposals=imh_proposals,
                                       block=block).items() if v is not None}
    console = err_console()
    try:
        summary = run_case(case, out, sampler=overrides,
                           log=lambda m: console.print(m, markup=False, soft_wrap=True), workers=workers)
    except CelltwinInputError as exc:
        from ..twin import CaseFieldError

        if isinstance(exc, CaseFieldError):  # the case's own field: name the case file
            raise CelltwinInputError(f"{case_yaml or default_case()}: {exc}") from None
        raise
    show = out_console()
    show.print(f"{case.name}", markup=False)
    show.print(f"  max R-hat {summary['max_rhat']:.3f}, min bulk ESS {summary['min_bulk_ess']:.0f}, "
               f"min tail ESS {summary['min_tail_ess']:.0f}, wall time {summary['wall_time_s']:.0f} s", markup=False)
    loo = summary["loo"]
    show.print(f"  PSIS-LOO elpd, augmented - baseline: {loo['elpd_diff_augmented_minus_baseline']:.2f} "
               f"(se {loo['elpd_diff_se']:.2f})", markup=False)
    held = summary.get("held_out")
    if held:
        show.print(f"  held-out RMSE: baseline {held['rmse_baseline']:.3g}, augmented {held['rmse_augmented']:.3g}",
                   markup=False)
    show.print(f"  information gain (augmented vs baseline): "
               f"{summary['information_gain_total_bits']['augmented_vs_baseline']:.2f} bits in total", markup=False)
    for row in summary["kd"]:
        if "reported_log10_kd" in row:
            show.print(f"  {row['reaction']:<12} log10 Kd: predicted {row['predicted_log10_kd']:.2f}, literature "
                       f"{row['reported_log10_kd']:.2f}, baseline {row['baseline_q50']:.2f}, augmented "
                       f"{row['augmented_q50']:.2f}", markup=False)
    show.print(f"wrote {out / 'report.html'} and {out / 'summary.json'}", markup=False, soft_wrap=True)
    if not all(d["converged"] for d in summary["diagnostics"].values()):
        console.print("warning: not converged (see the report); run longer with --draws/--warmup", markup=False)


demo = guarded(demo)
