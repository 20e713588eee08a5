"""Discovery of random mass-action networks: celltwin vs PySINDy on the same noisy data.

    python benchmarks/discovery_networks.py [--networks 20] [--seeds 5] [--quick] [--jobs 2]
        [--methods NAME ...] [--out PART.tsv]
    python benchmarks/discovery_networks.py --summarise PART.tsv ... [--out ALL.tsv]

(``--methods`` runs only the named methods, so a long run can be split into parts; ``--summarise``
joins parts, writes them as one table and prints the summary without running anything.)

Networks: the enzyme E + S <-> C -> E + P, receptor-ligand binding with turnover, and
``--networks`` random networks of 2-6 species (``celltwin.discover.systems.
random_mass_action_network``: binding/unbinding, enzyme catalysis, conversion, synthesis and
degradation; rate constants 0.3-3; conserved moieties wherever the motifs make them), each
with 3 trajectories from random initial amounts, 15-60 samples front-loaded in time, and
relative noise (standard deviation = level x each sample's value). Scores: term F1 over the
(species, term) pairs, relative coefficient error, and the relative error of the discovered
system's trajectory from a held-out initial state (scipy LSODA; ``inf`` if it blows up).

Methods: celltwin's reaction search (the CLI default: weak-form proposals refined by
trajectory fits), the same with the weak form only, celltwin's per-species best subset
with kinetic signs, celltwin's previous default (cross-validated STLSQ, weak form of 41
samples), PySINDy 2 at its defaults (finite differences, STLSQ threshold 0.1) and tuned
(normalised columns; smoothed finite differences or its weak-form library, each with the
threshold chosen by leave-one-trajectory-out cross-validation, sparsest within 10 % of the
best; the better of the two refitted with ensembling: bagging, 20 models; without column
normalisation where a species stays at zero, which breaks PySINDy's normalisation). All get the mass-action
candidates (monomials up to degree 2). Writes ``benchmarks/results/discovery_networks.tsv``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # small problems, and --jobs processes side by side

import numpy as np  # noqa: E402  (the thread limits above must precede numpy)
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = np.geomspace(0.01, 1.0, 13)


def _pysindy_model(threshold, smoothed, normalize):
    import pysindy as ps

    diff = ps.SmoothedFiniteDifference() if smoothed else ps.FiniteDifference()
    return ps.SINDy(optimizer=ps.STLSQ(threshold=threshold, normalize_columns=normalize),
                    feature_library=ps.PolynomialLibrary(degree=2), differentiation_method=diff)


def _as_equations(model, species):
    names = ["*".join(f.split(" ")) for f in model.get_feature_names()]
    return {s: {n: float(c) for n, c in zip(names, row) if c != 0.0} for s, row in zip(species, model.coefficients())}


def _pysindy_rows(x, t, weak):
    """PySINDy's regression rows of one trajectory: its weak-form library (integrals against
    test functions on 100 subdomains) or monomials against smoothed finite differences."""
    import pysindy as ps

    if weak:
        lib = ps.WeakPDELibrary(function_library=ps.PolynomialLibrary(degree=2), spatiotemporal_grid=t, K=100, p=4)
        rows = np.asarray(lib.fit_transform(x)), np.asarray(lib.convert_u_dot_integral(x))
    else:
        rows = (np.asarray(ps.PolynomialLibrary(degree=2).fit_transform(x)),
                np.asarray(ps.SmoothedFiniteDifference()._differentiate(x, t)))
    if not all(np.all(np.isfinite(r)) for r in rows):  # subdomains with too few samples on sparse grids
        raise ValueError("PySINDy's rows are not finite")
    return rows


def pysindy_equations(data, tuned):
    """PySINDy's equations in celltwin's term names.

    Tuned: for each derivative estimate (smoothed finite differences; the weak-form library)
    the STLSQ threshold (normalised columns) is chosen by leave-one-trajectory-out cross-
    validation (the sparsest within 10 % of the best held-out error, the error measured on the
    held-out trajectory's smoothed derivatives for both, so the two are comparable); the better
    estimate is refitted on all trajectories with ensembling (bagging, 20 models, median).
    """
    import pysindy as ps

    xs, ts = [tr.states for tr in data.trajectories], [tr.t for tr in data.trajectories]
    names = list(data.species)
    if not tuned:
        return _as_equations(_pysindy_model(0.1, False, False).fit(xs, t=ts, feature_names=names), names)
    strong = [_pysindy_rows(x, t, False) for x, t in zip(xs, ts)]
    best = None
    for weak in (False, True):
        try:
            rows = [_pysindy_rows(x, t, True) for x, t in zip(xs, ts)] if weak else strong
        except Exception:  # noqa: BLE001 - too few samples for PySINDy's weak form
            continue
        for normalize in (True, False):  # a species that stays at zero breaks PySINDy's column normalisation
            try:
                with np.errstate(all="ignore"):
                    errors, sizes = _threshold_path(rows, strong, normalize)
            except (np.linalg.LinAlgError, ValueError):  # a variant PySINDy cannot fit is not chosen
                continue
            ok = [k for k in range(len(THRESHOLDS)) if errors[k] <= 1.1 * np.min(errors)]
            if ok:
                pick = min(ok, key=lambda k: (sizes[k], errors[k]))
                if best is None or errors[pick] < best[0]:
                    best = (errors[pick], THRESHOLDS[pick], rows, normalize)
                break
    if best is None:
        return {}
    _, thr, rows, normalize = best
    opt = ps.EnsembleOptimizer(ps.STLSQ(threshold=thr, normalize_columns=normalize), bagging=True, n_models=20)
    opt.fit(np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows]))
    features = ["*".join(f.split(" ")) for f in ps.PolynomialLibrary(degree=2).fit(xs[0]).get_feature_names(names)]
    return {s: {n: float(c) for n, c in zip(features, row) if c != 0.0} for s, row in zip(names, opt.coef_)}


def _threshold_path(rows, strong, normalize):
    """Leave-one-trajectory-out error (on the held-out smoothed derivatives) and number of
    terms of STLSQ at each threshold."""
    import pysindy as ps

    n_runs = len(rows)
    errors, sizes = [], []
    for thr in THRESHOLDS:
        err = 0.0
        for k in range(n_runs):  # leave one trajectory out
            keep = [j for j in range(n_runs) if j != k]
            opt = ps.STLSQ(threshold=thr, normalize_columns=normalize).fit(
                np.concatenate([rows[j][0] for j in keep]), np.concatenate([rows[j][1] for j in keep]))
            theta, dx = strong[k]
            err += float(np.sum((theta @ opt.coef_.T - dx) ** 2))
        if not np.isfinite(err):
            raise ValueError("not finite")
        errors.append(err)
        full = ps.STLSQ(threshold=thr, normalize_columns=normalize).fit(np.concatenate([r[0] for r in rows]),
                                                                   np.concatenate([r[1] for r in rows]))
        sizes.append(np.count_nonzero(full.coef_))
    return np.array(errors), sizes


def score(system, equations):
    from celltwin.discover import Discovery, coefficient_error, term_f1, trajectory_error
    from celltwin.discover.library import MassActionLibrary

    terms = MassActionLibrary().terms(system.species)
    index = {t.name: j for j, t in enumerate(terms)}
    coef = np.zeros((len(system.species), len(terms)))
    for i, s in enumerate(system.species):
        for name, c in equations.get(s, {}).items():
            coef[i, index[name]] = c
    from scipy.integrate import solve_ivp

    t = system.times()
    truth = system.simulate(system.test_initial, t)
    found = Discovery(tuple(system.species), tuple(terms), coef, (coef != 0).astype(float))
    calls = [0]

    def rhs(_, x):
        calls[0] += 1
        if calls[0] > 200_000:  # a wrong model can make LSODA crawl for hours
            raise RuntimeError("too many steps")
        return found.rhs(x)[0]

    pred = np.full_like(truth, np.nan)
    with np.errstate(all="ignore"):
        try:
            sol = solve_ivp(rhs, (t[0], t[-1]), np.asarray(system.test_initial, float), method="LSODA", t_eval=t,
                            rtol=1e-8, atol=1e-10)
            pred[: sol.y.shape[1]] = sol.y.T
        except Exception:  # noqa: BLE001 - a failed solve of a wrong model is a failed prediction
            pass
    return (term_f1(system.equations, equations), coefficient_error(system.equations, equations),
            trajectory_error(truth, pred))


def methods(with_peers):
    from celltwin.discover import ReactionSearch, discover, discover_network
    from celltwin.discover.differentiation import WeakForm
    from celltwin.discover.optimizers import BestSubset

    out = {
        "celltwin reactions": lambda d: discover_network(d).equations(),
        "celltwin reactions, weak form only": lambda d: discover_network(
            d, search=ReactionSearch(trajectories=False)).equations(),
        "celltwin best subset": lambda d: discover(d, optimizer=BestSubset(),
                                                   derivative=WeakForm(width=9, refine=8)).equations(),
        "celltwin previous": lambda d: discover(d).equations(),
    }
    if with_peers:
        out["pysindy default"] = lambda d: pysindy_equations(d, tuned=False)
        out["pysindy tuned"] = lambda d: pysindy_equations(d, tuned=True)
    return out


def run_system(i, system, noises, seeds, peers, names=None, first_seed=0):
    """Every method (or those in ``names``) on one system at every noise level and seed: rows of
    the results table."""
    warnings.filterwarnings("ignore")  # PySINDy: "eliminated all coefficients" at large thresholds
    rows = []
    chosen = {k: v for k, v in methods(peers).items() if names is None or k in names}
    for noise in noises:
        for seed in range(first_seed, seeds):
            data, _ = system.time_courses(noise, 1000 * i + seed, relative=True)
            for name, run in chosen.items():
                start, cpu = time.perf_counter(), time.process_time()
                try:
                    found = run(data)
                except Exception as exc:  # noqa: BLE001 - a peer's crash is a failed discovery
                    print(f"  {name} failed on network {i}: {exc}")
                    found = {}
                took, took_cpu = time.perf_counter() - start, time.process_time() - cpu
                rows.append((i, system.name, len(system.species), system.n_samples, noise, seed, name,
                             *score(system, found), took, took_cpu))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", type=int, default=20, help="random networks besides enzyme and receptor")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.01, 0.05, 0.10])
    parser.add_argument("--quick", action="store_true", help="1 seed")
    parser.add_argument("--first-seed", type=int, default=0, help="skip the seeds before this one (a run in parts)")
    parser.add_argument("--jobs", type=int, default=1, help="systems run in parallel processes")
    parser.add_argument("--start", type=int, default=0, help="skip the systems before this one (0 = the enzyme)")
    parser.add_argument("--methods", nargs="*", help="run only these methods (names as in the table)")
    parser.add_argument("--summarise", nargs="*", help="join these result tables and print the summary; run nothing")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "discovery_networks.tsv"))
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds  # seeds first_seed, ..., seeds - 1
    if args.summarise:
        df = pd.concat([pd.read_csv(f, sep="\t") for f in args.summarise]).sort_values(["network", "noise", "seed"])
        df.to_csv(args.out, sep="\t", index=False)
        summarise(df)
        return

    from celltwin.discover.systems import ENZYME, RECEPTOR_LIGAND, random_mass_action_network

    try:
        import pysindy  # noqa: F401

        peers = True
    except ImportError:
        print("PySINDy is not installed (pip install -e '.[peers]'): only celltwin is run")
        peers = False
    systems = [ENZYME, RECEPTOR_LIGAND] + [random_mass_action_network(k)[0] for k in range(args.networks)]
    rows = []
    columns = ["network", "reactions", "species", "samples", "noise", "seed", "method", "f1", "coef_error",
               "heldout_error", "seconds", "cpu_seconds"]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_system, i, system, args.noise, seeds, peers, args.methods, args.first_seed): i
                   for i, system in enumerate(systems) if i >= args.start}
        for done in as_completed(futures):
            rows += done.result()
            df = pd.DataFrame(sorted(rows, key=lambda r: (r[0], r[4], r[5])), columns=columns)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(args.out, sep="\t", index=False)  # after every network, so a cut-short run keeps its rows
            print(f"network {futures[done]} done", flush=True)
    summarise(df)


def summarise(df) -> None:
    """Per noise level and method: mean F1, its worst network (F1 averaged over seeds), the
    spread of the per-seed means (min-max) and a 95 % interval of the mean F1 (t over the
    per-seed means, which are independent draws of noise), median errors and seconds."""
    from scipy import stats

    seeds = df.seed.nunique()
    per_seed = df.groupby(["noise", "method", "seed"]).f1.mean()
    per_network = df.groupby(["noise", "method", "network"]).f1.mean()
    table = df.groupby(["noise", "method"], sort=False).agg(
        f1=("f1", "mean"), coef_error=("coef_error", "median"),
        heldout_error=("heldout_error", "median"), seconds=("seconds", "median"),
        cpu_seconds=("cpu_seconds", "median")).reset_index()
    worst, lo, hi, ci = [], [], [], []
    for noise, method in zip(table.noise, table.method):
        means = per_seed.loc[(noise, method)].to_numpy()
        worst.append(per_network.loc[(noise, method)].min())
        lo.append(means.min())
        hi.append(means.max())
        half = stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / np.sqrt(len(means)) if len(means) > 1 else np.nan
        ci.append(half)
    table.insert(3, "f1_worst_network", worst)
    table.insert(4, "seed_min", lo)
    table.insert(5, "seed_max", hi)
    table.insert(6, "ci95_half", ci)
    pd.set_option("display.width", 250)
    print(f"{df.network.nunique()} networks x {seeds} seeds; f1 = mean over networks and seeds; worst network "
          f"by its mean over seeds; seed_min/max: range of the per-seed means; errors and seconds = median (seconds: wall clock, cpu_seconds: this process's CPU time, recorded since the 5-seed run)\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
