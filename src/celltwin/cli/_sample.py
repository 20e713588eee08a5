"""``celltwin sample``: posterior sampling with checkpoints, written as arviz NetCDF."""

from __future__ import annotations

from pathlib import Path

import typer

from .._atomic import atomic_path
from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._load import load_problem
from ._output import err_console, out_console, warn


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint.npz")


def sample(
    problem_yaml: Path = typer.Argument(..., metavar="PROBLEM.yaml", help="PEtab v1 problem file."),
    method: str = typer.Option("nuts", "--method",
                               help="nuts, ensemble (affine-invariant stretch move) or smc (adaptive tempered SMC)."),
    chains: int = typer.Option(4, "--chains", min=1,
                               help="NUTS chains, ensemble walkers (>= 2 x parameters), or independent SMC runs."),
    draws: int = typer.Option(1000, "--draws", min=1, help="Kept draws per chain (SMC: particles per run)."),
    warmup: int = typer.Option(1000, "--warmup", min=0, help="NUTS adaptation steps, or ensemble burn-in."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed and settings give the same draws."),
    out: Path = typer.Option(..., "--out", "-o", metavar="POSTERIOR.nc", help="Where to write the InferenceData."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its checkpoint."),
    init: Path | None = typer.Option(None, "--init", metavar="FITS.tsv",
                                     help="Start around the best row of a `celltwin fit` table (default: nominal values)."),
    thin: int = typer.Option(1, "--thin", min=1, help="Ensemble: keep every n-th iteration."),
    target_accept: float = typer.Option(0.8, "--target-accept", min=0.5, max=0.999, help="NUTS target acceptance."),
    max_tree_depth: int = typer.Option(10, "--max-tree-depth", min=1, max=15,
                                       help="NUTS: at most 2^depth - 1 leapfrog steps per draw."),
    dense_mass: bool = typer.Option(False, "--dense-mass",
                                    help="NUTS: adapt a dense mass matrix (strongly correlated posteriors)."),
    pooled_mass: bool = typer.Option(False, "--pooled-mass",
                                     help="NUTS: one mass matrix for all chains, adapted from their merged warm-up "
                                          "draws (not with --workers)."),
    stop_rhat: float | None = typer.Option(None, "--stop-rhat", min=1.0, metavar="R",
                                           help="NUTS: stop drawing after the first block where every R-hat <= R "
                                                "(with --stop-ess, both must hold); --draws is then the most."),
    stop_ess: float | None = typer.Option(None, "--stop-ess", min=0.0, metavar="N",
                                          help="NUTS: stop drawing after the first block where every bulk and tail ESS >= N."),
    imh_proposals: int = typer.Option(0, "--imh-proposals", min=0, metavar="M",
                                      help="NUTS: after each draw, M independence Metropolis-Hastings proposals from "
                                           "a heavy-tailed fit to the warm-up (for a posterior with a long, thin "
                                           "extension)."),
    block: int = typer.Option(100, "--block", min=1,
                              help="Draws (and NUTS warm-up steps) between checkpoints (SMC: every stage)."),
    mcmc_steps: int = typer.Option(10, "--mcmc-steps", min=1, help="SMC: Metropolis steps per particle and stage."),
    target_ess: float = typer.Option(0.5, "--target-ess", min=0.05, max=0.95,
                                     help="SMC: effective sample size (fraction) that sets each next temperature."),
    predictive: bool = typer.Option(True, "--predictive/--no-predictive",
                                    help="Add pointwise log-likelihood and posterior predictive (one simulation per draw)."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="NUTS: run the chains in this many groups at once, one process each."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR",
                                         help="NUTS with --workers: run the groups on a Dask cluster (tcp://HOST:PORT)."),
) -> None:
    """Sample the posterior of a PEtab problem and write arviz InferenceData (NetCDF).

    --method smc runs --chains independent adaptive tempered SMC runs of --draws particles
    each, starting from the prior (it needs priors it can draw from; flat priors on the
    bounds are fine) and reports each run's log marginal likelihood.

    The result has the groups posterior (parameters on their PEtab scales), sample_stats,
    log_likelihood (pointwise), posterior_predictive and observed_data. The sampler state
    and the draws so far are checkpointed to POSTERIOR.nc.checkpoint.npz every --block
    warm-up steps and draws; after a kill, the same command with --resume continues and gives
    the same draws as an uninterrupted run.

    --stop-rhat R and/or --stop-ess N (NUTS) end the draws at the first block of --block
    draws after which every parameter's R-hat is at most R and its bulk and tail ESS at least N: run
    until converged, with --draws as the limit.

    --workers N (NUTS) runs the chains in N groups at once, one worker process each (local,
    or on the Dask cluster at --scheduler); each group has its own checkpoint
    (POSTERIOR.nc.checkpoint.chainsA-B.npz) until they are merged. The draws match a
    one-process run up to floating-point rounding. R-hat, bulk/tail ESS, divergences and E-BFMI
    are reported at the end, with a warning when the run has not converged.
    """
    from ..inference import (
        SamplerSettings,
        checkpoint_files,
        describe_checkpoint,
        diagnose,
        progress_interval,
        read_best_fit,
    )
    from ..inference import sample as run_sample

    progress_interval()  # a bad $CELLTWIN_PROGRESS_INTERVAL fails now, not after an ensemble's burn-in
    writable_file(out, "--out")
    ckpt = checkpoint_path(out)
    earlier = checkpoint_files(ckpt)
    if resume and not earlier:
        raise CelltwinInputError(f"--resume: no checkpoint {ckpt} (it is written next to --out while sampling)")
    if not resume and earlier:
        raise CelltwinInputError(f"{earlier[0]} exists from an earlier run: add --resume to continue it, or delete it")
    if workers > 1 and method != "nuts":
        raise CelltwinInputError(f"--workers runs groups of NUTS chains; --method {method} runs in one process")
    if scheduler and workers == 1:
        raise CelltwinInputError("--scheduler runs groups of chains on a Dask cluster: give their number with --workers")
    settings = SamplerSettings(method=method, chains=chains, draws=draws, warmup=warmup, seed=seed, thin=thin,
                               block=block, target_accept=target_accept, mcmc_steps=mcmc_steps, target_ess=target_ess,
                               max_tree_depth=max_tree_depth, dense_mass=dense_mass,
                               pooled_mass=pooled_mass, stop_rhat=stop_rhat, stop_ess=stop_ess,
                               imh_proposals=imh_proposals)
    if method == "smc" and init is not None:
        raise CelltwinInputError("--init: SMC starts from draws of the prior; leave --init out with --method smc")
    problem, _, _ = load_problem(problem_yaml, run_lint=False)
    theta0 = None if init is None else read_best_fit(problem, init)
    err_console().print(f"{problem!r}: {method}, {chains} chains x {draws} draws, seed {seed}", markup=False)
    if resume:
        err_console().print(f"resuming from checkpoint {ckpt}: {describe_checkpoint(ckpt)}", markup=False)
    idata = run_sample(problem, settings, init=theta0, checkpoint=ckpt, resume=resume, predictive=predictive,
                       progress=True, workers=workers, executor=scheduler)
    with atomic_path(out) as tmp:
        idata.to_netcdf(str(tmp))
    ckpt.unlink()
    diag = diagnose(idata)
    console = out_console()
    console.print(diag.table.to_string(float_format=lambda v: f"{v:.3g}"), markup=False)
    if diag.divergences is not None:
        console.print(f"divergent transitions: {diag.divergences}", markup=False)
    if diag.bfmi is not None:
        console.print("E-BFMI per chain: " + ", ".join(f"{v:.2f}" for v in diag.bfmi), markup=False)
    if "log_evidence" in idata.posterior.attrs:
        console.print(f"log marginal likelihood per SMC run: {idata.posterior.attrs['log_evidence']} "
                      f"({idata.posterior.attrs['smc_stages']} stages)", markup=False)
    for message in diag.warnings:
        warn(message)
    if not diag.warnings:
        console.print("converged: R-hat <= 1.01, ESS >= 100 per chain, no divergences", markup=False)
    stopped = idata.posterior.attrs.get("stopped_after_draws")
    if stopped is not None and stopped < draws:
        console.print(f"stopped after {stopped} of {draws} draws per chain: the stopping rule "
                      f"(--stop-rhat {stop_rhat}, --stop-ess {stop_ess}) held", markup=False)
    console.print(f"wrote {out}", markup=False)


sample = guarded(sample)
