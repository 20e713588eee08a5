"""``celltwin discover``: sparse regression of time courses onto candidate terms -> model.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer

from .._atomic import atomic_write_text
from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._output import err_console, status

LIBRARIES = ("mass-action", "polynomial", "michaelis-menten", "hill")
DERIVATIVES = ("weak", "smoothed", "finite-difference")
OPTIMIZERS = ("auto", "reactions", "best-subset", "bagging", "stlsq", "lasso", "horseshoe")


def build_library(spec: str, degree: int):
    """The library named by a comma-separated list such as ``mass-action,hill``."""
    from ..discover import library as lib

    makers: dict[str, Callable[[], lib.AbstractLibrary]] = {"mass-action": lib.MassActionLibrary, "polynomial": lambda: lib.PolynomialLibrary(degree),
              "michaelis-menten": lib.MichaelisMentenLibrary, "hill": lib.HillLibrary}
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in makers]
    if unknown or not names:
        raise CelltwinInputError(f"--library: unknown candidate library {', '.join(unknown) or spec!r}; "
                                 f"choose from {', '.join(LIBRARIES)} (comma-separated)")
    out = makers[names[0]]()
    for n in names[1:]:
        out = out + makers[n]()
    return out


def build_optimizer(name: str, threshold: float | None, n_models: int):
    """The optimizer named on the command line (threshold: fixed STLSQ threshold, or None)."""
    from ..discover import optimizers as opt

    path = opt.ThresholdPath() if threshold is None else opt.STLSQ(threshold)
    table = {"best-subset": lambda: opt.BestSubset(),
             "bagging": lambda: opt.Ensemble(path, n_models=n_models, min_probability=None),
             "stlsq": lambda: path, "lasso": lambda: opt.Lasso(), "horseshoe": lambda: opt.Horseshoe()}
    if name not in table:
        raise CelltwinInputError(f"--optimizer: unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    return table[name]()


def discover(
    data_csv: Path = typer.Argument(..., metavar="DATA.csv",
                                    help="Time courses: a time column, one column per observed species, "
                                         "optional `condition` column (one trajectory per condition)."),
    time_col: str = typer.Option("t", "--time-col", help="Name of the time column."),
    library: str = typer.Option("mass-action", "--library",
                                help=f"Candidate terms, comma-separated: {', '.join(LIBRARIES)}."),
    degree: int = typer.Option(2, "--degree", min=1, help="Degree of the polynomial library."),
    knowledge: Path | None = typer.Option(None, "--knowledge", metavar="edges.tsv",
                                          help="Interaction list (.sif, or TSV with source, target, "
                                               "optional confidence) giving per-term prior weights."),
    derivative: str | None = typer.Option(None, "--derivative",
                                          help=f"One of {', '.join(DERIVATIVES)} (default: weak form; narrow "
                                               "windows for the reaction search)."),
    optimizer: str = typer.Option("auto", "--optimizer",
                                  help=f"One of {', '.join(OPTIMIZERS)}. auto: the reaction search for the "
                                       "mass-action library without --knowledge, else bagging."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0,
                                           help="Fixed STLSQ threshold (normalised); default: cross-validated."),
    n_models: int = typer.Option(20, "--n-models", min=1, help="Bootstrap resamples for inclusion probabilities."),
    seed: int = typer.Option(0, "--seed", help="Random seed (bootstrap, sampler)."),
    out: Path = typer.Option(..., "--out", "-o", metavar="model.json", help="Where to write the equations."),
) -> None:
    """Discover equations d(species)/dt = sum of candidate terms from time courses.

    Writes model.json: {species: {term: coefficient}} for the selected terms, plus
    "#inclusion_probability" ({species: {term: probability}}), "#reactions" (the network with
    rate constants, from the reaction search) and "#about" (settings).
    """
    from ..discover import differentiation as dif
    from ..discover import discover as run_discovery
    from ..discover import discover_network, read_knowledge, read_time_courses

    writable_file(out, "--out")
    derivatives = {"weak": dif.WeakForm, "smoothed": dif.SmoothedDerivative, "finite-difference": dif.FiniteDifference}
    if derivative is not None and derivative not in derivatives:
        raise CelltwinInputError(f"--derivative: unknown {derivative!r}; choose from {', '.join(DERIVATIVES)}")
    if optimizer == "auto":
        optimizer = "reactions" if library.strip() == "mass-action" and knowledge is None else "bagging"
    if optimizer == "reactions" and (library.strip() != "mass-action" or knowledge is not None):
        raise CelltwinInputError("--optimizer reactions searches mass-action reactions: use it with "
                                 "--library mass-action and without --knowledge")
    lib = build_library(library, degree)
    data = read_time_courses(data_csv, time_col=time_col)
    if optimizer == "reactions":
        with status(f"Searching reactions among {len(data.species)} species in {len(data.trajectories)} trajectories"):
            result = (discover_network(data) if derivative is None
                      else discover_network(data, derivative=derivatives[derivative]()))
        _write_and_print(result, out)
        return
    opt = build_optimizer(optimizer, threshold, n_models)
    prior = read_knowledge(knowledge) if knowledge is not None else None
    if prior is not None and not any(s in data.species or t in data.species for s, t in prior.edges):
        raise CelltwinInputError(f"{knowledge}: no edge names an observed species ({', '.join(data.species)})")
    with status(f"Discovering equations for {len(data.species)} species from {len(data.trajectories)} trajectories"):
        result = run_discovery(data, library=lib, derivative=derivatives[derivative or "weak"](), optimizer=opt,
                               knowledge=prior, seed=seed)
    _write_and_print(result, out)


def _write_and_print(result, out: Path) -> None:
    try:
        atomic_write_text(out, json.dumps(result.to_json(), indent=2) + "\n")
    except OSError as exc:
        raise CelltwinInputError(f"{out}: --out: cannot write the file: {exc.strerror or exc}") from None
    console = err_console()
    for s, eq in result.equations().items():
        rhs = " ".join(f"{c:+.4g}*{t}" for t, c in eq.items()) or "0"
        console.print(f"d{s}/dt = {rhs}", markup=False)
    if result.reactions is not None:
        console.print(f"as {len(result.reactions)} mass-action reactions (rate constants):", markup=False)
        for r in result.reactions:
            console.print(f"  {r.text(result.species)}   k = {r.rate_constant:.4g}", markup=False)
    console.print(f"wrote {out}", markup=False)


discover = guarded(discover)
