"""Many-chain ChEES-HMC on the augmented EGFR posterior (an experiment for issue 3's speed goal).

    python benchmarks/egfr_chees.py [--chains 16] [--warmup 100] [--draws 50] [--max-leapfrog 32]

The question: does a sampler built for many chains in one vectorised batch reach the
converged EGFR posterior faster than NUTS? NUTS's trees differ in length between chains,
and a vmapped batch waits for the longest; ChEES-HMC (blackjax's ``chees_adaptation`` and
``dynamic_hmc``: jittered HMC whose trajectory length is tuned across chains, with a
diagonal mass matrix from the chains' pooled draws) gives every chain the same number of
leapfrog steps per iteration, and measured on this machine a batch of chains costs far
less than that many single chains (docs/inference.md, "Chains on several cores").

Target: ``_problems.augmented_problem`` (50 parameters: the EGFR example's
log-posterior plus its nine Kd evidence terms), in the unconstrained space ``z`` that
``celltwin.inference.sample`` uses (bounds by a logistic transform, log-Jacobian added).
Chains start at the nominal parameters plus ``--init-scale`` noise in ``z``. The warm-up
is one compiled call (blackjax runs it as a scan), the draws are taken in blocks of
``--block`` iterations with a printed time each. Printed and written as one row: wall
time (compilation included), warm-up time, adapted step size, mean leapfrog steps per
draw, max R-hat, min / median bulk ESS (arviz, on the parameter scale) and min-ESS per
second, for comparison with ``benchmarks/egfr_posterior.py``'s NUTS and ensemble rows.
Results: ``benchmarks/results/egfr_chees.tsv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _problems import augmented_problem

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--max-leapfrog", type=int, default=32, help="cap on leapfrog steps per iteration")
    parser.add_argument("--init-scale", type=float, default=0.1, help="spread of the starting points in z")
    parser.add_argument("--learning-rate", type=float, default=0.025, help="Adam's rate for the trajectory length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "egfr_chees.tsv"))
    args = parser.parse_args()
    if args.draws % args.block:
        parser.error("--draws must be a multiple of --block")

    import arviz as az
    import blackjax
    import jax
    import jax.numpy as jnp
    import optax

    from celltwin.inference._space import BoundedSpace, finite_or_minus_inf, z_target

    start = time.perf_counter()
    problem, evidence = augmented_problem()
    space = BoundedSpace(problem.lower, problem.upper)
    logdensity_z = z_target(space, finite_or_minus_inf(evidence.log_density))
    key_init, key_warm, key_draw = jax.random.split(jax.random.PRNGKey(args.seed), 3)
    z_nominal = space.z(jnp.asarray(problem.x_nominal))
    z0 = z_nominal + args.init_scale * jax.random.normal(key_init, (args.chains, problem.n_parameters))

    warmup = blackjax.chees_adaptation(logdensity_z, args.chains, mass_matrix_estimation="diagonal",
                                       max_leapfrog_steps=args.max_leapfrog)
    (states, parameters), info = warmup.run(key_warm, z0, 0.05, optax.adam(args.learning_rate), args.warmup)
    jax.block_until_ready(states)
    warmup_s = time.perf_counter() - start
    step_size = float(parameters["step_size"])
    print(f"warm-up: {warmup_s:.0f} s, step size {step_size:.3g}, "
          f"{float(np.mean(info.info.num_integration_steps)):.1f} leapfrog steps per iteration", flush=True)

    kernel = blackjax.dynamic_hmc(logdensity_z, **parameters)

    @jax.jit
    def block(states, key):
        def iteration(st, k):
            st, inf = jax.vmap(kernel.step)(jax.random.split(k, args.chains), st)
            return st, (st.position, inf.num_integration_steps, inf.is_divergent)

        return jax.lax.scan(iteration, states, jax.random.split(key, args.block))

    draws, leapfrogs, divergent = [], [], []
    for b in range(args.draws // args.block):
        states, (z, n, d) = block(states, jax.random.fold_in(key_draw, b))
        draws.append(np.asarray(z))
        leapfrogs.append(np.asarray(n))
        divergent.append(np.asarray(d))
        print(f"draws {(b + 1) * args.block}/{args.draws}: {time.perf_counter() - start:.0f} s", flush=True)
    z = jnp.asarray(np.concatenate(draws).swapaxes(0, 1))  # (chains, draws, parameters)
    theta = np.asarray(jax.vmap(jax.vmap(space.theta))(z))
    wall = time.perf_counter() - start

    posterior = az.from_dict(posterior={"theta": theta}).posterior
    ess = np.asarray(az.ess(posterior, method="bulk")["theta"])
    rhat = np.asarray(az.rhat(posterior)["theta"])
    row = {"method": "chees", "seed": args.seed, "chains": args.chains, "draws": args.draws, "warmup": args.warmup,
           "max_leapfrog": args.max_leapfrog, "wall_s": wall, "warmup_s": warmup_s, "step_size": step_size,
           "mean_leapfrogs": float(np.concatenate(leapfrogs).mean()),
           "divergences": int(np.concatenate(divergent).sum()), "rhat_max": float(rhat.max()),
           "ess_min": float(ess.min()), "ess_median": float(np.median(ess)), "ess_min_per_s": float(ess.min()) / wall}
    print(pd.DataFrame([row]).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([row]).to_csv(args.out, sep="\t", index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
