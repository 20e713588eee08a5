"""``celltwin hybrid``: train a hybrid (mechanistic + neural) PEtab SciML problem."""

from __future__ import annotations

from pathlib import Path

import typer

from .._atomic import atomic_path
from ..errors import CelltwinInputError
from ._destinations import writable_folder
from ._errors import guarded
from ._output import err_console, out_console


def hybrid(
    problem_yaml: Path = typer.Argument(..., metavar="PROBLEM.yaml", help="PEtab SciML problem file (PEtab v2 + sciml)."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Folder for the results (created)."),
    epochs: int = typer.Option(300, "--epochs", min=1, help="Training epochs (full-batch Adam steps)."),
    learning_rate: float = typer.Option(1e-2, "--learning-rate", "--lr", min=0.0, help="Adam learning rate."),
    penalty: float = typer.Option(0.0, "--penalty", min=0.0,
                                  help="Weight of the mean squared network output (keeps the networks' contribution small)."),
    validation: float = typer.Option(0.2, "--validation", min=0.0, max=0.95,
                                     help="Fraction of measurements held out for early stopping and metrics."),
    test: float = typer.Option(0.0, "--test", min=0.0, max=0.95,
                               help="Fraction of measurements kept out of training and early stopping (test metrics)."),
    split: str = typer.Option("random", "--split", help="Held-out rows: 'random' or the latest 'time' points."),
    patience: int = typer.Option(50, "--patience", min=1, help="Stop after this many epochs without validation gain."),
    curriculum: int = typer.Option(1, "--curriculum", min=1,
                                   help="Time-curriculum stages (stage k fits times up to k/K of the last)."),
    shooting: int = typer.Option(1, "--shooting-segments", min=1,
                                 help="Multiple shooting: segments per experiment, with trained start states (1: single shooting)."),
    continuity: tuple[float, float] = typer.Option((1.0, 1000.0), "--continuity", metavar="START END",
                                                   help="Continuity-penalty weight, growing geometrically from START to END."),
    ensemble: int = typer.Option(1, "--ensemble", min=1, help="Deep-ensemble members (independent initialisations)."),
    baseline: bool = typer.Option(True, "--baseline/--no-baseline",
                                  help="Also train the mechanistic-only model (networks zeroed and frozen) and compare."),
    prior: bool = typer.Option(False, "--prior/--no-prior", help="Add the parameter table's priors to the loss."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR",
                                         help="Dask scheduler (tcp://HOST:PORT) for ensemble members; default local processes."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Local worker processes for the ensemble."),
    seed: int = typer.Option(0, "--seed", help="Seed of the validation split and of the ensemble initialisations."),
) -> None:
    """Train a hybrid problem: mechanistic parameters and network weights jointly (optax Adam).

    Writes to DIR: parameters.tsv (fitted mechanistic parameters, linear scale),
    networks.hdf5 (network weights in the PEtab SciML array-file layout), metrics.tsv (train
    validation and test RMSE / MAE / mean negative log-likelihood per model and member; test
    rows (--test) are used neither for training nor for early stopping),
    history.tsv (loss per epoch), simulations.tsv (each measurement with the ensemble mean and
    standard deviation, the baseline's simulation and its set: train, validation or test).
    """
    import numpy as np
    import pandas as pd

    from ..hybrid import (
        TrainingSettings,
        error_metrics,
        mechanistic_table,
        train,
        train_ensemble,
        write_network_weights,
    )
    from ..hybrid.sciml import from_petab_sciml
    from ..inference import progress_bar

    if split not in ("random", "time"):
        raise CelltwinInputError(f"--split {split!r}: choose 'random' or 'time'")
    if min(continuity) <= 0:
        raise CelltwinInputError(f"--continuity {continuity[0]:g} {continuity[1]:g}: both weights must be > 0")
    writable_folder(out, "--out", parents=True)
    problem = from_petab_sciml(problem_yaml)
    out.mkdir(parents=True, exist_ok=True)
    settings = TrainingSettings(epochs=epochs, learning_rate=learning_rate, penalty=penalty,
                                validation_fraction=validation, test_fraction=test, split=split, patience=patience,
                                curriculum=curriculum, use_prior=prior, seed=seed, shooting_segments=shooting,
                                continuity_weight=continuity[0], continuity_weight_final=continuity[1])
    console = err_console()
    console.print(f"{problem_yaml}: {problem.n_mechanistic} mechanistic parameter(s), "
                  f"{problem.weights.n_estimated} network weight(s), {len(problem.measurement_df)} measurements",
                  markup=False)
    rows, histories = [], []

    def record(model, k, result, prob):
        for part, mask in (("train", result.train_mask), ("validation", result.validation_mask),
                           ("test", result.test_mask)):
            if not mask.any():
                continue
            rows.append({"model": model, "member": k, "set": part, **error_metrics(prob, result.theta, mask),
                         "best_epoch": result.best_epoch, "seconds": round(result.seconds, 2)})
        histories.extend({"model": model, "member": k, **h} for h in result.history)

    if ensemble == 1:
        with progress_bar("hybrid training", epochs, enabled=True) as advance:
            members = [train(problem, settings, progress=lambda e, r: advance())]
    else:
        with progress_bar(f"ensemble of {ensemble}", ensemble, enabled=True) as advance:
            members = train_ensemble(problem, ensemble, settings, executor=scheduler, workers=workers,
                                     on_member=lambda k, r: advance()).members
    for k, result in enumerate(members):
        record("hybrid", k, result, problem)
    best = min(range(len(members)), key=lambda k: np.nan_to_num(
        min((h["validation_nll"] for h in members[k].history), default=np.inf), nan=np.inf))
    theta = members[best].theta
    sims = problem.measurement_df.copy()
    stack = np.stack([np.asarray(problem.simulation_table(m.theta)["simulation"]) for m in members])
    sims["simulation"] = stack.mean(axis=0)
    sims["simulation_sd"] = stack.std(axis=0)
    validation_mask = members[0].validation_mask
    test_mask = members[0].test_mask if members[0].test_mask is not None else np.zeros_like(validation_mask)
    sims["set"] = np.where(test_mask, "test", np.where(validation_mask, "validation", "train"))
    if baseline and problem.weights.n_estimated:
        mech = problem.mechanistic_only()
        with progress_bar("mechanistic-only baseline", epochs, enabled=True) as advance:
            base = train(mech, settings, progress=lambda e, r: advance())
        record("mechanistic", 0, base, mech)
        sims["simulation_mechanistic"] = np.asarray(mech.simulation_table(base.theta)["simulation"])
    write_network_weights(problem, theta, out / "networks.hdf5")
    metrics = pd.DataFrame(rows)
    for name, table, digits in (("parameters.tsv", mechanistic_table(problem, theta), "%.12g"),
                                ("metrics.tsv", metrics, "%.6g"), ("history.tsv", pd.DataFrame(histories), "%.6g"),
                                ("simulations.tsv", sims, "%.9g")):
        with atomic_path(out / name) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format=digits)
    console_out = out_console()
    for part in ("validation", "test"):
        held = metrics[metrics["set"] == part].groupby("model")[["rmse", "nll"]].mean()
        for model, r in held.iterrows():
            console_out.print(f"{model}: {part} RMSE {r['rmse']:.4g}, mean NLL {r['nll']:.4g}", markup=False)
    console_out.print(f"wrote {out}/parameters.tsv, networks.hdf5, metrics.tsv, history.tsv, simulations.tsv",
                      markup=False, soft_wrap=True)


hybrid = guarded(hybrid)
