"""``celltwin screen fit``: the semi-mechanistic screen model on an AnnData screen, held-out
perturbations scored against the mean, additive and linear baselines."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from ..errors import CelltwinInputError
from ._destinations import writable_folder
from ._errors import guarded
from ._output import err_console, out_console

screen_app = typer.Typer(help="Perturbation screens (Perturb-seq): fit, predict held-out perturbations.",
                         no_args_is_help=True)


def _where(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise CelltwinInputError(f"--where {item!r}: expected KEY=VALUE (an obs column and a value)")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def fit(
    data: Path = typer.Argument(..., metavar="DATA.h5ad", help="AnnData file of the screen."),
    holdout: str = typer.Option("doubles", "--holdout",
                                help="What to hold out, one fold at a time: 'doubles' (each combination whose "
                                     "targets were each also perturbed alone) or 'cell-type' (each cell type's "
                                     "perturbed cells, predicted from the other cell types through the context "
                                     "operator; its controls stay in training)."),
    context_key: str = typer.Option("cell_type", "--context-key",
                                    help="obs column of each cell's cell type (with --holdout cell-type)."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Folder for metrics.json, report.md, heldout.png."),
    perturbation_key: str = typer.Option("perturbation", "--perturbation-key",
                                         help="obs column of condition labels ('A+B' for a combination)."),
    control: str = typer.Option("control", "--control", help="The label of unperturbed cells."),
    batch_key: str | None = typer.Option(None, "--batch-key",
                                         help="obs column of batches; 'barcode' uses the 10x GEM group (barcode "
                                              "suffix); default: one batch."),
    medium_key: str | None = typer.Option(None, "--medium-key",
                                          help="obs column of each cell's medium (the medium operator); "
                                               "default: one medium."),
    time_key: str | None = typer.Option(None, "--time-key",
                                        help="obs column of each cell's time since perturbation (the time "
                                             "operator); default: cells at steady state."),
    where: list[str] = typer.Option([], "--where", metavar="KEY=VALUE",
                                    help="Keep cells with obs[KEY] == VALUE (repeatable). Default: with several "
                                         "cell types, the one with the most combinations."),
    likelihood: str | None = typer.Option(None, "--likelihood",
                                          help="negative_binomial (counts), normal or mse (log-normalised); "
                                               "default follows the data."),
    n_genes: int = typer.Option(100, "--genes", min=2, help="Modelled genes: those whose change varies most "
                                                            "over the training perturbations."),
    top_de: int = typer.Option(20, "--top-de", min=1, help="Metrics use this many top DE genes per perturbation."),
    steps: int = typer.Option(1000, "--steps", min=1, help="Adam steps."),
    steady_state_weight: list[float] = typer.Option([0.0, 1.0, 5.0, 25.0], "--steady-state-weight", min=0.0,
                                                    help="Weight of the control steady-state term (0: off); "
                                                         "repeat to choose among values by nested "
                                                         "cross-validation inside each fold's training data."),
    network_l1: list[float] = typer.Option([], "--network-l1", min=0.0,
                                           help="L1 penalty on the network (default 0.001); repeat to "
                                                "cross-validate it with the steady-state weight."),
    max_folds: int | None = typer.Option(None, "--max-folds", min=1,
                                         help="Hold out only the first N folds (a cheaper run)."),
    replicates: int = typer.Option(1000, "--bootstrap", min=10, help="Bootstrap replicates for the intervals."),
    neural_width: list[int] = typer.Option([0], "--neural-width", min=0,
                                           help="Hidden units of a neural term in the latent dynamics (0: network "
                                                "only); repeat to cross-validate it with the other settings."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial network weights."),
) -> None:
    """Fit the screen model with perturbations held out and score it against baselines.

    Writes DIR/metrics.json (per method and held-out unit: MSE, Pearson and direction accuracy
    over top DE genes chosen from training data, MSE over all modelled genes; paired bootstrap
    intervals of the model against each baseline; split-half noise floors; the cross-validation
    curves), DIR/report.md and DIR/heldout.png.
    """
    from ..inference import progress_bar
    from ..perturb import (
        default_context_of_file,
        default_settings,
        evaluate_holdout,
        heldout_folds,
        planned_fits,
        read_screen,
        settings_grid,
        summary_table,
        write_holdout,
    )

    writable_folder(out, "--out", parents=True)
    selection = _where(where)
    by_context = holdout == "cell-type"
    if by_context and medium_key is not None:
        raise CelltwinInputError("--holdout cell-type reads the cell type as the context (--context-key); "
                                 "drop --medium-key")
    if not selection and not by_context and data.is_file():
        selection = default_context_of_file(data, perturbation_key) or {}
        if selection:
            err_console().print(f"several cell types: using {selection} (choose with --where)", markup=False)
    screen = read_screen(data, perturbation_key=perturbation_key, control=control, batch_key=batch_key,
                         where=selection, medium_key=context_key if by_context else medium_key, time_key=time_key)
    settings = default_settings(screen, likelihood=likelihood, steps=steps, seed=seed,
                                steady_state_weight=steady_state_weight[0], neural_width=neural_width[0],
                                network_l1=network_l1[0] if network_l1 else None)
    grid = settings_grid(settings, steady_state_weight, network_l1, neural_width)
    err_console().print(f"{screen.n_cells} cells ({screen.kind}), {len(screen.batches)} batch(es), "
                        f"{len(screen.targets)} targets; likelihood {settings.likelihood}; "
                        f"{len(grid)} setting(s)", markup=False)
    total = planned_fits(len(heldout_folds(screen, holdout, max_folds)), len(grid))
    with progress_bar("fitting held-out folds", total, unit="fits") as advance:
        def progress(done, total):
            advance()

        result = evaluate_holdout(screen, holdout=holdout, n_genes=n_genes, top_de=top_de, settings=settings,
                                  grid=grid, max_folds=max_folds, replicates=replicates, progress=progress)
    options = ([("--context-key", context_key if by_context else None), ("--batch-key", batch_key),
                ("--medium-key", medium_key), ("--time-key", time_key), ("--likelihood", likelihood),
                ("--max-folds", max_folds)] + [("--where", w) for w in where]
               + [("--steady-state-weight", f"{w:g}") for w in steady_state_weight]
               + [("--network-l1", f"{v:g}") for v in network_l1]
               + [("--neural-width", str(h)) for h in neural_width])
    command = " ".join(["celltwin screen fit", shlex.quote(str(data)), "--holdout", holdout, "--out",
                        shlex.quote(str(out))] + [f"{k} {shlex.quote(str(v))}" for k, v in options if v is not None]
                       + [f"--genes {n_genes} --top-de {top_de} --steps {steps} "
                          f"--seed {seed} --bootstrap {replicates}"])
    paths = write_holdout(result, out, command=command)
    out_console().print(summary_table(result), markup=False, soft_wrap=True)
    for p in paths:
        err_console().print(f"wrote {p}", markup=False, soft_wrap=True)


screen_app.command("fit")(guarded(fit))
