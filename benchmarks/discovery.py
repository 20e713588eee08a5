"""Model discovery on synthetic systems with known equations: celltwin vs PySINDy, same data.

    python benchmarks/discovery.py [--seeds 5] [--noise 0.01 0.05 0.10]

For each system (Lotka-Volterra; Sel'kov glycolytic oscillator; three-tier signalling cascade
with feedback), noise level and seed, both tools get exactly the same noisy trajectories
(several initial states, fitted jointly) and the same candidate terms (all monomials up to
degree 2, or 3 for Sel'kov). Scores: term-recovery F1 over (species, term) pairs,
relative coefficient error, and the relative error of the discovered system's trajectory
from a held-out initial state (scipy LSODA for both tools; ``inf`` if it blows up).

celltwin: weak form + STLSQ with a cross-validated threshold (the defaults of ``discover``).
PySINDy (the peer; ``pip install pysindy``): its defaults (STLSQ threshold 0.1, finite
differences) and with smoothed finite differences. Writes ``benchmarks/results/discovery.tsv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def pysindy_equations(variant, data, degree):
    """PySINDy's equations in celltwin's term names, or None when PySINDy is missing."""
    import pysindy as ps

    diff = ps.FiniteDifference() if variant == "fd" else ps.SmoothedFiniteDifference()
    model = ps.SINDy(optimizer=ps.STLSQ(threshold=0.1), feature_library=ps.PolynomialLibrary(degree=degree),
                     differentiation_method=diff)
    model.fit([tr.states for tr in data.trajectories], t=[tr.t for tr in data.trajectories],
              feature_names=list(data.species))
    names = ["*".join(f.split(" ")) for f in model.get_feature_names()]
    return {s: {n: float(c) for n, c in zip(names, row) if c != 0.0}
            for s, row in zip(data.species, model.coefficients())}


def as_discovery(equations, species, degree):
    from celltwin.discover import Discovery
    from celltwin.discover.library import PolynomialLibrary

    terms = PolynomialLibrary(degree).terms(species)
    index = {t.name: j for j, t in enumerate(terms)}
    coef = np.zeros((len(species), len(terms)))
    for i, s in enumerate(species):
        for name, c in equations[s].items():
            coef[i, index[name]] = c
    return Discovery(tuple(species), tuple(terms), coef, (coef != 0).astype(float))


def score(system, equations, degree):
    from celltwin.discover import coefficient_error, term_f1, trajectory_error

    t = system.times()
    truth = system.simulate(system.test_initial, t)
    with np.errstate(all="ignore"):
        try:
            pred = as_discovery(equations, system.species, degree).simulate(system.test_initial, t)
        except Exception:  # noqa: BLE001 - a failed solve of a wrong model is a failed prediction
            pred = np.full_like(truth, np.nan)
    return (term_f1(system.equations, equations), coefficient_error(system.equations, equations),
            trajectory_error(truth, pred))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.01, 0.05, 0.10])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "discovery.tsv"))
    args = parser.parse_args()

    from celltwin.discover import discover
    from celltwin.discover.library import PolynomialLibrary
    from celltwin.discover.systems import SYSTEMS

    try:
        import pysindy  # noqa: F401

        peers = ["fd", "smoothed"]
    except ImportError:
        print("PySINDy is not installed (pip install pysindy): only celltwin is run")
        peers = []
    degrees = {"lotka-volterra": 2, "glycolysis (Sel'kov)": 3, "signalling cascade with feedback": 2}
    rows = []
    for system in SYSTEMS:
        degree = degrees[system.name]
        for noise in args.noise:
            for seed in range(args.seeds):
                data, _ = system.time_courses(noise, seed)
                start = time.perf_counter()
                found = discover(data, library=PolynomialLibrary(degree)).equations()
                took = time.perf_counter() - start
                rows.append((system.name, noise, seed, "celltwin", *score(system, found, degree), took))
                for variant in peers:
                    start = time.perf_counter()
                    eq = pysindy_equations(variant, data, degree)
                    took = time.perf_counter() - start
                    rows.append((system.name, noise, seed, f"pysindy-{variant}", *score(system, eq, degree), took))
    df = pd.DataFrame(rows, columns=["system", "noise", "seed", "method", "f1", "coef_error", "heldout_error", "seconds"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False)
    table = df.groupby(["system", "noise", "method"], sort=False).agg(
        f1=("f1", "mean"), f1_min=("f1", "min"), coef_error=("coef_error", "median"),
        heldout_error=("heldout_error", "median"), seconds=("seconds", "median")).reset_index()
    pd.set_option("display.width", 200)
    print(f"{args.seeds} seeds; f1 = mean (f1_min = worst seed); errors = median over seeds\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if peers:
        print("\ncelltwin F1 vs the better PySINDy variant (mean over seeds):")
        for (name, noise), g in table.groupby(["system", "noise"], sort=False):
            ours = g.loc[g.method == "celltwin", "f1"].item()
            best = g.loc[g.method != "celltwin", "f1"].max()
            verdict = "higher" if ours > best + 1e-9 else ("equal" if abs(ours - best) <= 1e-9 else "LOWER")
            print(f"  {name:34s} noise {noise:4.0%}: celltwin {ours:.3f}  pysindy {best:.3f}  -> {verdict}")


if __name__ == "__main__":
    main()
