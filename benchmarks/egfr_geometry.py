"""Why NUTS needs long trajectories on the augmented EGFR posterior: local curvature against
global spread, under the mass matrices NUTS can adapt.

    python benchmarks/egfr_geometry.py POSTERIOR.nc [--points 30] [--backend native]

POSTERIOR.nc is a run of the EGFR example's augmented posterior (e.g. from
``benchmarks/egfr_posterior.py`` or ``celltwin sample``). In the sampler's unconstrained
space ``z`` (``celltwin.inference._sample.BoundedSpace``), the script takes the draws'
covariance C (the global spread) and, at ``--points`` random draws, the Hessian H of the
log density (central differences of the exact gradient, step 1e-4). For an inverse mass
matrix M^-1 = L L^T, NUTS's step size is bounded by the stiffest local direction, sd_local
= 1 / sqrt(max eig(L^T (-H) L)), and a trajectory must cover the widest global direction,
sd_global = sqrt(max eig(L^-1 C L^-T)); their ratio is roughly the number of leapfrog steps a
draw needs (times a factor ~1-2). The table compares M^-1 = diag(C) (what the diagonal
warm-up estimates) with M^-1 = C (a dense, pooled estimate), and counts the Hessian's
positive eigenvalues (directions where the log density is locally convex upwards: the
posterior is not log-concave there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def local_hessians(gradient, points: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Symmetrised central-difference Hessians of the log density at ``points`` (rows)."""
    n = points.shape[1]
    out = []
    for z in points:
        g = np.asarray(gradient(np.concatenate([z + h * np.eye(n), z - h * np.eye(n)])))
        hess = (g[:n] - g[n:]).T / (2 * h)
        out.append(0.5 * (hess + hess.T))
    return np.array(out)


def step_ratio(inverse_mass: np.ndarray, cov: np.ndarray, neg_hessians: np.ndarray) -> tuple[float, np.ndarray]:
    """The widest global sd and the stiffest local sd at each point, in the metric of ``inverse_mass``."""
    chol = np.linalg.cholesky(inverse_mass)
    white_cov = np.linalg.solve(chol, np.linalg.solve(chol, cov).T)
    widest = float(np.sqrt(np.linalg.eigvalsh(white_cov).max()))
    stiffest = np.array([1 / np.sqrt(np.linalg.eigvalsh(chol.T @ h @ chol).max()) for h in neg_hessians])
    return widest, stiffest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("posterior", help="InferenceData (.nc) of the augmented EGFR posterior")
    parser.add_argument("--points", type=int, default=30)
    parser.add_argument("--backend", choices=("diffrax", "native"), default="native")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import arviz as az
    import jax
    import jax.numpy as jnp
    from egfr_posterior import augmented_problem

    from celltwin.inference._sample import BoundedSpace, _safe, _z_target

    problem, evidence = augmented_problem(args.backend)
    space = BoundedSpace(problem.lower, problem.upper)
    gradient = jax.jit(jax.vmap(jax.grad(_z_target(space, _safe(evidence.log_density)))))
    post = az.from_netcdf(args.posterior).posterior
    theta = np.stack([post[p].values for p in problem.parameter_ids], axis=-1).reshape(-1, problem.n_parameters)
    z = np.asarray(space.z(jnp.asarray(theta)))
    cov = np.cov(z.T)
    picks = np.random.default_rng(args.seed).choice(len(z), min(args.points, len(z)), replace=False)
    neg_h = -local_hessians(gradient, z[picks])
    convex_up = np.array([int(np.sum(np.linalg.eigvalsh(h) < 0)) for h in neg_h])
    print(f"{len(z)} draws, {len(picks)} points; marginal sd in z: min {np.sqrt(np.diag(cov)).min():.3f}, "
          f"max {np.sqrt(np.diag(cov)).max():.3f}; directions of upward curvature per point: "
          f"median {np.median(convex_up):.0f} (range {convex_up.min()}-{convex_up.max()}) of {problem.n_parameters}")
    print("| inverse mass matrix | widest global sd | stiffest local sd (median, min) | ratio (median, worst) |")
    print("|---|---|---|---|")
    for label, inverse_mass in (("diagonal, diag(C)", np.diag(np.diag(cov))),
                                ("dense, C", cov + 1e-9 * np.eye(len(cov)))):
        widest, stiffest = step_ratio(inverse_mass, cov, neg_h)
        print(f"| {label} | {widest:.2f} | {np.median(stiffest):.4f}, {stiffest.min():.4f} | "
              f"{widest / np.median(stiffest):.0f}, {widest / stiffest.min():.0f} |")


if __name__ == "__main__":
    main()
