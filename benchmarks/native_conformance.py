"""Conformance of a solver backend on the PEtab v1 test suite and the PEtab benchmark collection.

For every test-suite case (``<shared data>/petab-test-suite/v1.0.0/sbml/NNNN``, reference:
the case's ``_NNNN_solution.yaml``) and every benchmark problem (``<shared data>/petab-benchmark``,
reference: ``reference_llh.tsv``), built with ``SolverSettings(backend=BACKEND)`` at the
default tolerances:

* llh at the nominal parameters vs the reference: ``isclose(rtol=1e-3, atol=1e-3)``;
* ``problem.value_and_grad()`` vs central finite differences on the parameter scale:
  ``grad_rel_err = ||g - g_fd||_inf / max(||g_fd||_inf, tiny)``, ok when <= 1e-4.

The finite differences must not fail a correct gradient through their own error, so:

* they difference a copy of the problem solved at tight tolerances (``--fd-rtol``, and
  tight steady-state tolerances): at the default tolerances the llh carries solver noise of
  ~1e-8 relative, which a small step turns into a large error in the quotient;
* the step is ``h_i = 1e-3 * max(1, |theta_i|)`` and the central differences at ``h`` and
  ``h/2`` are Richardson-extrapolated (error O(h^4)); their difference is reported as
  ``fd_err_est`` (relative, as grad_rel_err), an upper bound on the reference's own error;
* large problems are checked along random unit directions instead of every parameter
  (``--directions``; Chen and Smith: ``--slow-directions 4``), where the error is
  ``max_k |g.u_k - fd_k| / max_k |fd_k|``;
* the point is the nominal parameters plus 0.1 N(0, 1) on the parameter scale (seed 1),
  clipped to the bounds (``--point nominal`` for the nominal values): at the nominal values,
  near the optimum, the gradient is so small that any comparison measures solver noise.
  Where a solve fails there or at a finite-difference step, other directions and smaller
  perturbations are tried (column ``grad_point``, see ``PERTURBED_POINTS``).

Each problem runs in a fresh subprocess with a time limit (``--timeout``; Chen_MSB2009 and
Smith_BMCSystBiol2013 get ``--slow-timeout``, default 600 s), so a hang or a crash is one row
(``timeout`` / ``error: ...``), not the end of the run. A model the backend refuses is
``unsupported: <the UnsupportedFeatureError's message>``. Rows are printed as they finish
and written to ``--out`` (default ``benchmarks/results/native_conformance.tsv``, or
``native_conformance_<backend>.tsv`` for another backend).

    python benchmarks/native_conformance.py [--backend native|diffrax|auto] [--problems 0001 Boehm_JProteomeRes2014]
        [--suite-only | --benchmark-only] [--timeout 900]

The native backend compiles each model on first use (kept in
``~/.cache/celltwin/native``); ``seconds`` includes it on a cold cache.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CELLTWIN_SHARED_DATA", ROOT.parent / "shared" / "data"))
SUITE = SHARED / "petab-test-suite" / "v1.0.0" / "sbml"
BENCH = SHARED / "petab-benchmark"

LLH_RTOL = LLH_ATOL = 1e-3
GRAD_RTOL = 1e-4
# Problems whose single evaluation takes seconds (Chen: 500 states, Smith: 109).
SLOW_PROBLEMS = {"Chen_MSB2009", "Smith_BMCSystBiol2013"}
COLUMNS = ["problem", "kind", "engine", "n_states", "n_parameters", "status", "llh", "reference", "llh_ok",
           "grad_rel_err", "grad_ok", "grad_worst", "fd_err_est", "grad_point", "seconds"]


# --- the problems -------------------------------------------------------------------------
def suite_cases() -> list[str]:
    return sorted(p.name for p in SUITE.iterdir() if p.is_dir()) if SUITE.is_dir() else []


def benchmark_problems() -> list[str]:
    return sorted(benchmark_references())


def benchmark_references() -> dict[str, float]:
    path = BENCH / "reference_llh.tsv"
    if not path.is_file():
        return {}
    import pandas as pd

    df = pd.read_csv(path, sep="\t")
    return dict(zip(df["model"].astype(str), df["llh"].astype(float)))


def locate(name: str) -> tuple[str, Path, float]:
    """``(kind, PEtab YAML, reference llh)`` of a suite case or benchmark problem."""
    folder = SUITE / name
    if folder.is_dir():
        import yaml

        solution = yaml.safe_load((folder / f"_{name}_solution.yaml").read_text())
        return "suite", folder / f"_{name}.yaml", float(solution["llh"])
    folder = BENCH / name
    yamls = sorted(folder.glob("*.yaml"))
    if not yamls:
        raise SystemExit(f"{name}: neither a suite case in {SUITE} nor a benchmark problem in {BENCH}")
    return "benchmark", yamls[0], benchmark_references()[name]


# --- one problem (runs in the child process) -----------------------------------------------
def finite_differences(f, theta, directions, steps):
    """Derivatives of ``f`` at ``theta`` along the rows of ``directions``: central differences
    at ``h`` and ``h/2`` (``h`` from ``steps``), Richardson-extrapolated.

    Returns ``(derivatives, error estimates)``, an estimate being the extrapolation's
    correction (the error of the h/2 difference, which bounds that of the extrapolated
    value), or ``None`` as soon as one llh is not finite (a solve failed near ``theta``)."""
    import numpy as np

    deriv, err = np.empty(len(directions)), np.empty(len(directions))
    for i, (u, h) in enumerate(zip(directions, steps)):
        d = []
        for hh in (h, h / 2):
            up, down = float(f(theta + hh * u)), float(f(theta - hh * u))
            if not (np.isfinite(up) and np.isfinite(down)):
                return None
            d.append((up - down) / (2 * hh))
        deriv[i] = (4 * d[1] - d[0]) / 3
        err[i] = abs(deriv[i] - d[1])
    return deriv, err


def fd_directions(theta, n_directions: int, step: float = 1e-3):
    """``(directions, steps, names)``: the coordinate axes with ``h_i = step * max(1, |theta_i|)``
    (``n_directions`` 0), or that many random unit vectors (seed 0) with ``h = step``."""
    import numpy as np

    if n_directions == 0:
        return np.eye(theta.size), step * np.maximum(1.0, np.abs(theta)), None
    u = np.random.default_rng(0).normal(size=(n_directions, theta.size))
    return u / np.linalg.norm(u, axis=1, keepdims=True), np.full(n_directions, step), \
        [f"direction {k}" for k in range(n_directions)]


# Points tried in turn, (seed, perturbation size): the first where every llh the check needs is
# finite is used. Crauste_CellSystems2017's nominal values lie at the edge of a region where
# the solve fails (both backends), as does the perturbation along seed 1.
PERTURBED_POINTS = ((1, 0.1), (2, 0.1), (3, 0.1), (1, 0.01), (2, 0.01), (3, 0.01), (0, 0.0))


def gradient_check(problem, tight, point: str, n_directions: int):
    """``(point label, derivatives by value_and_grad, by finite differences, their error
    estimates, names of the directions)`` at the first usable point (see the module
    docstring), or ``None`` where there is none."""
    import jax.numpy as jnp
    import numpy as np

    nominal = np.asarray(problem.x_nominal, dtype=float)
    for seed, size in PERTURBED_POINTS if point == "perturbed" else ((0, 0.0),):
        direction = np.random.default_rng(seed).normal(size=nominal.shape)
        theta = np.clip(nominal + size * direction, problem.lower, problem.upper)
        value, grad = problem.value_and_grad()(jnp.asarray(theta))
        if not np.isfinite(float(value)):
            continue
        directions, steps, names = fd_directions(theta, n_directions)
        fd = finite_differences(tight.jit_log_likelihood, theta, directions, steps)
        if fd is not None:
            label = f"seed {seed} x {size:g}" if size else "nominal"
            return label, directions @ np.asarray(grad, dtype=float), *fd, names or problem.parameter_ids
    return None


def check_problem(name: str, backend: str, point: str, fd_rtol: float, fd_atol: float, n_directions: int) -> dict:
    import jax.numpy as jnp
    import numpy as np

    from celltwin.errors import UnsupportedFeatureError
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings

    kind, path, reference = locate(name)
    row: dict = {"problem": name, "kind": kind, "reference": reference}
    try:
        problem = from_petab(path, settings=SolverSettings(backend=backend))
        row["n_states"], row["n_parameters"] = problem.compiled.n_states, problem.n_parameters
        row["engine"] = problem.engine  # what --backend auto chose
        llh = float(problem.jit_log_likelihood(jnp.asarray(problem.x_nominal)))
    except UnsupportedFeatureError as exc:  # at construction or at the first trace
        return {**row, "status": f"unsupported: {exc}"}
    row["llh"] = llh
    row["llh_ok"] = math.isclose(llh, reference, rel_tol=LLH_RTOL, abs_tol=LLH_ATOL)
    print(json.dumps({**row, "status": "(in the gradient check)"}), flush=True)  # kept if time runs out

    tight = from_petab(path, settings=SolverSettings(
        backend=backend, rtol=fd_rtol, atol=fd_atol, max_steps=100_000,
        steady_state_rtol=1e-12, steady_state_atol=1e-14))
    check = gradient_check(problem, tight, point, n_directions)
    if check is None:
        return {**row, "status": "ok (no point with a finite llh at all finite-difference steps)"}
    row["grad_point"], grad, fd, fd_err, names = check
    if n_directions:
        row["grad_point"] += f", {n_directions} directions"
    scale = max(float(np.max(np.abs(fd), initial=0.0)), 1e-12)
    row["grad_rel_err"] = float(np.max(np.abs(grad - fd), initial=0.0)) / scale
    row["fd_err_est"] = float(np.max(fd_err, initial=0.0)) / scale
    row["grad_ok"] = bool(np.isfinite(grad).all() and row["grad_rel_err"] <= GRAD_RTOL)
    if grad.size:  # the component with the largest error relative to its own size
        component = np.abs(grad - fd) / np.maximum(np.abs(fd), 1e-12)
        worst = int(np.argmax(component))
        row["grad_worst"] = f"{names[worst]}:{component[worst]:.1e}"
    row["status"] = "ok"
    return row


# --- the driver ------------------------------------------------------------------------------
def last_json(output) -> dict | None:
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    lines = [ln for ln in (output or "").splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def run_child(name: str, args, timeout: float, n_directions: int) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--backend", args.backend, "--point", args.point,
           "--fd-rtol", str(args.fd_rtol), "--fd-atol", str(args.fd_atol), "--directions", str(n_directions)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:  # the llh part of the row, if it got that far
        row = last_json(exc.stdout) or {"problem": name}
        row["status"] = f"timeout after {timeout:.0f} s {row.get('status', '')}".strip()
    else:
        row = last_json(out.stdout) or {"problem": name}
        if out.returncode != 0 or "status" not in row:  # a crash: its last words, and how far it got
            tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or [f"exit status {out.returncode}"]
            row["status"] = f"error: {tail[-1]} {row.get('status', '')}".strip()
    row["seconds"] = time.perf_counter() - start
    return row


def fmt(key: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if key == "seconds":
            return f"{value:.1f}"
        return f"{value:.6g}" if key in ("llh", "reference") else f"{value:.2e}"
    return str(value).replace("\t", " ").replace("\n", " ")


def write_table(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w") as fh:  # renamed into place: a killed run leaves the last complete table
        fh.write("\t".join(COLUMNS) + "\n")
        fh.writelines("\t".join(fmt(k, row.get(k)) for k in COLUMNS) + "\n" for row in rows)
    os.replace(tmp, out)


def read_table(path: Path) -> list[dict]:
    """Rows of a table :func:`write_table` wrote (booleans parsed, empty cells left out)."""
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    parse = {"True": True, "False": False}
    return [{k: parse.get(v, v) for k, v in zip(header, line.split("\t")) if v} for line in lines[1:] if line]


def summary(rows: list[dict]) -> str:
    """Counts per kind, and the problems that did not run grouped by reason."""
    lines = []
    for kind in ("suite", "benchmark"):
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        llh = sum(bool(r.get("llh_ok")) for r in group)
        grad = sum(bool(r.get("grad_ok")) for r in group)
        lines.append(f"{kind}: {len(group)} problems, llh ok {llh}, gradient ok {grad}")
        reasons: dict[str, list[str]] = {}
        for r in group:
            if r["status"] != "ok":  # messages start with the model file's path: drop it to group them
                reason = re.sub(r"^([\w ]+): \S+\.(xml|yaml|tsv): ", r"\1: ", r["status"])
                reasons.setdefault(reason, []).append(r["problem"])
        lines += [f"  {reason}: {', '.join(names)}" for reason, names in reasons.items()]
    return "\n".join(lines)


def kind_of(name: str) -> str:
    return "suite" if (SUITE / name).is_dir() else "benchmark"


def backend_exists(backend: str) -> bool:
    from celltwin.simulate import SolverSettings

    try:
        SolverSettings(backend=backend)
    except ValueError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="native", choices=["native", "diffrax", "auto"])
    parser.add_argument("--problems", nargs="*", help="suite case numbers (0001) and/or benchmark problem names")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--suite-only", action="store_true")
    group.add_argument("--benchmark-only", action="store_true")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per problem")
    parser.add_argument("--slow-timeout", type=float, default=600,
                        help=f"seconds for {', '.join(sorted(SLOW_PROBLEMS))}")
    parser.add_argument("--point", choices=["perturbed", "nominal"], default="perturbed",
                        help="where the gradient is checked")
    parser.add_argument("--directions", type=int, default=0,
                        help="check the gradient along this many random directions (0: every parameter)")
    parser.add_argument("--slow-directions", type=int, default=4,
                        help=f"--directions for {', '.join(sorted(SLOW_PROBLEMS))}")
    parser.add_argument("--fd-rtol", type=float, default=1e-10, help="solver rtol of the finite differences")
    parser.add_argument("--fd-atol", type=float, default=1e-12, help="solver atol of the finite differences")
    parser.add_argument("--out", type=Path, help="TSV written (default: benchmarks/results/native_conformance.tsv "
                                                 "for the native backend, native_conformance_<backend>.tsv otherwise)")
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of --out for the problems not run now (re-run a few)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))  # this checkout's celltwin, as in the child processes
    if args.child:
        print(json.dumps(check_problem(args.child, args.backend, args.point, args.fd_rtol, args.fd_atol,
                                       args.directions)))
        return
    if args.out is None:
        suffix = "" if args.backend == "native" else f"_{args.backend}"
        args.out = ROOT / "benchmarks" / "results" / f"native_conformance{suffix}.tsv"
    if not backend_exists(args.backend):
        raise SystemExit(f"SolverSettings does not accept backend={args.backend!r} in this version")
    if args.problems:
        names = args.problems
    else:
        names = ([] if args.benchmark_only else suite_cases()) + ([] if args.suite_only else benchmark_problems())
    if not names:
        raise SystemExit(f"no problems found under {SHARED} (set CELLTWIN_SHARED_DATA)")
    print("\t".join(COLUMNS), flush=True)
    kept = read_table(args.out) if args.update else []
    rows = [r for r in kept if r["problem"] not in names]
    for name in names:
        slow = name in SLOW_PROBLEMS
        row = run_child(name, args, args.slow_timeout if slow else args.timeout,
                        args.slow_directions if slow else args.directions)
        row.setdefault("kind", kind_of(name))
        rows.append(row)
        if kept:  # in the table's order
            order = [r["problem"] for r in kept]
            rows.sort(key=lambda r: order.index(r["problem"]) if r["problem"] in order else len(order))
        print("\t".join(fmt(k, row.get(k)) for k in COLUMNS), flush=True)
        write_table(rows, args.out)
    print(f"\nbackend {args.backend}\n{summary(rows)}\nwrote {args.out}")


if __name__ == "__main__":
    main()
