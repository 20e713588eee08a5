"""Why NUTS needs tiny steps on a twin case's posterior: the curvature at draws, in the
sampler's own whitened coordinates.

    python benchmarks/experiments/posterior_curvature.py CASE.yaml CHECKPOINT.npz
        [--run baseline|augmented] [--points 8] [--seed 0] [--divergent]

CHECKPOINT is a run's checkpoint from its draw phase (``DIR/baseline.checkpoint.npz`` of
``celltwin demo CASE --out DIR``: its draws so far in the sampler's unconstrained space and
the adapted inverse mass matrix ``Sigma``). At draws picked at random, the Hessian of the log
density is taken by central differences of its gradient along the columns of ``L``
(``Sigma = L L^T``), so that it is ``L^T H L``: the curvature the leapfrog integrator meets
with that mass matrix. A Gaussian target well adapted to gives eigenvalues near 1; the
leapfrog is unstable for steps above ``2 / sqrt(lambda_max)``. Printed per draw: the largest
eigenvalues, that step limit, the smallest eigenvalue (negative: the log density is not
concave there) and the parameters of the stiffest direction.

``--divergent``: ``--points`` draws that ended a divergent transition and as many that did
not, with the median step limit of each group: whether the divergences come from regions
where the curvature is larger than the adapted step can follow. CHECKPOINT may also be a
finished run's ``DIR/RUN.nc``: then the draws' covariance stands in for the adapted mass
matrix (``--step`` the adapted step size, which the file does not hold).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("CELLTWIN_ROW_MEMO", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _case_draws import add_checkpoint_arguments, case_log_density_z, read_checkpoint  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_checkpoint_arguments(parser)
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", type=float, default=1e-4, help="finite-difference step (whitened units)")
    parser.add_argument("--divergent", action="store_true", help="divergent draws against the others")
    parser.add_argument("--step", type=float, help="the adapted step size (for a RUN.nc)")
    args = parser.parse_args(argv)

    import jax

    problem, log_density = case_log_density_z(args.case, args.run)
    gradient = jax.jit(jax.grad(log_density))
    record = read_checkpoint(args.checkpoint, problem)
    draws = record["draws_z"]
    step = args.step if args.step is not None else float(record["step_size"][0])
    L = np.linalg.cholesky(record["inverse_mass"])
    n = L.shape[0]
    ids = problem.parameter_ids
    chains, per_chain = draws.shape[:2]
    rng = np.random.default_rng(args.seed)
    print(f"{chains} chains x {per_chain} draws; adapted step size {step:.4f}")
    if args.divergent:
        divergent = record["stat_diverging"].astype(bool)
        groups = {"divergent": np.argwhere(divergent), "not divergent": np.argwhere(~divergent)}
        print(f"{len(groups['divergent'])} divergent draws of {divergent.size}")
        groups = {name: at[rng.choice(len(at), min(args.points, len(at)), replace=False)]
                  for name, at in groups.items()}
    else:
        groups = {"random": np.stack([rng.integers(0, chains, args.points),
                                      rng.integers(0, per_chain, args.points)], axis=1)}
    for name, at in groups.items():
        limits = []
        for c, t in at:
            z0 = draws[c, t]
            H = np.empty((n, n))
            for i in range(n):
                e = L[:, i] * args.eps
                H[:, i] = (np.asarray(gradient(z0 + e)) - np.asarray(gradient(z0 - e))) / (2 * args.eps)
            curvature = -0.5 * (L.T @ H + (L.T @ H).T)
            w, V = np.linalg.eigh(curvature)
            direction = L @ V[:, -1]
            direction /= np.abs(direction).max()
            top = np.argsort(-np.abs(direction))[:4]
            limits.append(2 / np.sqrt(max(w[-1], 1e-300)))
            print(f"{name}: chain {c} draw {t}: largest {w[-1]:.3g}, {w[-2]:.3g}, {w[-3]:.3g}; step limit "
                  f"{limits[-1]:.3f}; smallest {w[0]:.3g}; stiffest direction "
                  + ", ".join(f"{ids[k]} {direction[k]:+.2f}" for k in top))
        print(f"{name}: step limits {min(limits):.3f}-{max(limits):.3f} (median {np.median(limits):.3f}) "
              f"against the adapted step {step:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
