"""Rodas5P's stage solves: LU factorisation + triangular solves vs an explicit inverse.

    python benchmarks/linear_solve.py [--problems Boehm_JProteomeRes2014 ...] [--repeats 9] [--tolerances RTOL ATOL]

A Rosenbrock step solves ``s`` linear systems with the same matrix ``W = I/gamma - h J``
(``s = 8`` for Rodas5P). ``linear_solve="lu"`` factorises ``W`` once and does two
triangular solves per stage; ``"inverse"`` inverts ``W`` once and does one matrix-vector
product per stage. On a CPU, at the sizes of signalling models, a step's cost is mostly
the number of XLA operations it runs, not their arithmetic, so fewer, larger operations
can win although inverting is ~3x the flops of factorising. This script measures both on
the EGFR example (the case's tolerances) and on PEtab benchmark problems of 3 to 109
states (rtol 1e-8, atol 1e-10): log-likelihood and gradient (the problem's own gradient
mode), medians of interleaved repeats in one process, their ratio, and how far apart the
two results are (Smith 2013, 109 states, log-likelihood only: its gradient takes minutes;
slow problems get at least 3 repeats within a time budget). ``INVERSE_MAX_STATES`` in
``celltwin/simulate/_rosenbrock.py`` is set from it. Results:
``benchmarks/results/linear_solve.tsv``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # _common
from _common import EGFR, EGFR_CASE, compare_main, problem_yaml  # noqa: E402

DEFAULT = [EGFR, "Bertozzi_PNAS2020", "Boehm_JProteomeRes2014", "Brannmark_JBC2010", "Blasi_CellSystems2016",
           "Raimundez_PCB2020", "Bachmann_MSB2011", "Lucarelli_CellSystems2018", "Smith_BMCSystBiol2013"]
MODES = ("lu", "inverse")
BUDGET_S = 120.0  # per problem, after the first 3 repeats
GRADIENT_MAX_STATES = 64  # Smith 2013 (109 states): log-likelihood only (its gradient takes minutes)


def build(name: str, linear_solve: str, tolerances: dict | None = None):
    from celltwin.problem import from_petab
    from celltwin.simulate import Rodas5P, SolverSettings

    solver = Rodas5P(linear_solve=linear_solve)
    if name == EGFR:
        from celltwin.twin import read_case

        case = read_case(EGFR_CASE)
        return from_petab(case.problem, settings=SolverSettings(solver=solver, **(tolerances or case.solver)))
    return from_petab(problem_yaml(name), settings=SolverSettings(solver=solver, **(tolerances or {})))


def measure(name: str, repeats: int, tolerances: dict | None = None) -> dict:
    import jax
    import jax.numpy as jnp

    problems = {m: build(name, m, tolerances) for m in MODES}
    theta = jnp.asarray(problems["lu"].x_nominal)
    with_grad = problems["lu"].compiled.n_states <= GRADIENT_MAX_STATES
    llh = {m: p.jit_log_likelihood for m, p in problems.items()}
    grad = {m: p.value_and_grad(p.gradient_mode()) for m, p in problems.items()}
    values = {m: (float(llh[m](theta)), np.asarray(grad[m](theta)[1]) if with_grad else np.full(1, np.nan))
              for m in MODES}  # compiles
    quantities = ("llh", "grad") if with_grad else ("llh",)
    times: dict[str, list[float]] = {f"{m}_{q}": [np.nan] for m in MODES for q in ("llh", "grad")}
    times.update({f"{m}_{q}": [] for m in MODES for q in quantities})
    for r in range(repeats):  # interleaved, so a change of load hits both alike
        for m in MODES:
            for q, fn in (("llh", llh[m]), ("grad", lambda x, f=grad[m]: f(x)[1]))[:len(quantities)]:
                start = time.perf_counter()
                jax.block_until_ready(fn(theta))
                times[f"{m}_{q}"].append(time.perf_counter() - start)
        if r >= 2 and np.nansum([t for v in times.values() for t in v]) > BUDGET_S:  # slow problems: at least 3 repeats
            break
    ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    g_lu, g_inv = values["lu"][1], values["inverse"][1]
    p = problems["lu"]
    return {
        "problem": name, "n_states": p.compiled.n_states, "n_parameters": p.n_parameters,
        "rtol": p.settings.rtol, "atol": p.settings.atol,
        "gradient_mode": p.gradient_mode(), **{f"{k}_ms": v for k, v in ms.items()},
        "llh_speedup": ms["lu_llh"] / ms["inverse_llh"], "grad_speedup": ms["lu_grad"] / ms["inverse_grad"],
        "lu_llh": values["lu"][0], "inverse_llh": values["inverse"][0],
        "llh_abs_diff": abs(values["lu"][0] - values["inverse"][0]),
        "grad_rel_diff": float(np.max(np.abs(g_lu - g_inv)) / max(np.max(np.abs(g_lu)), 1e-300)),
    }


def main() -> None:
    compare_main(__doc__, measure, DEFAULT, "linear_solve.tsv",
                 ["problem", "n_states", "gradient_mode", "lu_llh_ms", "inverse_llh_ms", "llh_speedup", "lu_grad_ms",
                  "inverse_grad_ms", "grad_speedup", "llh_abs_diff", "grad_rel_diff"])


if __name__ == "__main__":
    main()
