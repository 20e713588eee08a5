"""The missing feedback: a neural term trained inside the model learns it, symbolic recovery names it.

    python benchmarks/experiments/discovery_feedback.py [--seeds 3] [--noise 0.01 0.05 0.10] [--epochs 600]

The signalling cascade of ``celltwin.discover.systems.CASCADE`` has the feedback
``dX1/dt = ... - 2*X1*X3``. The skeleton has every other term, with its 8 rate constants
unknown (estimated, started at a random perturbation of up to x/ 1.5), and an equinox MLP
``net(X1, X2, X3)`` (two hidden layers of 16, tanh; last layer starting at 0) as an extra flux
into X1: a ``celltwin.hybrid.HybridProblem``, trained with ``celltwin.hybrid.train`` (optax Adam,
rate constants and weights jointly, 20 % of the measurements held out for early stopping)
on the noisy time courses (6 trajectories, every 4th of the 201 samples, known noise level).
``recover_term`` regresses the trained network (``neural_term_map``) at the hybrid's simulated
states onto the mass-action library (bagged, cross-validated STLSQ) and names the term with
its inclusion probability; the skeleton plus the named terms is refitted (weak form, least
squares on the support, all three equations) and scored: term F1 and coefficient error of the
whole system against the truth, and the held-out relative trajectory error from an unseen
initial state, next to the skeleton with the true constants and no feedback and the trained
hybrid. Prints a table; writes ``benchmarks/results/discovery_feedback.tsv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS  # noqa: E402

# X1: k1 - k2 X1 (+ the unknown feedback); X2: k3 X1 - k4 X1 X2 - k5 X2; X3: k6 X2 - k7 X2 X3 - k8 X3
SKELETON = {"X1": {"1": "k1", "X1": "-k2"}, "X2": {"X1": "k3", "X1*X2": "-k4", "X2": "-k5"},
            "X3": {"X2": "k6", "X2*X3": "-k7", "X3": "-k8"}}


def hybrid_problem(data, noise: float, every: int, start: dict[str, float]):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import sympy as sp

    from celltwin.discover.systems import CASCADE
    from celltwin.hybrid import (Experiment, HybridProblem, NetworkArrays, NeuralTerm, Observable,
                                 ParameterRow)
    from celltwin.model import Model
    from celltwin.model._model import as_expr, symbol

    m = Model("cascade_skeleton")
    m.add_compartment("cell", 1.0)
    for s in CASCADE.species:
        m.add_species(s, 0.0, compartment="cell")
    for k in start:
        m.add_parameter(k, start[k])
    m.add_parameter("nn_rate", 0.0)
    for s, row in SKELETON.items():
        flux = " + ".join(f"({c})*{t}" if t != "1" else f"({c})" for t, c in row.items())
        m.add_reaction(f"flux_{s}", f"-> {s}", rate=flux + (" + nn_rate" if s == "X1" else ""))
    net = eqx.nn.MLP(3, 1, width_size=16, depth=2, activation=jnp.tanh, key=jax.random.PRNGKey(0))
    term = NeuralTerm("net", net, (tuple(symbol(s) for s in CASCADE.species),), {"net_out": (0, 0)}, "dynamic")
    frames, experiments = [], []
    sigma = {}
    for i, s in enumerate(CASCADE.species):
        clean_sd = np.mean([tr.states[:, i].std() for tr in data.trajectories])
        sigma[s] = noise * clean_sd
    for k, tr in enumerate(data.trajectories):
        x0 = CASCADE.train_initial[k]
        experiments.append(Experiment(f"run{k}", None, {s: sp.Float(v) for s, v in zip(CASCADE.species, x0)}))
        keep = np.arange(1, len(tr.t), every)
        for i, s in enumerate(CASCADE.species):
            frames.append(pd.DataFrame({"observableId": f"{s}_obs", "experimentId": f"run{k}", "time": tr.t[keep],
                                        "measurement": tr.states[keep, i]}))
    observables = [Observable(f"{s}_obs", as_expr(s), as_expr(repr(float(sigma[s])))) for s in CASCADE.species]
    rows = [ParameterRow(k, "log10", 1e-2, 1e2, v, True) for k, v in start.items()]
    last = NetworkArrays("net", (("layers.2", None, True, 0.0, None),))  # training starts from the skeleton
    return HybridProblem(m, [term], rows, experiments, observables, pd.concat(frames, ignore_index=True),
                         hybridization={"nn_rate": as_expr("net_out")}, network_arrays=[last])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.01, 0.05, 0.10])
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--every", type=int, default=4, help="keep every n-th sample of the 201")
    parser.add_argument("--out", default=str(RESULTS / "discovery_feedback.tsv"))
    args = parser.parse_args()

    from scipy.integrate import solve_ivp

    from celltwin.discover import Discovery, coefficient_error, recover_term, term_f1, trajectory_error
    from celltwin.discover.differentiation import WeakForm
    from celltwin.discover.library import MassActionLibrary, term_function
    from celltwin.discover.optimizers import Ensemble, ThresholdPath
    from celltwin.discover.systems import CASCADE
    from celltwin.hybrid import TrainingSettings, mechanistic_table, neural_term_map, train

    species = CASCADE.species
    terms = MassActionLibrary().terms(species)
    index = {t.name: j for j, t in enumerate(terms)}
    features = term_function(terms, species)
    truth = np.zeros((3, len(terms)))
    for i, s in enumerate(species):
        for name, c in CASCADE.equations[s].items():
            truth[i, index[name]] = c
    known = truth.copy()
    known[0, index["X1*X3"]] = 0.0  # the skeleton with the true constants and no feedback
    t = CASCADE.times()
    held_out = CASCADE.simulate(CASCADE.test_initial, t)
    true_k = {"k1": 1.0, "k2": 1.0, "k3": 2.0, "k4": 2.0, "k5": 0.5, "k6": 1.5, "k7": 1.5, "k8": 0.5}

    def simulate(rhs):
        sol = solve_ivp(lambda _, x: rhs(x), (t[0], t[-1]), CASCADE.test_initial, t_eval=t, method="LSODA", rtol=1e-8)
        return sol.y.T if sol.success else np.full_like(held_out, np.nan)

    def skeleton_matrix(k):
        coef = np.zeros_like(truth)
        for i, s in enumerate(species):
            for name, c in SKELETON[s].items():
                coef[i, index[name]] = -k[c[1:]] if c.startswith("-") else k[c]
        return coef

    rows = []
    for noise in args.noise:
        for seed in range(args.seeds):
            started = time.perf_counter()
            data, _ = CASCADE.time_courses(noise, seed)
            rng = np.random.default_rng(100 + seed)
            start = {k: v * float(np.exp(rng.uniform(-np.log(1.5), np.log(1.5)))) for k, v in true_k.items()}
            problem = hybrid_problem(data, noise, args.every, start)
            result = train(problem, TrainingSettings(epochs=args.epochs, learning_rate=0.02, validation_fraction=0.2,
                                                     patience=150, seed=seed))
            fitted = dict(zip(*mechanistic_table(problem, result.theta).to_numpy().T))
            net = neural_term_map(problem, result.theta, "net")
            states = np.concatenate([xs for _, xs in problem.states(result.theta)])
            recovered = recover_term(lambda x: net(x)[:, 0], states, species, library=MassActionLibrary(), batched=True,
                                     optimizer=Ensemble(ThresholdPath(), n_models=20, min_probability=None), seed=seed)
            named = recovered.selected()
            # refit skeleton + named terms on the weak form of the data, every equation
            support = skeleton_matrix(true_k) != 0
            support[0, [index[n] for n in named]] = True
            weak = [WeakForm().rows(tr.t, tr.states, features) for tr in data.trajectories]
            a = np.concatenate([w[0] for w in weak])
            refit = np.zeros_like(truth)
            for i in range(3):
                b = np.concatenate([w[1][:, i] for w in weak])
                refit[i, support[i]] = np.linalg.lstsq(a[:, support[i]], b, rcond=None)[0]
            model = Discovery(species, tuple(terms), refit, (refit != 0).astype(float))
            skeleton_fit = skeleton_matrix(fitted)
            errors = {
                "skeleton": trajectory_error(held_out, simulate(lambda x: known @ features(x)[0])),
                "hybrid": trajectory_error(held_out, simulate(
                    lambda x: skeleton_fit @ features(x)[0] + np.array([net(x[None])[0, 0], 0.0, 0.0]))),
                "skeleton+named": trajectory_error(held_out, model.simulate(CASCADE.test_initial, t)),
            }
            found = model.equations()
            rows.append((noise, seed, " + ".join(f"{c:.3g}*{n}" for n, c in named.items()),
                         recovered.probabilities().get("X1*X3", 0.0), refit[0, index["X1*X3"]],
                         term_f1(CASCADE.equations, found), coefficient_error(CASCADE.equations, found),
                         *errors.values(), result.best_epoch, time.perf_counter() - started))
            print(*(f"{v:.4g}" if isinstance(v, float) else v for v in rows[-1]), flush=True)
    df = pd.DataFrame(rows, columns=["noise", "seed", "named_term", "p(X1*X3)", "refit_coef(X1*X3)", "F1",
                                     "coef_error", "heldout_skeleton", "heldout_hybrid", "heldout_skeleton+named",
                                     "best_epoch", "seconds"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False)
    pd.set_option("display.width", 250)
    print("true missing term: -2*X1*X3; held-out errors are relative trajectory errors\n")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    summary = df.groupby("noise")[["F1", "coef_error", "heldout_hybrid", "heldout_skeleton+named"]]
    print("\nper noise level: mean F1 (min), median coefficient error, median held-out errors")
    print(pd.concat([summary.mean()["F1"].rename("F1_mean"), df.groupby("noise")["F1"].min().rename("F1_min"),
                     summary.median().drop(columns="F1")], axis=1).to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
