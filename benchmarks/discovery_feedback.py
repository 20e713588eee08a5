"""The missing feedback: a neural term learns it, symbolic recovery names it.

    python benchmarks/discovery_feedback.py [--seeds 3] [--noise 0.01 0.05 0.10]

The signalling cascade of ``celltwin.discover.systems.CASCADE`` has the feedback
``dX1/dt = ... - 2*X1*X3``. The skeleton knows every other term (with its true rate
constant) but not this one. Per noise level and seed: smoothed derivatives of the noisy
data give the skeleton's residual for X1; a small equinox MLP (inputs X1, X2, X3) is trained
on it (optax Adam); ``recover_term`` regresses the trained network onto the mass-action
library (bagged, cross-validated STLSQ) and names the term with its inclusion probability;
the skeleton plus the named term is refitted (weak form, least squares on the skeleton's and
the named terms) and compared on a held-out initial state with the skeleton alone and with the
skeleton + MLP hybrid. Prints a table; writes ``benchmarks/results/discovery_feedback.tsv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def train_mlp(inputs, target, *, steps=3000, seed=0):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    mlp = eqx.nn.MLP(inputs.shape[1], "scalar", 16, 2, activation=jnp.tanh, key=jax.random.PRNGKey(seed))
    params, static = eqx.partition(mlp, eqx.is_array)
    optimiser = optax.adam(3e-3)
    x, y = jnp.asarray(inputs), jnp.asarray(target)

    def loss(p):
        return jnp.mean((jax.vmap(eqx.combine(p, static))(x) - y) ** 2)

    @jax.jit
    def run(p):
        def step(carry, _):
            p, s = carry
            updates, s = optimiser.update(jax.grad(loss)(p), s, p)
            return (optax.apply_updates(p, updates), s), None

        (p, _), _ = jax.lax.scan(step, (p, optimiser.init(p)), None, length=steps)
        return p

    return eqx.combine(run(params), static)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.01, 0.05, 0.10])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "discovery_feedback.tsv"))
    args = parser.parse_args()

    import jax

    from celltwin.discover import Discovery, recover_term, trajectory_error
    from celltwin.discover.differentiation import SmoothedDerivative, WeakForm
    from celltwin.discover.library import MassActionLibrary, term_function
    from celltwin.discover.optimizers import Ensemble, ThresholdPath
    from celltwin.discover.systems import CASCADE

    species = CASCADE.species
    terms = MassActionLibrary().terms(species)
    index = {t.name: j for j, t in enumerate(terms)}
    features = term_function(terms, species)
    truth_coef = np.zeros((3, len(terms)))
    for i, s in enumerate(species):
        for name, c in CASCADE.equations[s].items():
            truth_coef[i, index[name]] = c
    skeleton = truth_coef.copy()
    skeleton[0, index["X1*X3"]] = 0.0  # the unknown feedback
    t = CASCADE.times()
    held_out = CASCADE.simulate(CASCADE.test_initial, t)

    def simulate(rhs):
        from scipy.integrate import solve_ivp

        sol = solve_ivp(lambda _, x: rhs(x), (t[0], t[-1]), CASCADE.test_initial, t_eval=t, method="LSODA", rtol=1e-8)
        return sol.y.T if sol.success else np.full_like(held_out, np.nan)

    rows = []
    for noise in args.noise:
        for seed in range(args.seeds):
            data, _ = CASCADE.time_courses(noise, seed)
            x_all, r_all = [], []
            for tr in data.trajectories:
                smooth, slope = SmoothedDerivative(window=15, order=3).rows(tr.t, tr.states, lambda s: s)
                x_all.append(smooth)
                r_all.append(slope[:, 0] - features(smooth) @ skeleton[0])
            x_all, r_all = np.concatenate(x_all), np.concatenate(r_all)
            mlp = train_mlp(x_all, r_all, seed=seed)
            net = jax.jit(jax.vmap(mlp))
            recovered = recover_term(mlp, x_all, species, library=MassActionLibrary(),
                                     optimizer=Ensemble(ThresholdPath(), n_models=20, min_probability=None), seed=seed)
            named = recovered.selected()
            # refit X1's skeleton terms together with the named terms on the weak form of the data
            support = (skeleton[0] != 0) | np.isin(np.arange(len(terms)), [index[n] for n in named])
            a = np.concatenate([WeakForm().rows(tr.t, tr.states, features)[0] for tr in data.trajectories])
            b = np.concatenate([WeakForm().rows(tr.t, tr.states, features)[1][:, 0] for tr in data.trajectories])
            refit = skeleton.copy()
            refit[0, support] = np.linalg.lstsq(a[:, support], b, rcond=None)[0]
            model = Discovery(species, tuple(terms), refit, (refit != 0).astype(float))
            errors = {
                "skeleton": trajectory_error(held_out, simulate(lambda x: skeleton @ features(x)[0])),
                "skeleton+mlp": trajectory_error(held_out, simulate(
                    lambda x, net=net: skeleton @ features(x)[0] + np.array([float(net(x[None])[0]), 0.0, 0.0]))),
                "skeleton+named": trajectory_error(held_out, model.simulate(CASCADE.test_initial, t)),
            }
            rows.append((noise, seed, " + ".join(f"{c:.3g}*{n}" for n, c in named.items()),
                         recovered.probabilities().get("X1*X3", 0.0), refit[0, index["X1*X3"]], *errors.values()))
    df = pd.DataFrame(rows, columns=["noise", "seed", "named_term", "p(X1*X3)", "refit_coef(X1*X3)",
                                     "heldout_skeleton", "heldout_skeleton+mlp", "heldout_skeleton+named"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False)
    pd.set_option("display.width", 200)
    print("true missing term: -2*X1*X3; held-out errors are relative trajectory errors\n")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
