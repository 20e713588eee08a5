"""Large models through the native solver with its dense and its sparse LU: time per step.

    python benchmarks/native_sparse_models.py [--problems Smith_BMCSystBiol2013 Chen_MSB2009]

For each problem, one forward solve (with the tape) and its reverse pass at the nominal
parameters, from the initial state through the measurement times, rtol 1e-8 / atol 1e-10,
with the same generated model code and each LU: dense, sparse by the numba loops, sparse
generated in C (where the model's is). The native
backend refuses these problems as they stand (Smith has events, Chen an input switched
on at t = 1800), so this solves their ODE without them: Smith without its events, Chen
with time fixed at 3600 s (the input on from the start). Reported: the code generation
time (sympy) and numba's compile time, accepted steps, forward and reverse times
(medians of interleaved repeats), per step, and the tape's bytes per step.
Results: ``benchmarks/results/native_sparse_models.tsv``.

Smith (109 states, load average ~7 on 2 cores): the same 387 steps, forward 85 -> 24 ms,
reverse 88 -> 28 ms, tape 111 -> 26 KB per step, gradients equal to 2e-15. Chen is not in
the table yet: generating its code (sympy's derivatives for the reverse pass, 500 states)
takes far longer than Smith's 40-90 s, independently of the LU.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

FIXED_TIME = {"Chen_MSB2009": 3600.0}
RTOL, ATOL, MAX_STEPS = 1e-8, 1e-10, 100_000


def autonomous_model(name: str):
    """The problem's compiled model without events, time fixed where it appears; its
    nominal parameters, initial state and measurement times."""
    import jax.numpy as jnp
    import pandas as pd
    import sympy as sp
    from _common import problem_yaml

    from celltwin.model import TIME
    from celltwin.problem import from_petab
    from celltwin.simulate import _native

    problem = from_petab(problem_yaml(name))
    cm = dataclasses.replace(problem.compiled, events=())
    if name in FIXED_TIME:  # the generator reads the model's expressions through this name
        plain = _native.rhs_expressions
        _native.rhs_expressions = lambda m: [e.xreplace({TIME: sp.Float(FIXED_TIME[name])}) for e in plain(m)]
    p = np.asarray(problem._pool(jnp.asarray(problem.x_nominal))[problem.arrays.groups[0].p_refs[0]])
    measurements = pd.concat([pd.read_csv(f, sep="\t") for f in problem_yaml(name).parent.glob("measurement*.tsv")])
    ts = np.unique(measurements["time"].to_numpy(dtype=float))
    return cm, p, np.asarray(cm.x0(jnp.asarray(p))), ts[np.isfinite(ts)]


def modules(cm):
    """The model's native functions with the dense LU, the sparse LU's loops and (where the
    model has it) the sparse LU generated in C."""
    from celltwin.simulate import _native

    start = time.perf_counter()
    gen = _native.generated(cm)
    generate_s = time.perf_counter() - start
    variants = {"dense": gen.with_linear_algebra(False), "sparse": gen.with_linear_algebra(True, generated_lu=False)}
    generated = gen.with_linear_algebra(True)
    if generated.generated_lu:
        variants["generated"] = generated
    return gen, variants, generate_s


def measure(name: str, repeats: int) -> list[dict]:
    from celltwin.simulate._native import _Solves

    cm, p, x0, ts = autonomous_model(name)
    gen, variants, generate_s = modules(cm)
    n = gen.n_states
    P, X0, T0, TS, JU = p[None], x0[None], np.zeros(1), ts[None], np.zeros((1, 0))
    XBAR = np.random.default_rng(0).standard_normal((1, len(ts), n))
    runs = {}
    for kind, g in variants.items():
        host = _Solves(g, RTOL, ATOL, MAX_STEPS, -1.0, -1.0)

        def forward(host=host):
            return host.forward(P, X0, T0, TS, JU)

        def reverse(host=host):  # the tape of the forward pass before it
            return host.adjoint(P, X0, T0, TS, JU, XBAR)

        start = time.perf_counter()
        XS, _ = forward()
        PBAR = reverse()[0]
        record = next(iter(host.cache.values()))[1]
        runs[kind] = dict(compile_s=time.perf_counter() - start, forward=forward, reverse=reverse, XS=XS,
                          status=record[1], n_steps=record[2], taped=record[3], PBAR=PBAR,
                          tape_bytes=sum(a[0, 0].nbytes for a in record[5]))
    times = {(k, q): [] for k in runs for q in ("forward", "reverse")}
    for _ in range(repeats):  # interleaved
        for kind, r in runs.items():
            for q in ("forward", "reverse"):
                start = time.perf_counter()
                r[q]()
                times[(kind, q)].append(time.perf_counter() - start)
    rows = []
    for kind, r in runs.items():
        steps = int(r["n_steps"][0])
        fwd, rev = (statistics.median(times[(kind, q)]) for q in ("forward", "reverse"))
        rows.append({
            "problem": name, "lu": kind, "n_states": n, "generate_s": generate_s, "compile_s": r["compile_s"],
            "status": int(r["status"][0]), "steps": steps, "fully_taped": bool(r["taped"][0]),
            "forward_ms": 1e3 * fwd, "reverse_ms": 1e3 * rev, "forward_us_per_step": 1e6 * fwd / max(steps, 1),
            "reverse_us_per_step": 1e6 * rev / max(steps, 1), "tape_kb_per_step": r["tape_bytes"] / 1e3,
            # in units of the error tolerance (atol + rtol |x|): below 1 is within it
            "max_diff_x_tol": float(np.max(np.abs(r["XS"] - runs["dense"]["XS"]) /
                                           (ATOL + RTOL * np.abs(runs["dense"]["XS"])))),
            "max_rel_diff_grad": float(np.max(np.abs(r["PBAR"] - runs["dense"]["PBAR"])) /
                                       np.max(np.abs(runs["dense"]["PBAR"]))),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=["Smith_BMCSystBiol2013", "Chen_MSB2009"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "native_sparse_models.tsv"))
    args = parser.parse_args()
    import pandas as pd

    rows = []
    for name in args.problems:
        rows += measure(name, args.repeats)
        print(pd.DataFrame(rows[-3:]).to_string(index=False, float_format=lambda v: f"{v:.3g}"), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    df = pd.DataFrame(rows)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False, float_format="%.6g")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
