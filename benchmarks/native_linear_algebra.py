"""Per-step linear algebra of the native backend: its dense LU against its sparse one, by
the numba loops and written out in C.

A Rodas5P step forms ``W = I/gamma - h J``, factorises it and solves with it 8 times;
the reverse pass solves 8 times with ``W^T``. For each model this times exactly that work
(``form_and_factor``, 8 ``lu_solve``, 8 ``lu_solve_t``: the kernels the solver calls,
looped inside numba so Python's call cost is not in it) with the dense LU, the sparse
LU's loops and the sparse LU generated in C (where it is generated:
``GENERATED_MAX_OPS``), at the Jacobian of the nominal parameters and initial state
(plus 0.1) and ``h = 0.1``; medians of interleaved repeats, in microseconds. Also: the
fill of each candidate ordering, the tape bytes per step for ``W``, numba's compile time
of the sparse kernels and gcc's of the generated ones. ``SPARSE_MIN_STATES`` and
``GENERATED_MAX_OPS`` in ``celltwin/simulate/_native_sparse.py`` come from this table.

    python benchmarks/native_linear_algebra.py [--problems Chen_MSB2009 ...] [--out FILE.tsv]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import EGFR  # noqa: E402

DEFAULT = ["Bertozzi_PNAS2020", "Beer_MolBioSystems2014", "Crauste_CellSystems2017", "Weber_BMC2015",
           "Bruno_JExpBot2016", "Boehm_JProteomeRes2014", "Elowitz_Nature2000", "Brannmark_JBC2010", "Schwen_PONE2014",
           "Blasi_CellSystems2016", "Raimundez_PCB2020", EGFR, "Bachmann_MSB2011", "Lucarelli_CellSystems2018",
           "Smith_BMCSystBiol2013", "Chen_MSB2009"]
STAGES = 8  # Rodas5P
H = 0.1


def jacobian(name: str):
    """``n``, the Jacobian's non-zeros ``(rows, cols)`` and their values at the nominal
    parameters and the initial state plus 0.1 (at ``t = 1``)."""
    import jax.numpy as jnp
    from _common import problem_yaml

    from celltwin.problem import from_petab

    if name == EGFR:
        from _common import EGFR_CASE as CASE

        from celltwin.twin import read_case

        problem = from_petab(read_case(CASE).problem)
    else:
        problem = from_petab(problem_yaml(name))
    cm = problem.compiled
    p = problem._pool(jnp.asarray(problem.x_nominal))[problem.arrays.groups[0].p_refs[0]]
    x = cm.x0(p) + 0.1
    J = np.asarray(cm.jacobian(jnp.asarray(1.0), x, p, cm.derived(p))[0])
    rows, cols = np.nonzero(np.asarray(cm.jacobian_sparsity))
    return cm.n_states, rows, cols, J[rows, cols]


def step_driver():
    import numba

    from celltwin.simulate._native import _kernels

    K = _kernels()

    @numba.njit(cache=False)
    def step(sizes, L, jv, h, W, piv, hg, B, X, repeats):
        ok = True
        for _ in range(repeats):
            ok &= K.form_and_factor(sizes, L, jv, h, W, piv, hg, 1.0 / K.gamma)
            for i in range(B.shape[0]):
                X[i] = B[i]
                K.lu_solve(sizes, L, W, piv, X[i])
            for i in range(B.shape[0]):
                X[i] = B[i]
                K.lu_solve_t(sizes, L, W, piv, X[i])
        return ok

    return step


def measure(name: str, step, budget_s: float) -> dict:
    from celltwin.simulate import _native_sparse
    from celltwin.simulate._lu_kernels import Kernels

    n, rows, cols, jv = jacobian(name)
    candidates = {k: _native_sparse.symbolic_factor(rows, cols, n, order)
                  for k, order in _native_sparse.orderings(rows, cols, n).items()}
    chosen, filled = _native_sparse.best_pattern(rows, cols, n)
    kernels, compile_s = {}, {}
    kinds = ["dense", "sparse"] + (["generated"] if _native_sparse.use_generated(
        _native_sparse.linear_algebra(n, rows, cols, use_sparse=True)) else [])
    for kind in kinds:
        start = time.perf_counter()
        lu = Kernels(n, rows, cols, kind=kind)
        W = np.empty(lu.w_shape)
        piv = np.empty(n, dtype=np.int64)
        lu.factor(jv, H, W, piv)  # compiles (or loads numba's cache; gcc for the generated LU)
        compile_s[kind] = time.perf_counter() - start
        kernels[kind] = (lu, W, piv)
    rng = np.random.default_rng(0)
    B = rng.standard_normal((STAGES, n))
    X = np.empty_like(B)
    hg = np.empty(4)
    ok, solutions = {}, {}
    for kind, (lu, W, piv) in kernels.items():
        ok[kind] = step(lu.sizes, lu.arrays, jv, H, W, piv, hg, B, X, 1)
        solutions[kind] = X.copy()
    # Enough inner repeats for ~1 ms per timing, then interleaved outer repeats.
    lu, W, piv = kernels["dense"]
    start = time.perf_counter()
    step(lu.sizes, lu.arrays, jv, H, W, piv, hg, B, X, 1)
    inner = max(1, int(1e-3 / max(time.perf_counter() - start, 1e-7)))
    times: dict[str, list[float]] = {kind: [] for kind in kernels}
    deadline = time.perf_counter() + budget_s
    while len(times["dense"]) < 5 or (len(times["dense"]) < 31 and time.perf_counter() < deadline):
        for kind, (lu, W, piv) in kernels.items():
            start = time.perf_counter()
            step(lu.sizes, lu.arrays, jv, H, W, piv, hg, B, X, inner)
            times[kind].append((time.perf_counter() - start) / inner)
    us = {kind: 1e6 * statistics.median(t) for kind, t in times.items()}
    dense_us, sparse_us = us["dense"], us["sparse"]
    generated_us = us.get("generated", float("nan"))
    return {
        "problem": name, "n_states": n, "jac_nnz": len(rows), "ordering": chosen, "filled_nnz": filled.nnz,
        **{f"fill_{k}": f.nnz for k, f in candidates.items()},
        "factor_flops_sparse": filled.factor_flops, "factor_flops_dense": n**3 // 3,
        "tape_w_kb_dense": 8 * n * n / 1e3, "tape_w_kb_sparse": 8 * filled.nnz / 1e3,
        "sparse_ok": bool(ok["sparse"]), "max_abs_diff": float(np.abs(solutions["dense"] - solutions["sparse"]).max()),
        "generated_max_abs_diff": float(np.abs(solutions["dense"] - solutions["generated"]).max())
        if "generated" in solutions else float("nan"),
        "step_dense_us": dense_us, "step_sparse_us": sparse_us, "step_generated_us": generated_us,
        "speedup": dense_us / sparse_us, "generated_speedup": sparse_us / generated_us,
        "compile_sparse_s": compile_s["sparse"], "compile_generated_s": compile_s.get("generated", float("nan")),
        "repeats": len(times["dense"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=DEFAULT)
    parser.add_argument("--budget", type=float, default=8.0, help="seconds of timing per problem")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "native_linear_algebra.tsv"))
    args = parser.parse_args()
    import os

    import pandas as pd

    step = step_driver()
    rows = []
    for name in args.problems:
        row = measure(name, step, args.budget)
        rows.append(row)
        print(f"{name}: n={row['n_states']} factor+{STAGES}+{STAGES} solves dense {row['step_dense_us']:.1f} us, "
              f"sparse {row['step_sparse_us']:.1f} us ({row['ordering']}, filled {row['filled_nnz']}), "
              f"generated {row['step_generated_us']:.1f} us", flush=True)
    df = pd.DataFrame(rows).sort_values("n_states")
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False, float_format="%.6g")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
