"""What holds a NUTS run back, from its checkpoint: the slow parameters, the tree length without
the case's limit, and what independence proposals would be accepted.

    python benchmarks/experiments/checkpoint_moves.py CASE.yaml CHECKPOINT.npz
        [--run baseline|augmented] [--depth 11] [--draws 4] [--proposals 2048] [--seed 1]

CHECKPOINT is a run's checkpoint from its draw phase (``DIR/baseline.checkpoint.npz`` of
``celltwin demo CASE --out DIR``). Printed:

1. **The slowest parameters** (lowest bulk ESS over the draws so far, arviz): R-hat, ESS and
   each chain's means over blocks of 50 draws, in the sampler's unconstrained space: where the
   chains go and how often they move between regions.
2. **NUTS without the case's tree-depth limit**: from the chains' current positions, with the
   adapted step size and mass matrix, ``--draws`` draws with trees of up to ``2**depth - 1``
   leapfrog steps. If the trees stop at the case's limit here too, the U-turn criterion ends
   them there and the limit cuts nothing short. Also the squared jump per draw in the mass
   matrix's whitened coordinates (about twice the dimension for independent draws).
3. **Independence proposals** (the sampler's ``imh_proposals``: a mixture of t distributions
   centred at the draws' mean, scaled by the adapted mass matrix): the log importance weights
   ``log p - log q`` of the draws and of ``--proposals`` proposals, and the mean probability
   that a proposal is accepted from a draw.
4. **The solver's share** (``--tight-draws N``): at N draws picked at random, the log density
   at the case's tolerances minus that at rtol 1e-10, atol 1e-12: whether a region the
   chains visit could be an artefact of the solver's error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("CELLTWIN_ROW_MEMO", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _case_draws import add_checkpoint_arguments, case_log_density_z, read_checkpoint  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_checkpoint_arguments(parser)
    parser.add_argument("--depth", type=int, default=11, help="tree-depth limit of the NUTS draws here")
    parser.add_argument("--draws", type=int, default=4, help="NUTS draws per chain (0: none)")
    parser.add_argument("--proposals", type=int, default=2048, help="independence proposals (0: none)")
    parser.add_argument("--slowest", type=int, default=6, help="parameters shown in part 1")
    parser.add_argument("--tight-draws", type=int, default=24, help="draws of part 4 (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import arviz as az
    import jax
    import jax.numpy as jnp

    from celltwin.inference import NUTSSettings, independence_proposal, nuts_draws

    problem, log_density = case_log_density_z(args.case, args.run)
    batched = jax.jit(jax.vmap(log_density))
    record = read_checkpoint(args.checkpoint)
    draws, lp, position, step = record["draws_z"], record["stat_lp"], record["position"], record["step_size"]
    inverse_mass = record["inverse_mass_matrix"]
    chains, n_draws, dim = draws.shape
    ids = problem.parameter_ids
    print(f"{args.checkpoint}: {chains} chains x {n_draws} draws, {dim} parameters; step size {float(step[0]):.4f}")

    ess = np.array([float(az.ess(draws[:, :, i])) for i in range(dim)])
    rhat = np.array([float(az.rhat(draws[:, :, i])) for i in range(dim)])
    blocks = n_draws // 50
    print(f"\n1. The slowest parameters; each chain's means over {blocks} blocks of 50 draws:")
    for i in np.argsort(ess)[:args.slowest]:
        print(f"{ids[i]}: bulk ESS {ess[i]:.0f}, R-hat {rhat[i]:.3f}, sd {draws[:, :, i].std():.2f}")
        means = draws[:, :blocks * 50, i].reshape(chains, blocks, 50).mean(axis=2)
        for c in range(chains):
            print(f"  chain {c}: " + " ".join(f"{m:5.1f}" for m in means[c]))

    whiten = np.linalg.inv(np.linalg.cholesky(record["inverse_mass"]))
    if args.draws:
        settings = NUTSSettings(chains=chains, draws=args.draws, warmup=0, max_tree_depth=args.depth,
                                dense_mass=inverse_mass.ndim == 3)
        start = time.perf_counter()
        positions, stats = nuts_draws(log_density, jnp.asarray(position), settings, jax.random.PRNGKey(args.seed),
                                      adapted=(step, inverse_mass))
        steps, divergent = stats["n_steps"], stats["diverging"]
        path = np.concatenate([position[:, None], np.asarray(positions)], axis=1) @ whiten.T
        jumps = (np.diff(path, axis=1) ** 2).sum(axis=-1)
        steps = np.asarray(steps)
        print(f"\n2. NUTS, trees of up to {2 ** args.depth - 1} leapfrog steps, {args.draws} draws per chain "
              f"({time.perf_counter() - start:.0f} s, compilation included): leapfrog steps per draw")
        for c in range(chains):
            print(f"  chain {c}: " + " ".join(str(s) for s in steps[c]))
        print(f"  {int(np.asarray(divergent).sum())} divergent; squared jump per draw (whitened) "
              f"{jumps.mean():.1f} (independent draws: about {2 * dim})")

    if args.proposals:
        flat, flat_lp = draws.reshape(-1, dim), lp.reshape(-1)
        q = independence_proposal(jnp.asarray(flat.mean(axis=0)), jnp.asarray(inverse_mass[0]))
        proposals = q.sample(jax.random.PRNGKey(args.seed), (args.proposals,))
        target = np.concatenate([np.asarray(batched(proposals[k:k + 64])) for k in range(0, args.proposals, 64)])
        w_draws = flat_lp - np.asarray(q.log_prob(jnp.asarray(flat)))
        w_proposals = target - np.asarray(q.log_prob(proposals))
        finite = w_proposals[np.isfinite(w_proposals)]
        accept = np.mean([np.exp(np.minimum(0.0, w_proposals - w)).mean() for w in w_draws[::max(1, len(w_draws) // 400)]])
        print(f"\n3. Independence proposals ({args.proposals}): log p - log q at the draws "
              f"{np.percentile(w_draws, 5):.1f} to {np.percentile(w_draws, 95):.1f} (5-95 %), at the proposals "
              f"{np.percentile(finite, 50):.1f} (median), {finite.max():.1f} (largest); "
              f"mean acceptance per proposal {accept:.2g}")

    if args.tight_draws:
        _, tight_density = case_log_density_z(args.case, args.run, rtol=1e-10, atol=1e-12, max_steps=200_000)
        rng = np.random.default_rng(args.seed)
        picked = jnp.asarray(draws.reshape(-1, dim)[rng.choice(chains * n_draws, args.tight_draws, replace=False)])
        difference = np.asarray(batched(picked)) - np.asarray(jax.jit(jax.vmap(tight_density))(picked))
        print(f"\n4. The solver's share, at {args.tight_draws} draws: log density at the case's tolerances minus at "
              f"rtol 1e-10: largest |difference| {np.abs(difference).max():.2g} (mean {difference.mean():+.2g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
