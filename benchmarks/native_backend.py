"""The native solver backend (numba Rodas5P + discrete adjoint) against diffrax's, per problem.

    python benchmarks/native_backend.py [--problems "egfr_kholodenko (example)" Boehm_JProteomeRes2014 ...] [--repeats 9]

For each problem, both backends in one process with the same tolerances (the EGFR case's
own, rtol 1e-6 / atol 1e-5; PEtab benchmark problems at rtol 1e-8 / atol 1e-10): compile
time (first call: numba for the native backend, XLA for both), the log-likelihood, its
gradient (diffrax in the problem's own gradient mode, native always reverse) and the
gradient of a batch of parameter sets per set (``vmap``, as a sampler's chains call it:
the native backend runs a batch on one thread per core), medians of interleaved repeats;
the speed-ups, and how far apart the two results are. Problems the native backend cannot
solve (events, explicit time dependence) are reported as such. Results:
``benchmarks/results/native_backend.tsv``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common
from _common import EGFR, EGFR_CASE, compare_main, problem_yaml  # noqa: E402

DEFAULT = [EGFR, "Bertozzi_PNAS2020", "Boehm_JProteomeRes2014", "Blasi_CellSystems2016", "Crauste_CellSystems2017",
           "Brannmark_JBC2010", "Bachmann_MSB2011"]
BACKENDS = ("diffrax", "native")
BATCH = 8
BUDGET_S = 120.0  # per problem, after the first 3 repeats


def build(name: str, backend: str, tolerances: dict | None = None):
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings

    if name == EGFR:
        from celltwin.twin import read_case

        case = read_case(EGFR_CASE)
        return from_petab(case.problem, settings=SolverSettings(backend=backend, **(tolerances or case.solver)))
    tol = tolerances or {"rtol": 1e-8, "atol": 1e-10}
    return from_petab(problem_yaml(name), settings=SolverSettings(backend=backend, **tol))


def measure(name: str, repeats: int, tolerances: dict | None = None) -> dict:
    import jax
    import jax.numpy as jnp

    from celltwin.errors import UnsupportedFeatureError

    problems, compile_s = {}, {}
    for b in BACKENDS:
        try:
            problems[b] = build(name, b, tolerances)
        except UnsupportedFeatureError as err:
            return {"problem": name, "status": f"native: {err}"}
    ref = problems["diffrax"]
    theta = jnp.asarray(ref.x_nominal)
    thetas = jnp.asarray(ref.x_nominal + 0.01 * np.random.default_rng(0).standard_normal((BATCH, ref.n_parameters)))
    fns, values = {}, {}
    for b, p in problems.items():
        vg = p.value_and_grad()
        batched = jax.jit(jax.vmap(jax.value_and_grad(p.log_likelihood)))
        start = time.perf_counter()
        values[b] = (float(p.jit_log_likelihood(theta)), np.asarray(vg(theta)[1]))
        jax.block_until_ready(batched(thetas))
        compile_s[b] = time.perf_counter() - start
        fns[b] = {"llh": p.jit_log_likelihood, "grad": lambda x, f=vg: f(x)[1],
                  "batch_grad": lambda x, f=batched: f(thetas)[1]}
    times = {f"{b}_{q}": [] for b in BACKENDS for q in ("llh", "grad", "batch_grad")}
    for r in range(repeats):  # interleaved, so a change of load hits both alike
        for b in BACKENDS:
            for q, fn in fns[b].items():
                start = time.perf_counter()
                jax.block_until_ready(fn(theta))
                times[f"{b}_{q}"].append(time.perf_counter() - start)
        if r >= 2 and sum(t for v in times.values() for t in v) > BUDGET_S:
            break
    ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    for b in BACKENDS:
        ms[f"{b}_batch_grad"] /= BATCH  # per parameter set
    g_ref, g_nat = values["diffrax"][1], values["native"][1]
    return {
        "problem": name, "n_states": ref.compiled.n_states, "n_parameters": ref.n_parameters,
        "rtol": ref.settings.rtol, "atol": ref.settings.atol, "diffrax_gradient_mode": ref.gradient_mode(),
        **{f"{b}_compile_s": compile_s[b] for b in BACKENDS}, **{f"{k}_ms": v for k, v in ms.items()},
        "llh_speedup": ms["diffrax_llh"] / ms["native_llh"], "grad_speedup": ms["diffrax_grad"] / ms["native_grad"],
        "batch_grad_speedup": ms["diffrax_batch_grad"] / ms["native_batch_grad"],
        "diffrax_llh": values["diffrax"][0], "native_llh": values["native"][0],
        "llh_abs_diff": abs(values["diffrax"][0] - values["native"][0]),
        "grad_rel_diff": float(np.max(np.abs(g_ref - g_nat)) / max(np.max(np.abs(g_ref)), 1e-300)),
        "repeats": len(times["native_llh"]), "status": "ok",
    }


def main() -> None:
    compare_main(__doc__, measure, DEFAULT, "native_backend.tsv",
                 ["problem", "n_states", "n_parameters", "native_compile_s", "diffrax_llh_ms", "native_llh_ms",
                  "llh_speedup", "diffrax_grad_ms", "native_grad_ms", "grad_speedup", "diffrax_batch_grad_ms",
                  "native_batch_grad_ms", "batch_grad_speedup", "llh_abs_diff", "grad_rel_diff", "status"])


if __name__ == "__main__":
    main()
