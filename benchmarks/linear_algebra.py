"""Per-step linear algebra of the Rosenbrock solver: our sparse routines vs JAX's dense ones.

Each Rodas5P step needs the Jacobian ``J = df/dx``, one LU factorisation of
``W = I/gamma - h J`` and 8 triangular solves. For each PEtab benchmark model this
compares, at the nominal parameters and initial state:

* Jacobian: dense forward mode (``jax.jacfwd`` of the right-hand side, one tangent per
  state) vs the model's sparse chain rule (``CompiledModel.jacobian``: one tangent per
  colour of the flux Jacobian);
* LU + 8 solves: LAPACK through ``jax.scipy.linalg.lu_factor / lu_solve`` vs
  ``celltwin.simulate._sparse_lu.SparseLU``.

Medians of repeated calls of jitted functions, in microseconds, printed as a table and
written as TSV. The solver uses the sparse LU only from ``SPARSE_LU_MIN_STATES`` states
on; this table is where that threshold comes from.

    python benchmarks/linear_algebra.py [--problems Chen_MSB2009 ...] [--out FILE.tsv]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("CELLTWIN_SHARED_DATA", ROOT.parent / "shared" / "data")) / "petab-benchmark"
STAGES = 8  # Rodas5P


def median_us(fn, *args, repeats: int = 30) -> float:
    import jax

    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times)


def measure(name: str) -> dict:
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    from celltwin.problem import from_petab
    from celltwin.simulate._sparse_lu import SparseLU

    problem = from_petab(sorted((BENCH / name).glob("*.yaml"))[0])
    cm = problem.compiled
    group = problem.arrays.groups[0]
    p = problem._pool(jnp.asarray(problem.x_nominal))[group.p_refs[0]]
    d = cm.derived(p)
    x = cm.x0(p) + 0.1
    t = jnp.asarray(1.0)
    n = cm.n_states
    dense_jac = jax.jit(jax.jacfwd(lambda y: cm.rhs(t, y, p, d)))
    sparse_jac = jax.jit(lambda y: cm.jacobian(t, y, p, d)[0])
    W = jnp.eye(n) / 0.2 - 0.1 * sparse_jac(x)
    B = jnp.stack([x + k for k in range(STAGES)])

    def dense_lu(W, B):
        f = jsl.lu_factor(W)
        return [jsl.lu_solve(f, b) for b in B]

    lu = SparseLU(cm.jacobian_sparsity)

    def sparse_lu(W, B):
        f = lu.factor(W)
        return [lu.solve(f, b) for b in B]

    dense, sparse = jax.jit(dense_lu), jax.jit(sparse_lu)
    error = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(dense(W, B), sparse(W, B)))
    return {
        "problem": name, "n_states": n, "colours": cm.n_jacobian_colours, "filled_nnz": lu.nnz,
        "levels": lu.n_levels, "jac_dense_us": median_us(dense_jac, x), "jac_sparse_us": median_us(sparse_jac, x),
        "lu_dense_us": median_us(dense, W, B), "lu_sparse_us": median_us(sparse, W, B), "max_abs_diff": error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "linear_algebra.tsv"))
    args = parser.parse_args()
    names = args.problems or sorted(p.name for p in BENCH.iterdir() if p.is_dir())
    import pandas as pd

    rows = []
    for name in names:
        row = measure(name)
        rows.append(row)
        print(f"{name}: n={row['n_states']} jac {row['jac_dense_us']:.0f} -> {row['jac_sparse_us']:.0f} us, "
              f"LU+{STAGES} solves {row['lu_dense_us']:.0f} -> {row['lu_sparse_us']:.0f} us", flush=True)
    df = pd.DataFrame(rows).sort_values("n_states")
    df["jac_speedup"] = df["jac_dense_us"] / df["jac_sparse_us"]
    df["lu_speedup"] = df["lu_dense_us"] / df["lu_sparse_us"]
    print()
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False, float_format="%.6g")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
