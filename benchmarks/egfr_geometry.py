"""Why NUTS needs long trajectories on the augmented EGFR posterior: local curvature against
global spread, under the mass matrices NUTS can adapt.

    python benchmarks/egfr_geometry.py POSTERIOR.nc [--points 30] [--backend native]

POSTERIOR.nc is a run of the EGFR example's augmented posterior (e.g. from
``benchmarks/egfr_posterior.py`` or ``celltwin sample``). In the sampler's unconstrained
space ``z`` (``celltwin.inference._space.BoundedSpace``), the script takes the draws'
covariance C (the global spread) and, at ``--points`` random draws, the Hessian H of the
log density (central differences of the exact gradient, step 1e-4). For an inverse mass
matrix M^-1 = L L^T, NUTS's step size is bounded by the stiffest local direction, sd_local
= 1 / sqrt(max eig(L^T (-H) L)), and a trajectory must cover the widest global direction,
sd_global = sqrt(max eig(L^-1 C L^-T)); their ratio is roughly the number of leapfrog steps a
draw needs (times a factor ~1-2). The table compares M^-1 = diag(C) (what the diagonal
warm-up estimates) with M^-1 = C (a dense, pooled estimate), and counts the Hessian's
positive eigenvalues (directions where the log density is locally convex upwards: the
posterior is not log-concave there).

With ``--fisher`` it also asks whether a position-dependent metric from the data would
capture that curvature (what simplified manifold MALA or Riemannian HMC with the Fisher
metric rely on): at each point, the Gauss-Newton (Fisher) metric
G = J^T diag(1/sigma^2) J - Hessian(log prior + evidence + log-Jacobian), with J the
Jacobian of the simulated observables in ``z`` (reverse mode, one adjoint per measurement;
the example's observables are Gaussian on the linear scale), eigenvalues floored at 0.1,
and the eigenvalues of G^-1/2 (-H) G^-1/2: all near 1 where G is a good local metric.
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
    parser.add_argument("--fisher", action="store_true",
                        help="also compare the Hessian with the Gauss-Newton (Fisher) metric at each point")
    args = parser.parse_args()

    import arviz as az
    import jax
    import jax.numpy as jnp
    from _problems import augmented_problem

    from celltwin.inference._space import BoundedSpace, finite_or_minus_inf, z_target

    problem, evidence = augmented_problem(args.backend)
    space = BoundedSpace(problem.lower, problem.upper)
    gradient = jax.jit(jax.vmap(jax.grad(z_target(space, finite_or_minus_inf(evidence.log_density)))))
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
    if args.fisher:
        whitened = fisher_whitened_hessians(problem, evidence, space, z[picks], neg_h)
        low, high = whitened[:, 0], whitened[:, -1]
        print(f"\nHessian in the Gauss-Newton (Fisher) metric's units, {len(picks)} points: smallest eigenvalue "
              f"median {np.median(low):.1f} (range {low.min():.1f} to {low.max():.1f}), largest median "
              f"{np.median(high):.1f} (range {high.min():.1f} to {high.max():.1f}); 1 would be a perfect local metric")


def fisher_whitened_hessians(problem, evidence, space, points: np.ndarray, neg_hessians: np.ndarray,
                             floor: float = 0.1) -> np.ndarray:
    """Sorted eigenvalues of G^-1/2 (-H) G^-1/2 at each point, G the floored Gauss-Newton metric."""
    import jax

    def observables(z):  # the sigmas ride along as auxiliary output: one simulation per point
        simulation = problem.simulate(space.theta(z))
        return simulation.observables, simulation.sigmas

    def rest(z):
        theta = space.theta(z)
        return problem.log_prior(theta) + evidence.log_evidence_terms(theta) + space.log_jacobian(z)

    if not problem.measurement_model.is_normal_on_linear_scale:
        raise SystemExit("--fisher handles Gaussian observables on the linear scale only")
    jacobian, rest_hessian = jax.jit(jax.jacrev(observables, has_aux=True)), jax.jit(jax.hessian(rest))
    out = []
    for z, neg_h in zip(points, neg_hessians):
        jac, sigma = (np.asarray(a) for a in jacobian(z))
        metric = (jac / sigma[:, None] ** 2).T @ jac - np.asarray(rest_hessian(z))
        lam, vec = np.linalg.eigh(0.5 * (metric + metric.T))
        inv_sqrt = vec @ np.diag(np.maximum(np.abs(lam), floor) ** -0.5) @ vec.T
        out.append(np.linalg.eigvalsh(inv_sqrt @ neg_h @ inv_sqrt))
    return np.array(out)


if __name__ == "__main__":
    main()
