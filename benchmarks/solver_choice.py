"""Which ODE solver and step-size controller should be celltwin's default?

For each PEtab benchmark problem and each candidate :class:`SolverSettings`, measure

* ``compile_s``: time to compile the jitted log-likelihood (no persistent cache);
* ``llh_ms``: median time of one log-likelihood evaluation at the nominal parameters
  (``--repeats`` timed calls after one warm-up; the candidates are timed round-robin,
  so background load affects them alike);
* ``llh`` and whether it matches the reference value of
  ``petab-benchmark/reference_llh.tsv`` (``isclose``, rtol 1e-3, atol 1e-3);
* optionally (``--grad``) the same for ``value_and_grad``.

Usage::

    .venv/bin/python benchmarks/solver_choice.py \
        --problems Boehm_JProteomeRes2014 Elowitz_Nature2000 --repeats 10

A table is printed and a TSV written to ``benchmarks/results/solver_choice.tsv``.
"""

from __future__ import annotations

import os

os.environ.setdefault("CELLTWIN_NO_JAX_CACHE", "1")  # honest compile times: no disk cache

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

import celltwin  # noqa: F401  (float64)
from celltwin._atomic import atomic_path
from celltwin.problem import from_petab
from celltwin.simulate import SolverSettings
from celltwin.simulate._rosenbrock import Rodas4, Rodas5P

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("CELLTWIN_SHARED_DATA", REPO.parent / "shared" / "data")) / "petab-benchmark"
DEFAULT_PROBLEMS = [
    "Boehm_JProteomeRes2014", "Bruno_JExpBot2016", "Brannmark_JBC2010", "Elowitz_Nature2000",
    "Schwen_PONE2014", "Weber_BMC2015", "Crauste_CellSystems2017", "Raimundez_PCB2020",
]


@dataclass(frozen=True)
class Candidate:
    name: str
    settings: SolverSettings


def candidates() -> list[Candidate]:
    def s(solver, rtol=1e-8, atol=1e-10, pcoeff=0.4, icoeff=0.3):
        return SolverSettings(solver=solver, rtol=rtol, atol=atol, pcoeff=pcoeff, icoeff=icoeff)

    return [
        Candidate("Kvaerno5 (default)", s(diffrax.Kvaerno5())),
        Candidate("Kvaerno4", s(diffrax.Kvaerno4())),
        Candidate("Rodas4", s(Rodas4())),
        Candidate("Rodas5P", s(Rodas5P())),
        Candidate("Rodas5P I-ctrl", s(Rodas5P(), pcoeff=0.0, icoeff=1.0)),
        Candidate("Rodas5P PID .3/.3", s(Rodas5P(), pcoeff=0.3, icoeff=0.3)),
        Candidate("Rodas5P tol 1e-6/1e-8", s(Rodas5P(), rtol=1e-6, atol=1e-8)),
    ]


def _block(x):
    return jax.tree_util.tree_map(lambda a: a.block_until_ready(), x)


def bench_problem(yaml: Path, cands: list[Candidate], repeats: int, grad: bool, ref: float | None) -> list[dict]:
    rows, runs = [], []
    for cand in cands:
        row = {"problem": yaml.parent.name, "solver": cand.name, "rtol": cand.settings.rtol,
               "atol": cand.settings.atol, "pcoeff": cand.settings.pcoeff, "icoeff": cand.settings.icoeff}
        try:
            problem = from_petab(yaml, settings=cand.settings)
            theta = jnp.asarray(problem.x_nominal)
            row["compile_s"] = problem.compile()
            llh = float(problem.jit_log_likelihood(theta))  # warm-up
            row["llh"] = llh
            row["ref_llh"] = ref if ref is not None else math.nan
            row["abs_err"] = abs(llh - ref) if ref is not None else math.nan
            row["ok"] = bool(ref is not None and math.isclose(llh, ref, rel_tol=1e-3, abs_tol=1e-3))
            fns = {"llh": lambda p=problem, th=theta: float(p.jit_log_likelihood(th))}
            if grad:
                vg = problem.value_and_grad()
                start = time.perf_counter()
                _block(vg(theta))
                row["grad_first_call_s"] = time.perf_counter() - start
                fns["grad"] = lambda vg=vg, th=theta: _block(vg(th))
            runs.append((row, fns))
        except Exception as exc:  # noqa: BLE001  (report and go on with the other candidates)
            row["error"] = f"{type(exc).__name__}: {exc}"[:200]
        rows.append(row)
    # Round-robin timing: every candidate sees the same background load.
    times: dict[int, dict[str, list[float]]] = {id(r): {k: [] for k in f} for r, f in runs}
    for _ in range(repeats):
        for row, fns in runs:
            for key, fn in fns.items():
                start = time.perf_counter()
                fn()
                times[id(row)][key].append(time.perf_counter() - start)
    for row, _ in runs:
        for key, ts in times[id(row)].items():
            row[f"{key}_ms"] = 1e3 * statistics.median(ts)
    jax.clear_caches()
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", nargs="+", default=DEFAULT_PROBLEMS, help="benchmark problem folder names")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="petab-benchmark folder")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--solvers", nargs="*", default=None, help="candidate names to run (default: all)")
    ap.add_argument("--grad", action="store_true", help="also time value_and_grad")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "solver_choice.tsv")
    args = ap.parse_args(argv)

    refs = pd.read_csv(args.data / "reference_llh.tsv", sep="\t").set_index("model")["llh"].to_dict()
    cands = [c for c in candidates() if args.solvers is None or c.name in args.solvers]
    rows = []
    for name in args.problems:
        yamls = sorted((args.data / name).glob("*.yaml"))
        if not yamls:
            print(f"{name}: no YAML file, skipped")
            continue
        print(f"== {name}", flush=True)
        new = bench_problem(yamls[0], cands, args.repeats, args.grad, refs.get(name))
        for r in new:
            print("   " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in r.items() if k not in ("problem", "rtol", "atol", "pcoeff", "icoeff")),
                  flush=True)
        rows.extend(new)
        # Write as we go: partial results survive an interrupted run.
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out) as tmp:
            pd.DataFrame(rows).to_csv(tmp, sep="\t", index=False)

    df = pd.DataFrame(rows)
    cols = [c for c in ["problem", "solver", "compile_s", "llh_ms", "grad_first_call_s", "grad_ms", "llh",
                        "ref_llh", "abs_err", "ok", "error"] if c in df]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if "llh_ms" in df:
            # Speed-up over the current default, per problem (geometric mean over problems).
            base = df[df.solver == cands[0].name].set_index("problem")["llh_ms"]
            df["speedup"] = df.apply(lambda r: base.get(r.problem, np.nan) / r.llh_ms, axis=1)
            summary = df.groupby("solver", sort=False).agg(
                geomean_speedup=("speedup", lambda s: float(np.exp(np.log(s.dropna()).mean()))),
                all_ok=("ok", "all"), median_compile_s=("compile_s", "median"))
            print("\nsummary vs", cands[0].name)
            print(summary.to_string(float_format=lambda v: f"{v:.3g}"))
    df.to_csv(args.out, sep="\t", index=False)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
