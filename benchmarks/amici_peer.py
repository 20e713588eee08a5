"""Benchmark AMICI on a PEtab (v1) problem, as a peer for celltwin.

Run with the interpreter of the separate AMICI virtualenv; this script must
not import celltwin, and celltwin must not depend on AMICI::

    .venv-amici/bin/python benchmarks/amici_peer.py PROBLEM.yaml \
        --repeats 20 --batch 64 --model-dir .amici-models --json

The model is compiled into ``MODEL_DIR/<problem folder name>`` and reused on
later runs. Measured, with solver rtol = atol = 1e-8:

* ``llh``: log-likelihood at the nominal parameters of the PEtab table;
* ``llh_ms``: median time of one llh evaluation (no sensitivities);
* ``llh_grad_ms``: median time of llh + gradient, for the faster of forward
  and adjoint sensitivities (``grad_method``; both are reported too);
* ``batch_*_ms_per_eval``: time to evaluate ``--batch`` perturbed parameter
  vectors in one ``run_simulations`` call (AMICI's OpenMP threading over all
  condition x parameter-set simulations), divided by the batch size.

Also reported: the forward and adjoint gradient timings and their largest
relative difference, failed simulations in the batch, the thread count, the
step limit of the timed runs and the load average when timing started.

Exactly one JSON object (``--json``) or one ``key: value`` block is written to
stdout; errors are reported in its ``status`` field.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

RTOL = 1e-8
ATOL = 1e-8
#: Step limit for the reference llh at the nominal parameters.
MAX_STEPS = 10**6
#: Step limit (AMICI's default) for all timed runs, if the nominal simulation
#: succeeds with it. A large limit does not change the cost of successful
#: forward solves, but AMICI also uses it as the checkpoint interval of the
#: adjoint method and preallocates storage for it (1e6: Boehm's adjoint
#: gradient 0.6 s instead of 20 ms), and perturbed parameter sets that blow up
#: (Crauste) would each run 1e6 steps.
TIMING_MAX_STEPS = 10**4
#: Standard deviation of the batch perturbation, on parameter scale
#: (relative for linear-scale parameters).
PERTURBATION_SD = 0.01
#: Forward and adjoint gradients are taken to agree below this relative error.
GRADIENT_RTOL = 1e-2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("problem", type=Path, help="PEtab v1 problem yaml")
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed repetitions of single evaluations")
    parser.add_argument("--batch", type=int, default=64,
                        help="number of parameter vectors in the batch")
    parser.add_argument("--batch-repeats", type=int, default=3,
                        help="timed repetitions of the batch evaluation")
    parser.add_argument("--model-dir", type=Path, default=Path(".amici-models"),
                        help="root folder of the compiled models (cache)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="OpenMP threads for run_simulations")
    parser.add_argument("--methods", default="forward,adjoint",
                        help="sensitivity methods to time (comma-separated); "
                             "forward is impractical for very large models")
    parser.add_argument("--time-budget", type=float, default=120.0,
                        help="stop repeating a measurement after this many "
                             "seconds (at least one timed run is kept)")
    parser.add_argument("--accuracy", action="store_true",
                        help="instead of timings: the llh at AMICI's default tolerances, at this "
                             "script's (rtol = atol = 1e-8) and at tight ones (ACCURACY_TIGHT)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of key: value lines")
    return parser.parse_args(argv)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[int]:
    """Send everything written to fd 1 (also by C code) to stderr.

    Yields a duplicate of the original stdout for the final report.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield saved
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def median_ms(fn: Callable[[], object], repeats: int,
              budget_s: float) -> tuple[float, object]:
    """Median wall time of ``fn()`` in ms, after one untimed warm-up call.

    Repetition stops early once ``budget_s`` seconds have been spent.
    Returns the median and the result of the warm-up call.
    """
    result = fn()
    times = []
    start = time.perf_counter()
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return 1e3 * statistics.median(times), result


def import_model(problem, name: str, model_root: Path):
    """Import and compile ``problem`` into ``model_root/name``, or reuse it.

    Returns ``(model, compile_seconds, cached)``.
    """
    import amici
    import amici.sim.sundials  # noqa: F401 - compiled model modules need it
    from amici.importers.petab.v1 import import_petab_problem

    # swig is installed next to this interpreter; model compilation needs it.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("AMICI_PARALLEL_COMPILE", str(os.cpu_count() or 1))

    output_dir = (model_root / name).absolute()
    t0 = time.perf_counter()
    try:
        amici.import_model_module(name, output_dir)
        cached = True
    except Exception:  # noqa: BLE001  (no compiled module yet, whatever AMICI raises: compile it)
        cached = False
    model = import_petab_problem(problem, output_dir, model_name=name,
                                 compile_=not cached)
    return model, time.perf_counter() - t0, cached


def make_solver(model, max_steps: int, sensitivity_method=None):
    """Solver with the reference tolerances; first-order sensitivities if a
    ``SensitivityMethod`` is given."""
    from amici.sim.sundials import SensitivityOrder

    solver = model.create_solver()
    solver.set_relative_tolerance(RTOL)
    solver.set_absolute_tolerance(ATOL)
    solver.set_max_steps(max_steps)
    if sensitivity_method is not None:
        solver.set_sensitivity_order(SensitivityOrder.first)
        solver.set_sensitivity_method(sensitivity_method)
    return solver


def nominal_parameters(problem) -> dict[str, float]:
    """Nominal values of the estimated parameters, on parameter scale."""
    values = problem.get_x_nominal(free=True, fixed=False, scaled=True)
    return dict(zip(problem.x_free_ids, values, strict=True))


def perturbed_parameters(problem, n: int, seed: int = 0) -> list[dict]:
    """``n`` random perturbations of the nominal parameters (parameter scale).

    Log-scale parameters get additive, linear-scale ones relative noise; the
    result is clipped to the (scaled) bounds.
    """
    ids = problem.x_free_ids
    x0 = np.array(list(nominal_parameters(problem).values()))
    lb = np.asarray(problem.get_lb(free=True, fixed=False, scaled=True))
    ub = np.asarray(problem.get_ub(free=True, fixed=False, scaled=True))
    linear = np.array([problem.parameter_df.loc[i, "parameterScale"] == "lin"
                       for i in ids])
    noise = PERTURBATION_SD * np.random.default_rng(seed).standard_normal(
        (n, len(ids)))
    xs = np.where(linear, x0 * (1 + noise), x0 + noise)
    return [dict(zip(ids, np.clip(x, lb, ub), strict=True)) for x in xs]


class Evaluator:
    """Log-likelihood (and gradient) of a PEtab problem with AMICI.

    The ExpData objects and the parameter mapping are built once; an
    evaluation fills in the parameters and simulates all conditions in one
    ``run_simulations`` call.
    """

    def __init__(self, problem, model, threads: int):
        from amici.sim.sundials.petab.v1 import create_edatas

        # Not re-exported by AMICI 1.0, but what its own PEtab code uses.
        from amici.sim.sundials.petab.v1._parameter_mapping import (
            create_parameter_mapping,
        )

        self.problem = problem
        self.model = model
        self.threads = threads
        conditions = problem.get_simulation_conditions_from_measurement_df()
        self.edatas = create_edatas(amici_model=model, petab_problem=problem,
                                    simulation_conditions=conditions)
        self.mapping = create_parameter_mapping(
            petab_problem=problem, simulation_conditions=conditions,
            scaled_parameters=True, amici_model=model)

    def copies(self, n: int) -> list[list]:
        """``n`` independent copies of the ExpData list (for batches)."""
        from amici.sim.sundials import ExpData

        return [[ExpData(e) for e in self.edatas] for _ in range(n)]

    def batch(self, solver, parameter_sets: list[dict],
              edata_sets: list[list]) -> list[tuple[float, np.ndarray | None]]:
        """Evaluate several parameter sets in one threaded simulation call.

        Returns ``(llh, gradient)`` per set; the gradient (on parameter scale,
        ordered as ``problem.x_free_ids``) is None without sensitivities, and
        llh is nan if a simulation failed.
        """
        from amici.sim.sundials import AMICI_SUCCESS, run_simulations
        from amici.sim.sundials.petab.v1 import fill_in_parameters

        for params, edatas in zip(parameter_sets, edata_sets, strict=True):
            fill_in_parameters(edatas=edatas, problem_parameters=params,
                               scaled_parameters=True,
                               parameter_mapping=self.mapping,
                               amici_model=self.model)
        flat = [e for edatas in edata_sets for e in edatas]
        rdatas = run_simulations(self.model, solver, flat, failfast=False,
                                 num_threads=min(self.threads, len(flat)))
        n = len(self.edatas)
        results = []
        for k, edatas in enumerate(edata_sets):
            chunk = rdatas[k * n:(k + 1) * n]
            if any(r.status != AMICI_SUCCESS for r in chunk):
                results.append((float("nan"), None))
                continue
            llh = float(sum(r.llh for r in chunk))
            results.append((llh, self._gradient(edatas, chunk)))
        return results

    def __call__(self, solver, params: dict) -> tuple[float, np.ndarray | None]:
        """``(llh, gradient)`` at one parameter set; see :meth:`batch`."""
        return self.batch(solver, [params], [self.edatas])[0]

    def _gradient(self, edatas, rdatas) -> np.ndarray | None:
        """Aggregate per-condition sensitivities to the PEtab parameters."""
        if rdatas[0].sllh is None:
            return None
        grad = dict.fromkeys(self.problem.x_free_ids, 0.0)
        model_ids = self.model.get_free_parameter_ids()
        for mapping, edata, rdata in zip(self.mapping, edatas, rdatas,
                                         strict=True):
            for k, value in enumerate(rdata.sllh):
                index = edata.plist[k] if edata.plist else self.model.plist(k)
                grad[mapping.map_sim_var[model_ids[index]]] += value
        return np.array(list(grad.values()))


def time_gradients(evaluator: Evaluator, params: dict, max_steps: int,
                   args) -> dict:
    """Time llh + gradient with the methods in ``args.methods``.

    A method that fails, or whose gradient disagrees with the other's
    (relative error above ``GRADIENT_RTOL``; forward is then trusted), is
    not eligible as the faster method.
    """
    from amici.sim.sundials import SensitivityMethod

    timings = {"forward": None, "adjoint": None}
    grads = {}
    for name in args.methods.split(","):
        method = getattr(SensitivityMethod, name)
        solver = make_solver(evaluator.model, max_steps, method)
        try:
            timings[name], (llh, grad) = median_ms(
                lambda s=solver: evaluator(s, params),
                args.repeats, args.time_budget)
            if not np.isfinite(llh) or grad is None:
                raise RuntimeError("simulation failed")
            grads[name] = grad
        except Exception as err:  # noqa: BLE001 - reported, not fatal
            timings[name] = None
            print(f"{name} sensitivities failed: {err}", file=sys.stderr)

    rel_diff = None
    if len(grads) == 2:
        scale = np.maximum(np.abs(grads["forward"]), 1.0)
        rel_diff = float(np.max(np.abs(grads["adjoint"] - grads["forward"])
                                / scale))
    eligible = {k: v for k, v in timings.items() if v is not None}
    if rel_diff is not None and rel_diff > GRADIENT_RTOL:
        eligible.pop("adjoint")
    best = min(eligible, key=eligible.get) if eligible else None
    return {
        "llh_grad_ms": eligible.get(best),
        "grad_method": best,
        "llh_grad_forward_ms": timings["forward"],
        "llh_grad_adjoint_ms": timings["adjoint"],
        "grad_fwd_adj_max_rel_diff": rel_diff,
    }


def time_batch(evaluator: Evaluator, solver, args) -> tuple[float, int]:
    """Per-evaluation time (ms) of a batch, and the number of failures."""
    params = perturbed_parameters(evaluator.problem, args.batch)
    edata_sets = evaluator.copies(args.batch)
    total_ms, results = median_ms(
        lambda: evaluator.batch(solver, params, edata_sets),
        args.batch_repeats, args.time_budget)
    failures = sum(not np.isfinite(llh) for llh, _ in results)
    return total_ms / args.batch, failures


#: The tight tolerances of ``--accuracy`` (rtol, atol).
ACCURACY_TIGHT = (1e-12, 1e-14)


def accuracy(args, report: dict) -> None:
    """Fill ``report`` with the llh at AMICI's defaults (``create_solver()`` as it comes),
    at RTOL/ATOL and at ACCURACY_TIGHT, all at the nominal parameters."""
    import amici
    import petab.v1 as petab

    report["amici_version"] = amici.__version__
    problem = petab.Problem.from_yaml(args.problem)
    model, report["compile_s"], report["compile_cached"] = import_model(problem, report["problem"], args.model_dir)
    evaluator = Evaluator(problem, model, 1)
    nominal = nominal_parameters(problem)
    default = model.create_solver()
    report["default_rtol"] = default.get_relative_tolerance()
    report["default_atol"] = default.get_absolute_tolerance()
    report["llh_default"] = evaluator(default, nominal)[0]
    report["llh"] = evaluator(make_solver(model, MAX_STEPS), nominal)[0]
    tight = make_solver(model, 10 * MAX_STEPS)
    tight.set_relative_tolerance(ACCURACY_TIGHT[0])
    tight.set_absolute_tolerance(ACCURACY_TIGHT[1])
    report["llh_tight"] = evaluator(tight, nominal)[0]


def benchmark(args, report: dict) -> None:
    """Fill ``report`` (in place, so partial results survive errors)."""
    import amici
    import petab.v1 as petab
    from amici.sim.sundials import SensitivityMethod, compiled_with_openmp

    report["amici_version"] = amici.__version__
    report["openmp"] = bool(compiled_with_openmp())
    report["threads"] = args.threads

    problem = petab.Problem.from_yaml(args.problem)
    report["n_parameters"] = len(problem.x_free_ids)
    report["n_measurements"] = len(problem.measurement_df)

    model, compile_s, cached = import_model(problem, report["problem"],
                                            args.model_dir)
    report["compile_s"] = round(compile_s, 3)
    report["compile_cached"] = cached

    evaluator = Evaluator(problem, model, args.threads)
    report["n_conditions"] = len(evaluator.edatas)
    nominal = nominal_parameters(problem)

    llh, _ = evaluator(make_solver(model, MAX_STEPS), nominal)
    report["llh"] = llh
    if not np.isfinite(llh):
        raise RuntimeError("simulation at the nominal parameters failed")

    # Other processes on the machine distort the timings: record the load.
    report["load_avg_1min"] = round(os.getloadavg()[0], 2)
    max_steps = TIMING_MAX_STEPS
    solver = make_solver(model, max_steps)
    if not np.isfinite(evaluator(solver, nominal)[0]):
        max_steps = MAX_STEPS
        solver = make_solver(model, max_steps)
    report["timing_max_steps"] = max_steps
    report["llh_ms"], _ = median_ms(lambda: evaluator(solver, nominal),
                                    args.repeats, args.time_budget)
    report.update(time_gradients(evaluator, nominal, max_steps, args))

    report["batch_llh_ms_per_eval"], report["batch_failures"] = time_batch(
        evaluator, solver, args)
    if report["grad_method"] is not None:
        grad_solver = make_solver(
            model, max_steps, getattr(SensitivityMethod, report["grad_method"]))
        report["batch_llh_grad_ms_per_eval"], _ = time_batch(
            evaluator, grad_solver, args)


def empty_report(problem_yaml: Path) -> dict:
    """Report skeleton with every key present."""
    keys = ["n_parameters", "n_conditions", "n_measurements", "llh",
            "compile_s", "compile_cached", "llh_ms", "llh_grad_ms",
            "grad_method", "llh_grad_forward_ms", "llh_grad_adjoint_ms",
            "grad_fwd_adj_max_rel_diff", "batch_llh_ms_per_eval",
            "batch_llh_grad_ms_per_eval", "batch_failures", "threads",
            "openmp", "timing_max_steps", "load_avg_1min", "amici_version"]
    report = {"problem": problem_yaml.resolve().parent.name}
    report.update(dict.fromkeys(keys))
    report["status"] = "ok"
    return report


class Terminated(BaseException):
    """SIGTERM (e.g. from ``timeout``), raised once the running C call
    returns; not an ``Exception``, so that only :func:`main` catches it and
    still prints the partial report."""


def raise_on_sigterm(signum, frame) -> None:
    """Signal handler raising :class:`Terminated`."""
    raise Terminated("terminated by SIGTERM")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always print a report."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    report = empty_report(args.problem)
    with stdout_to_stderr() as stdout_fd:
        try:
            (accuracy if args.accuracy else benchmark)(args, report)
        except (Exception, Terminated) as err:  # noqa: BLE001  (reported in the output)
            traceback.print_exc()
            report["status"] = f"error: {type(err).__name__}: {err}"
        if args.json:
            text = json.dumps(report) + "\n"
        else:
            text = "".join(f"{k}: {v}\n" for k, v in report.items())
        os.write(stdout_fd, text.encode())
    return 0 if report["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
