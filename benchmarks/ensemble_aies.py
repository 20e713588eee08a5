"""The ensemble sampler's stretch move: celltwin's own kernel vs numpyro's ``AIES`` (same move).

    python benchmarks/ensemble_aies.py [--problem linear|mapk] [--seeds 0 1 2] [--walkers 16] [--draws 1000]
                                       [--burn-in 300]

Both run the Goodman-Weare stretch move (a = 2) on the same target: the linear-Gaussian
production model of the tests (A(t) = a0 + r t observed with sd 0.5; its posterior is the
closed form N(beta, cov)), in celltwin's unconstrained space, same walkers, burn-in and
kept iterations, started around beta (``--problem mapk``: the MAPK cascade example, a
costlier solve, started around its nominal parameters; no closed form). Per seed and sampler: the wall time of a second run
(compiled; the first run's time, with compilation, separately), the smallest bulk ESS over
parameters, min-ESS per second, the largest error of the posterior mean in Monte Carlo
standard errors (from the bulk ESS) and the number of log-density evaluations per iteration
(counted by a host callback in a third, short run, its start included). The table gives the medians over seeds.
This backs the choice of celltwin's own kernel for ``--method ensemble`` (docs/inference.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

TIMES = np.array([0.0, 1.0, 2.0, 3.0, 5.0, 8.0])
SIGMA = 0.5


def linear_gaussian(seed: int):
    """The problem and its exact posterior N(beta, cov) (flat prior, bounds far away)."""
    from celltwin.model import Model
    from celltwin.problem import Problem

    rng = np.random.default_rng(100 + seed)
    measured = 1.3 + 0.7 * TIMES + SIGMA * rng.normal(size=TIMES.size)
    m = Model("production")
    m.add_species("A", "a0")
    m.add_parameter("a0", 1.0)
    m.add_parameter("r", 0.5)
    m.add_reaction("make", "-> A", rate="r")
    obs = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": [str(SIGMA)]},
                       index=pd.Index(["obs"], name="observableId"))
    meas = pd.DataFrame({"observableId": "obs", "simulationConditionId": "c", "time": TIMES, "measurement": measured})
    par = pd.DataFrame([["a0", "lin", -10, 10, 1.0, 1], ["r", "lin", -10, 10, 0.5, 1]],
                       columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                "estimate"]).set_index("parameterId")
    X = np.column_stack([np.ones_like(TIMES), TIMES])
    beta = np.linalg.lstsq(X, measured, rcond=None)[0]
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par), beta, \
        SIGMA**2 * np.linalg.inv(X.T @ X)


def celltwin_sampler(logdensity_z, z0, burn_in: int, draws: int):
    """``run(key) -> draws (walkers, draws, d)``, compiled on its first call."""
    import jax

    from celltwin.inference._ensemble import build_iterations, init

    iterations = build_iterations(logdensity_z, 1, 2.0)

    def run(key):
        warm_key, draw_key = jax.random.split(key)
        state = init(logdensity_z, z0)
        if burn_in:
            state, _, _ = iterations(state, jax.random.split(warm_key, burn_in))
        _, positions, _ = iterations(state, jax.random.split(draw_key, draws))
        return np.asarray(positions)

    return run


def numpyro_sampler(logdensity_z, z0, burn_in: int, draws: int):
    from numpyro.infer import AIES, MCMC

    kernel = AIES(potential_fn=lambda z: -logdensity_z(z), moves={AIES.StretchMove(2.0): 1.0})
    mcmc = MCMC(kernel, num_warmup=burn_in, num_samples=draws, num_chains=z0.shape[0], chain_method="vectorized",
                progress_bar=False)

    def run(key):
        mcmc.run(key, init_params=z0)
        return np.asarray(mcmc.get_samples(group_by_chain=True))

    return run


def mapk_problem():
    """The 3-tier MAPK cascade example (no closed form: the mean error is not computed)."""
    from pathlib import Path

    from celltwin.problem import from_petab

    problem = from_petab(Path(__file__).resolve().parents[1] / "examples" / "mapk_cascade" / "mapk_cascade.yaml")
    return problem, np.asarray(problem.x_nominal), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--walkers", type=int, default=16)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--burn-in", type=int, default=300)
    parser.add_argument("--problem", choices=["linear", "mapk"], default="linear")
    args = parser.parse_args()

    import arviz as az
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from celltwin.inference._space import BoundedSpace, finite_or_minus_inf, z_target

    rows = []
    for seed in args.seeds:
        problem, beta, cov = linear_gaussian(seed) if args.problem == "linear" else mapk_problem()
        n = problem.n_parameters
        walkers = max(args.walkers, 2 * n + 2)
        space = BoundedSpace(problem.lower, problem.upper)
        logdensity_z = z_target(space, finite_or_minus_inf(problem.differentiable_log_posterior()))
        key = jax.random.PRNGKey(seed)
        z0 = space.z(jnp.asarray(beta)) + 0.1 * jax.random.normal(jax.random.fold_in(key, 1), (walkers, n))
        for name, sampler in (("celltwin", celltwin_sampler), ("numpyro AIES", numpyro_sampler)):
            run = sampler(logdensity_z, z0, args.burn_in, args.draws)
            t0 = time.perf_counter()
            run(key)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            z = run(jax.random.fold_in(key, 2))
            wall = time.perf_counter() - t0
            theta = np.asarray(space.theta(jnp.asarray(z)))
            ess = np.array([float(az.ess(theta[..., k], method="bulk")) for k in range(n)])
            error = np.nan if cov is None else \
                float(np.max(np.abs(theta.reshape(-1, n).mean(0) - beta) / (np.sqrt(np.diag(cov)) / np.sqrt(ess))))
            calls = []

            def counted(zz, calls=calls, logdensity_z=logdensity_z):
                jax.debug.callback(lambda x: calls.append(1), zz)
                return logdensity_z(zz)

            sampler(counted, z0, 0, 10)(key)
            jax.effects_barrier()
            rows.append({"seed": seed, "sampler": name, "first_run_s": first, "wall_s": wall, "min_ess": ess.min(),
                         "min_ess_per_s": ess.min() / wall,
                         "mean_error_mcse": error,
                         "logdensity_calls_per_iteration": len(calls) / 10})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).groupby("sampler").median(numeric_only=True).drop(columns="seed")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
