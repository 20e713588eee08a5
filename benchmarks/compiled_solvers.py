"""Compiled ODE solvers reachable from Python against celltwin's native kernels, on the same ODEs.

    make solver-peers   # once: .venv-solvers with pydiffsol, diffsol-jax, scikit-sundae, libroadrunner
    python benchmarks/compiled_solvers.py [--problems Bachmann_MSB2011 ...] [--repeats 7]

Which solver should celltwin's native engine build on (issue 23, item 3)? For each PEtab
problem whose right-hand side is autonomous and has no events (the ODEs celltwin's native
backend solves today) and for each of its simulation conditions: the states at the
measurement times at the nominal parameters, rtol 1e-8 / atol 1e-10 for every solver, and,
where the library offers one, the gradient of a fixed random weighted sum of those states
(``sum_ka w_ka x_a(t_k)``, as a log-likelihood uses them) with respect to all model
parameters, initial values depending on them included. Solvers:

* ``celltwin`` - the native backend's numba Rodas5P and discrete adjoint, called on numpy
  arrays (its host side, ``_native._Solves``: the solver's own cost), and ``celltwin-jax``,
  the same through its JAX interface (``native_time_course`` under ``jax.jit``: what a
  log-likelihood pays, callback included);
* ``diffsol-bdf``, ``diffsol-esdirk34`` - diffsol through ``pydiffsol`` (LLVM-compiled
  DiffSL, dense nalgebra matrices), gradient by its forward sensitivities and by its
  discrete adjoint (``solve_adjoint_fwd``/``_bkwd``), the faster reported; the DiffSL code is
  translated here from the model's sympy right-hand side;
* ``diffsol-jax`` - diffsol's JAX binding (the right-hand side as a JAX function it lowers to
  DiffSL, Cranelift); its gradient integrates the augmented system of ``n (1 + n_p)`` states
  and ignores initial values that depend on parameters, so it is compared with celltwin's
  gradient at fixed initial values, and skipped above ``DIFFSOL_JAX_MAX_AUGMENTED`` states;
* ``cvode`` - SUNDIALS CVODE (BDF) through ``scikit-sundae``, called back through Python
  into the compiled right-hand side and Jacobian that celltwin's native backend generates
  (scikit-sundae wraps CVODE, not CVODES: no sensitivities);
* ``roadrunner`` - libroadrunner (LLVM-compiled SBML, CVODE), the states only: the condition's
  parameters set as initial values, ``resetAll`` evaluating the initial assignments.

Each solution is checked against celltwin's (``solve_rel_diff``: largest difference at the
outputs, relative to the state, or to 1e-3 of the state's largest value where it is
smaller) and each gradient likewise (``grad_rel_diff``, relative to the largest entry), so
that the timings compare like with like. Steps: accepted steps (cvode: right-hand side
evaluations, ``nfev``). Each problem runs in a fresh process of the peers' virtualenv
(``.venv-solvers``, or ``$CELLTWIN_SOLVERS_PYTHON``; celltwin's own dependencies are
installed there too, so that all solvers are timed in one process, interleaved: every
repeat runs each solver once per condition). Times are medians over repeats, per condition,
of wall time (``*_ms``) and of the process's CPU time (``*_cpu_ms``: on a loaded machine a
call that loses its core waits a scheduler slice, which the CPU time leaves out); the
summary adds them up per problem, over the conditions a solver solved, and divides by
celltwin's over the same conditions (``*_ratio``: above 1, celltwin is faster).

Accuracy: ``solve_err`` and ``grad_err`` are the same differences against a reference at
rtol 1e-12 / atol 1e-14 (celltwin's solver; ``reference_check``: diffsol's BDF at those
tolerances against it), since at the same tolerances the solvers are not equally accurate.
``--work-precision`` (with ``--problems``): diffsol's BDF at rtol 1e-8, 1e-9 and 1e-10 against
celltwin at 1e-8, CPU time and error, to compare at equal accuracy
(``benchmarks/results/compiled_solvers_work_precision.tsv``). Results:
``benchmarks/results/compiled_solvers.tsv``; the table and the choice it led to are in
docs/benchmarks.md ("Choosing the solver: compiled peers").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # _common
os.environ.setdefault("CELLTWIN_ROW_MEMO", "0")  # every timed call solves (no answers from memory)
PEERS_PYTHON = Path(os.environ.get("CELLTWIN_SOLVERS_PYTHON", ROOT / ".venv-solvers" / "bin" / "python"))
EGFR = "egfr_kholodenko (example)"
# Autonomous, no events, no pre-equilibration, finite measurement times (Blasi's are at
# steady state; Boehm, Brannmark, Beer, Raimundez, Weber have explicit time; Smith events).
DEFAULT = [EGFR, "Bertozzi_PNAS2020", "Crauste_CellSystems2017", "Elowitz_Nature2000", "Bruno_JExpBot2016",
           "Schwen_PONE2014", "Bachmann_MSB2011", "Lucarelli_CellSystems2018"]
RTOL, ATOL = 1e-8, 1e-10
TIGHT_RTOL, TIGHT_ATOL = 1e-12, 1e-14  # the accuracy reference
STATE_FLOOR = 100 * ATOL  # differences of states below this size are compared absolutely
MAX_STEPS = 100_000
DIFFSOL_JAX_MAX_AUGMENTED = 400  # its dense augmented sensitivity system: n (1 + n_p) states
BUDGET_S = 90.0  # per problem, for the timed repeats after the first


# --- the problem, from celltwin ----------------------------------------------------------
def load_problem(name: str):
    from _common import problem_yaml

    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings

    settings = SolverSettings(backend="native", rtol=RTOL, atol=ATOL, max_steps=MAX_STEPS)
    if name == EGFR:
        from _common import EGFR_CASE as CASE

        from celltwin.twin import read_case

        yaml_path = Path(read_case(CASE).problem)
    else:
        yaml_path = problem_yaml(name)
    return from_petab(yaml_path, settings=settings), yaml_path


def sbml_path(yaml_path: Path) -> Path:
    import yaml

    content = yaml.safe_load(yaml_path.read_text())
    return yaml_path.parent / content["problems"][0]["sbml_files"][0]


def conditions(problem) -> list[dict]:
    """Per simulation condition: its id, model parameters ``p`` and sorted distinct finite
    output times ``ts`` (the measurement times)."""
    import jax.numpy as jnp

    arrays = problem.arrays
    pool = np.asarray(problem._pool(jnp.asarray(problem.x_nominal)))
    out = []
    for g in arrays.groups:
        if g.preequilibrate or g.event_order or g.steady_state_output:
            raise SystemExit(f"{problem.name}: pre-equilibration, events or steady-state outputs are not benchmarked")
        for local, ctx in enumerate(g.contexts):
            ts = np.unique(g.ts[local])
            ts = ts[np.isfinite(ts)]
            if ts[-1] <= 0.0:  # measured at the initial time only: nothing to solve
                continue
            out.append({"id": arrays.contexts[ctx][1], "p": pool[g.p_refs[local]], "ts": ts})
    return out


# --- DiffSL, from the model's sympy right-hand side -----------------------------------------
def diffsl_source(rhs: list, x0: list, states: list, params: list, values: np.ndarray) -> str:
    """DiffSL code for ``dx/dt = rhs(x, p)``, ``x(0) = x0(p)``: inputs ``p0..``, states
    ``x0..``, common subexpressions ``c0..`` (DiffSL names cannot hold underscores: they
    start indices)."""
    import sympy as sp
    from sympy.printing.str import StrPrinter

    class DiffSLPrinter(StrPrinter):
        def _print_Float(self, expr):
            return repr(float(expr))

        def _print_Integer(self, expr):
            return f"{int(expr)}.0"

        def _print_Rational(self, expr):
            return f"({int(expr.p)}.0 / {int(expr.q)}.0)"

        def _print_Pow(self, expr, rational=False):
            base = self._print(expr.base)
            if expr.exp == -1:
                return f"(1.0 / {self.parenthesize(expr.base, 1000)})"
            if expr.exp == sp.Rational(1, 2):
                return f"sqrt({base})"
            return f"pow({base}, {self._print(expr.exp)})"

        def _print_Function(self, expr):
            name = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tanh": "tanh", "Abs": "abs"}.get(
                type(expr).__name__)
            if name is None:
                raise NotImplementedError(f"no DiffSL function for {type(expr).__name__}")
            return f"{name}({', '.join(self._print(a) for a in expr.args)})"

        _print_exp = _print_log = _print_Abs = _print_Function

    names = {s: sp.Symbol(f"x{i}") for i, s in enumerate(states)} | {s: sp.Symbol(f"p{k}") for k, s in enumerate(params)}
    printer = DiffSLPrinter()
    replacements, reduced = sp.cse([e.xreplace(names) for e in rhs], symbols=sp.numbered_symbols("c"), order="none")
    lines = ["in_i { " + ", ".join(f"p{k} = {float(v)!r}" for k, v in enumerate(values)) + " }",
             "u_i {\n" + ",\n".join(f"  x{i} = {printer.doprint(e.xreplace(names))}" for i, e in enumerate(x0)) + "\n}"]
    lines += [f"{sym} {{ {printer.doprint(e)} }}" for sym, e in replacements]
    lines.append("F_i {\n" + ",\n".join(f"  {printer.doprint(e)}" for e in reduced) + "\n}")
    return "\n".join(lines) + "\n"


def jax_rhs_function(rhs: list, states: list, params: list):
    """``rhs(t, y, p)`` returning a tuple of scalars, indexing ``y`` and ``p`` first, as
    diffsol-jax's lowering to DiffSL expects."""
    import jax.numpy as jnp
    import sympy as sp
    from sympy.printing.numpy import JaxPrinter

    names = {s: sp.Symbol(f"x{i}") for i, s in enumerate(states)} | {s: sp.Symbol(f"p{k}") for k, s in enumerate(params)}
    printer = JaxPrinter()
    replacements, reduced = sp.cse([e.xreplace(names) for e in rhs], symbols=sp.numbered_symbols("c"), order="none")
    lines = ["def rhs(t, y, p):"]
    lines += [f"    x{i} = y[{i}]" for i in range(len(states))] + [f"    p{k} = p[{k}]" for k in range(len(params))]
    lines += [f"    {sym} = {printer.doprint(e)}" for sym, e in replacements]
    lines.append(f"    return ({', '.join(printer.doprint(e) for e in reduced)},)")
    namespace = {"jax": __import__("jax"), "jnp": jnp}
    exec("\n".join(lines), namespace)  # noqa: S102 - our own generated source
    return namespace["rhs"]


# --- the solvers ----------------------------------------------------------------------------
class NativeHost:
    """celltwin's native solves on numpy arrays (the host side of its JAX interface,
    ``_native._Solves``), from t = 0 with no discontinuities: the solver's own cost."""

    def __init__(self, cm, rtol: float, atol: float, max_steps: int):
        from celltwin.simulate._native import _Solves, generated

        self.solves = _Solves(generated(cm), rtol, atol, max_steps, -1.0, -1.0)

    def forward(self, p, x0, ts, keep_tape: bool = False):
        """A log-likelihood's solve is untaped; a gradient's forward pass tapes its steps."""
        return self.solves.forward(p, x0, np.zeros(()), np.asarray(ts, dtype=float), np.zeros(0), keep_tape)

    def adjoint(self, p, x0, ts, w):
        pbar, x0bar, *_ = self.solves.adjoint(p, x0, np.zeros(()), np.asarray(ts, dtype=float), np.zeros(0), w)
        return pbar, x0bar

    def steps(self, ts) -> int:
        _, record = self.solves.cache[(1, len(ts), 0)]  # keyed by (batch, output times, discontinuities)
        return int(record[2][0])


class Celltwin:
    """The native backend's host side: numba Rodas5P and its discrete adjoint on numpy arrays."""

    name = "celltwin"

    def __init__(self, ctx):
        import jax
        import jax.numpy as jnp

        start = time.perf_counter()
        self.host = NativeHost(ctx.cm, RTOL, ATOL, MAX_STEPS)
        self.setup_s = time.perf_counter() - start
        self.x0 = jax.jit(ctx.cm.x0)
        self.x0_jac = jax.jit(jax.jacobian(ctx.cm.x0))
        self.jnp = jnp

    def prepare(self, cond):
        p = cond["p"]
        cond["x0"] = np.asarray(self.x0(self.jnp.asarray(p)))
        cond["x0_jac"] = np.asarray(self.x0_jac(self.jnp.asarray(p)))  # d x0 / d p, for the chain rule

    def solve(self, cond):
        xs, status = self.host.forward(cond["p"], cond["x0"], cond["ts"])
        if status != 0:
            raise RuntimeError(f"status {int(status)}")
        return xs

    def gradient(self, cond, w):
        self.host.forward(cond["p"], cond["x0"], cond["ts"], keep_tape=True)  # the steps the adjoint reverses
        pbar, x0bar = self.host.adjoint(cond["p"], cond["x0"], cond["ts"], w)
        return pbar + cond["x0_jac"].T @ x0bar

    def steps(self, cond):
        self.host.forward(cond["p"], cond["x0"], cond["ts"], keep_tape=True)
        return self.host.steps(cond["ts"])


class CelltwinJax:
    """The same kernels through the JAX interface (jit, the FFI handler)."""

    name = "celltwin-jax"

    def __init__(self, ctx):
        self.ctx, self.fns = ctx, {}
        self.setup_s = 0.0

    def _fns(self, cond):
        import jax
        import jax.numpy as jnp

        from celltwin.simulate._native import native_time_course

        key = cond["id"]
        if key not in self.fns:
            cm, ts = self.ctx.cm, jnp.asarray(cond["ts"])

            def states(p):
                return native_time_course(cm, p, cm.x0(p), ts, rtol=RTOL, atol=ATOL, max_steps=MAX_STEPS)[0]

            self.fns[key] = (jax.jit(states), jax.jit(jax.grad(lambda p, w: jnp.sum(w * states(p)))))
        return self.fns[key]

    def solve(self, cond):
        return np.asarray(self._fns(cond)[0](cond["p"]))

    def gradient(self, cond, w):
        return np.asarray(self._fns(cond)[1](cond["p"], w))


class Diffsol:
    """pydiffsol: DiffSL compiled with LLVM, dense matrices."""

    def __init__(self, ctx, method: str, rtol: float = RTOL, atol: float = ATOL):
        import pydiffsol

        self.name = f"diffsol-{method}"
        start = time.perf_counter()
        self.ode = pydiffsol.Ode(ctx.diffsl, matrix_type=pydiffsol.nalgebra_dense,
                                 ode_solver=getattr(pydiffsol, method))
        self.ode.rtol, self.ode.atol = rtol, atol
        self.setup_s = time.perf_counter() - start
        self.grad_method = "forward"

    def solve(self, cond):
        return np.asarray(self.ode.solve_dense(cond["p"], cond["ts"]).ys).T

    def forward_gradient(self, cond, w):
        sens = self.ode.solve_fwd_sens(cond["p"], cond["ts"]).sens  # per parameter: (n, nt)
        return np.array([np.sum(s.T * w) for s in sens])

    def adjoint_gradient(self, cond, w):
        solution, checkpoint = self.ode.solve_adjoint_fwd(cond["p"], cond["ts"])
        return np.asarray(self.ode.solve_adjoint_bkwd(solution, checkpoint, np.ascontiguousarray(w.T))).ravel()

    def gradient(self, cond, w):
        return getattr(self, f"{self.grad_method}_gradient")(cond, w)

    def steps(self, cond):
        return len(self.ode.solve(cond["p"], float(cond["ts"][-1])).ts) - 1


class DiffsolJax:
    """diffsol-jax: the right-hand side as a JAX function, lowered to DiffSL (Cranelift)."""

    name = "diffsol-jax"

    def __init__(self, ctx):
        import jax
        import jax.numpy as jnp
        from diffsol_jax import ODEProblem

        self.ctx, self.fns, self.jax, self.jnp = ctx, {}, jax, jnp
        start = time.perf_counter()
        rhs = jax_rhs_function(ctx.rhs, ctx.cm.state_symbols, ctx.cm.parameter_symbols)
        p = jnp.asarray(ctx.conditions[0]["p"])
        self.problem = ODEProblem(rhs, jnp.asarray(ctx.conditions[0]["x0"]), p)  # y0 is fixed here
        self.setup_s = time.perf_counter() - start
        n = ctx.cm.n_states
        self.with_gradient = n * (1 + ctx.cm.n_parameters) <= DIFFSOL_JAX_MAX_AUGMENTED
        self.fixed_x0 = True

    def _fns(self, cond):
        jax, jnp = self.jax, self.jnp
        key = cond["id"]
        if key not in self.fns:
            ts = jnp.asarray(cond["ts"])

            def states(p):
                return self.problem.solve(p, ts, rtol=RTOL, atol=ATOL)[1]

            self.fns[key] = (jax.jit(states), jax.jit(jax.grad(lambda p, w: jnp.sum(w * states(p)))))
        return self.fns[key]

    def applies(self, cond) -> bool:
        """Its initial values are those of the first condition (fixed at construction)."""
        return bool(np.array_equal(cond["x0"], self.ctx.conditions[0]["x0"]))

    def solve(self, cond):
        return np.asarray(self._fns(cond)[0](cond["p"]))

    def gradient(self, cond, w):
        return np.asarray(self._fns(cond)[1](cond["p"], w))


class Cvode:
    """SUNDIALS CVODE (BDF, dense) via scikit-sundae, calling back into the model's compiled
    right-hand side and Jacobian (celltwin's generated functions, through ctypes)."""

    name = "cvode"

    def __init__(self, ctx):
        import ctypes

        from celltwin.simulate._native import generated

        start = time.perf_counter()
        gen = generated(ctx.cm)
        signature = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
        c_rhs, c_jac = signature(gen.functions[0]), signature(gen.functions[1])  # (x, p, out) each
        rows, cols = gen.jac_rows, gen.jac_cols
        values = np.empty(len(rows))

        def rhs(y, p, out):
            c_rhs(np.ascontiguousarray(y).ctypes.data, p.ctypes.data, out.ctypes.data)

        def dense_jac(y, p, out):  # the Jacobian's non-zeros, written into CVODE's dense matrix
            c_jac(np.ascontiguousarray(y).ctypes.data, p.ctypes.data, values.ctypes.data)
            out[:, :] = 0.0
            out[rows, cols] = values

        self.rhs, self.jac = rhs, dense_jac
        self.setup_s = time.perf_counter() - start

    def _result(self, cond):
        import sksundae

        p = np.ascontiguousarray(cond["p"], dtype=float)  # (its address goes to the C functions)
        solver = sksundae.cvode.CVODE(lambda t, y, yp: self.rhs(y, p, yp), rtol=RTOL, atol=ATOL, linsolver="dense",
                                      jacfn=lambda t, y, yp, jj: self.jac(y, p, jj), max_num_steps=MAX_STEPS)
        ts = cond["ts"]
        tspan = ts if ts[0] == 0.0 else np.concatenate([[0.0], ts])
        if len(tspan) == 2:  # two times mean a span to sksundae; ask for a midpoint, dropped below
            tspan = np.array([tspan[0], 0.5 * tspan[1], tspan[1]])
        result = solver.solve(tspan, cond["x0"])
        if not result.success:
            raise RuntimeError(result.message)
        keep = np.isin(tspan, ts)
        return result.y[keep], result.nfev

    def solve(self, cond):
        return self._result(cond)[0]

    def steps(self, cond):
        return int(self._result(cond)[1])


class RoadRunner:
    """libroadrunner: the SBML compiled with LLVM, its CVODE integrator."""

    name = "roadrunner"

    def __init__(self, ctx):
        import roadrunner

        start = time.perf_counter()
        self.rr = roadrunner.RoadRunner(str(ctx.sbml))
        self.setup_s = time.perf_counter() - start
        integrator = self.rr.integrator
        integrator.relative_tolerance, integrator.absolute_tolerance = RTOL, ATOL
        integrator.maximum_num_steps = MAX_STEPS
        species = ctx.cm.model.species  # celltwin's states are concentrations unless amount-based
        self.keys = [sid if (sid not in species or species[sid].amount_based) else f"[{sid}]"
                     for sid in ctx.cm.state_ids]
        self.settable = set(self.rr.model.getGlobalParameterIds()) | set(self.rr.model.getCompartmentIds())
        self.parameter_ids = ctx.cm.parameter_ids
        self.values: dict[str, float] = {}

    def _set(self, cond):
        """The condition's parameters as initial values (``init(id)``, only those that differ
        from the last condition's: ``RoadRunner.setValue`` of an initial value regenerates
        the model, 0.3 s each, the executable model's does not), then ``resetAll``, which
        evaluates the initial assignments that depend on them, as celltwin's ``x0(p)``."""
        for pid, value in zip(self.parameter_ids, cond["p"]):
            if pid in self.settable and self.values.get(pid) != value:
                self.rr.model.setValue(f"init({pid})", float(value))
                self.values[pid] = value
        self.rr.resetAll()

    def solve(self, cond):
        self._set(cond)
        ts = cond["ts"]
        times = ts if ts[0] == 0.0 else np.concatenate([[0.0], ts])
        out = self.rr.simulate(times=times, selections=["time", *self.keys])
        return np.asarray(out)[np.isin(times, ts), 1:]

    def steps(self, cond):
        self._set(cond)
        self.rr.integrator.variable_step_size = True
        try:
            return len(self.rr.simulate(0.0, float(cond["ts"][-1]), selections=["time"])) - 1
        finally:
            self.rr.integrator.variable_step_size = False


# --- the measurement (child process) --------------------------------------------------------------
class Context:
    def __init__(self, name: str):
        from celltwin.model import rhs_expressions

        self.problem, yaml_path = load_problem(name)
        self.cm = self.problem.compiled
        self.sbml = sbml_path(yaml_path)
        self.rhs = rhs_expressions(self.cm.model)
        self.conditions = conditions(self.problem)
        self.diffsl = diffsl_source(self.rhs, list(self.cm.x0_exprs), self.cm.state_symbols,
                                    self.cm.parameter_symbols, self.conditions[0]["p"])


def rel_diff_states(xs: np.ndarray, ref: np.ndarray) -> float:
    """Largest difference relative to the state, or to 1e-3 of its largest value, or to
    ``STATE_FLOOR`` where those are smaller (states that stay near zero)."""
    peak = np.max(np.abs(ref), axis=0, keepdims=True)
    scale = np.maximum(np.maximum(np.abs(ref), 1e-3 * peak), STATE_FLOOR)
    return float(np.max(np.abs(xs - ref) / scale))


def rel_diff_vector(g: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(g - ref)) / max(float(np.max(np.abs(ref))), 1e-300))


def timed_ms(fn) -> float:
    """Wall time of ``fn()`` in ms (NaN if it fails: it worked once before timing)."""
    return timed_wall_cpu_ms(fn)[0]


def timed_wall_cpu_ms(fn) -> tuple[float, float]:
    """Wall and CPU time (this process, all threads) of ``fn()`` in ms; NaN if it fails.

    On a loaded machine a call of a few ms that loses its core waits a scheduler slice
    (several ms) and its wall time doubles; its CPU time does not."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        fn()
    except Exception:  # noqa: BLE001
        return float("nan"), float("nan")
    return 1e3 * (time.perf_counter() - wall), 1e3 * (time.process_time() - cpu)


def measure(name: str, repeats: int) -> list[dict]:
    """The rows of one problem: per condition and solver (runs in the child process)."""
    ctx = Context(name)
    reference = Celltwin(ctx)
    for cond in ctx.conditions:
        reference.prepare(cond)
    builders = {"celltwin": lambda: reference, "celltwin-jax": lambda: CelltwinJax(ctx),
                "diffsol-bdf": lambda: Diffsol(ctx, "bdf"), "diffsol-esdirk34": lambda: Diffsol(ctx, "esdirk34"),
                "diffsol-jax": lambda: DiffsolJax(ctx), "cvode": lambda: Cvode(ctx), "roadrunner": lambda: RoadRunner(ctx)}
    solvers, failed = [], {}
    for solver_name, build in builders.items():
        try:
            solvers.append(build())
        except Exception as err:  # noqa: BLE001 - reported in the table
            failed[solver_name] = f"setup: {type(err).__name__}: {err}"
            print(f"{name}: {solver_name} setup failed: {err}", file=sys.stderr)

    # The accuracy reference: celltwin's solver at rtol 1e-12 / atol 1e-14, checked against
    # diffsol's BDF at the same tolerances (reference_check).
    tight = NativeHost(ctx.cm, TIGHT_RTOL, TIGHT_ATOL, 10 * MAX_STEPS)
    tight_diffsol = Diffsol(ctx, "bdf", TIGHT_RTOL, TIGHT_ATOL)
    rng = np.random.default_rng(0)
    rows, timers = [], []
    for cond in ctx.conditions:
        ref_xs = reference.solve(cond)
        # Weights scaled by each state's size, so that every state matters to the gradient.
        w = rng.standard_normal(ref_xs.shape) / np.maximum(np.max(np.abs(ref_xs), axis=0), 1e-12)
        ref_grad = reference.gradient(cond, w)
        pbar, _ = reference.host.adjoint(cond["p"], cond["x0"], cond["ts"], w)  # initial values held fixed
        exact_xs, _ = tight.forward(cond["p"], cond["x0"], cond["ts"])
        exact_pbar, exact_x0bar = tight.adjoint(cond["p"], cond["x0"], cond["ts"], w)
        exact = {False: exact_pbar + cond["x0_jac"].T @ exact_x0bar, True: exact_pbar}  # by fixed_x0
        try:
            reference_check = rel_diff_states(tight_diffsol.solve(cond), exact_xs)
        except Exception:  # noqa: BLE001 - the check is missing, the reference stays
            reference_check = float("nan")
        cm = ctx.cm
        for solver in solvers:
            row = {"problem": name, "condition": cond["id"], "n_states": cm.n_states, "n_parameters": cm.n_parameters,
                   "n_times": len(cond["ts"]), "solver": solver.name, "setup_s": solver.setup_s,
                   "reference_check": reference_check, "status": "ok"}
            rows.append(row)
            if hasattr(solver, "applies") and not solver.applies(cond):
                row["status"] = "initial values differ from the first condition's"
                continue
            try:
                xs = solver.solve(cond)
                row["solve_rel_diff"] = rel_diff_states(xs, ref_xs)
                row["solve_err"] = rel_diff_states(xs, exact_xs)
                if hasattr(solver, "steps"):
                    row["steps"] = solver.steps(cond)
            except Exception as err:  # noqa: BLE001 - reported in the table
                row["status"] = f"solve: {type(err).__name__}: {err}"
                continue
            timers.append((row, "solve_ms", lambda s=solver, c=cond: s.solve(c)))
            if not hasattr(solver, "gradient") or not getattr(solver, "with_gradient", True):
                continue
            fixed_x0 = getattr(solver, "fixed_x0", False)
            target = pbar if fixed_x0 else ref_grad
            try:
                if isinstance(solver, Diffsol):  # both methods, the faster that works is timed
                    failures = []
                    for method in ("forward", "adjoint"):
                        fn = getattr(solver, f"{method}_gradient")
                        try:
                            g = fn(cond, w)
                        except Exception as err:  # noqa: BLE001 - reported in the table
                            failures.append(f"{method}: {type(err).__name__}: {err}")
                            continue
                        row[f"{method}_grad_rel_diff"] = rel_diff_vector(g, target)
                        row[f"{method}_grad_err"] = rel_diff_vector(g, exact[fixed_x0])
                        row[f"{method}_grad_ms"] = statistics.median(
                            timed_ms(lambda f=fn, c=cond, w=w: f(c, w)) for _ in range(3))
                    working = [m for m in ("forward", "adjoint") if f"{m}_grad_ms" in row]
                    if failures:
                        row["status"] = "gradient " + "; ".join(failures)
                    if not working:
                        continue
                    row["grad_method"] = min(working, key=lambda m: row[f"{m}_grad_ms"])
                    row["grad_rel_diff"] = row[f"{row['grad_method']}_grad_rel_diff"]
                    row["grad_err"] = row[f"{row['grad_method']}_grad_err"]
                    timers.append((row, "grad_ms",
                                   lambda s=solver, c=cond, m=row["grad_method"], w=w: getattr(s, f"{m}_gradient")(c, w)))
                    continue
                g = solver.gradient(cond, w)
                row["grad_rel_diff"] = rel_diff_vector(g, target)
                row["grad_err"] = rel_diff_vector(g, exact[fixed_x0])
                row["grad_method"] = {"celltwin": "adjoint", "celltwin-jax": "adjoint"}.get(solver.name, "forward")
            except Exception as err:  # noqa: BLE001 - reported in the table
                row["status"] = f"gradient: {type(err).__name__}: {err}"
                continue
            timers.append((row, "grad_ms", lambda s=solver, c=cond, w=w: s.gradient(c, w)))
    for solver_name, why in failed.items():
        rows.append({"problem": name, "solver": solver_name, "status": why})

    load = os.getloadavg()[0]
    times: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(timers))}
    start = time.perf_counter()
    for r in range(repeats):  # interleaved: each repeat runs every solver on every condition
        for i, (_, _, fn) in enumerate(timers):
            times[i].append(timed_wall_cpu_ms(fn))
        if r >= 1 and time.perf_counter() - start > BUDGET_S:
            break
    for i, (row, key, _) in enumerate(timers):
        wall, cpu = np.array(times[i]).T
        row[key] = float(np.nanmedian(wall)) if np.isfinite(wall).any() else float("nan")
        row[key.replace("_ms", "_cpu_ms")] = float(np.nanmedian(cpu)) if np.isfinite(cpu).any() else float("nan")
        row["repeats"] = len(times[i])
        row["load_avg_1min"] = round(load, 2)
    return rows


def work_precision(name: str, repeats: int, max_conditions: int = 6) -> list[dict]:
    """diffsol's BDF at rtol 1e-8, 1e-9, 1e-10 (atol 100x smaller) against celltwin at 1e-8:
    CPU time of solving the first ``max_conditions`` conditions (median of interleaved
    repeats) and the largest error against the tight reference (child process)."""
    ctx = Context(name)
    reference = Celltwin(ctx)
    conds = ctx.conditions[:max_conditions]
    for cond in conds:
        reference.prepare(cond)
    tight = NativeHost(ctx.cm, TIGHT_RTOL, TIGHT_ATOL, 10 * MAX_STEPS)
    exact = [tight.forward(c["p"], c["x0"], c["ts"])[0] for c in conds]
    solvers = {("celltwin", RTOL): reference}
    solvers |= {("diffsol-bdf", rtol): Diffsol(ctx, "bdf", rtol, 1e-2 * rtol) for rtol in (1e-8, 1e-9, 1e-10)}
    times = {key: [] for key in solvers}
    for _ in range(repeats):
        for key, solver in solvers.items():
            times[key].append(timed_wall_cpu_ms(lambda s=solver: [s.solve(c) for c in conds])[1])
    base = statistics.median(times[("celltwin", RTOL)])
    return [{"problem": name, "conditions": len(conds), "solver": solver_name, "rtol": rtol,
             "solve_cpu_ms": statistics.median(times[(solver_name, rtol)]),
             "cpu_ratio": statistics.median(times[(solver_name, rtol)]) / base,
             "solve_err": max(rel_diff_states(solver.solve(c), e) for c, e in zip(conds, exact)),
             "load_avg_1min": round(os.getloadavg()[0], 2)}
            for (solver_name, rtol), solver in solvers.items()]


# --- the driver -------------------------------------------------------------------------------
COLUMNS = ["problem", "condition", "n_states", "n_parameters", "n_times", "solver", "setup_s", "steps", "solve_ms",
           "grad_ms", "solve_cpu_ms", "grad_cpu_ms", "grad_method", "forward_grad_ms", "adjoint_grad_ms", "solve_rel_diff", "grad_rel_diff",
           "solve_err", "grad_err", "reference_check", "repeats", "load_avg_1min", "status"]


def run_problem(name: str, repeats: int, timeout: float, extra: tuple[str, ...] = ()) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [str(PEERS_PYTHON), __file__, "--child", name, "--repeats", str(repeats), *extra]
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"problem": name, "status": f"timeout after {timeout:.0f} s"}]
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("[")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return [{"problem": name, "status": "error: " + " | ".join(tail)}]
    return json.loads(lines[-1])


def summary(table):
    """Per problem and solver: times summed over the conditions it solved, and their ratio to
    celltwin's summed over the same conditions (above 1: celltwin faster)."""
    import pandas as pd

    def complete_sum(v):  # NaN unless every condition has a value
        return v.sum(min_count=len(v))

    times = ["solve_ms", "grad_ms", "solve_cpu_ms", "grad_cpu_ms"]
    base = table[table["solver"] == "celltwin"].set_index(["problem", "condition"])[times]
    solved = table[table["solve_ms"].notna()].join(base, on=["problem", "condition"], rsuffix="_celltwin")
    sums = {t: (t, complete_sum if t.startswith("grad") else "sum") for t in times}
    sums |= {f"celltwin_{t}": (f"{t}_celltwin", "sum") for t in times}
    total = solved.groupby(["problem", "solver"], sort=False).agg(
        conditions=("condition", "size"), **sums,
        steps=("steps", complete_sum), solve_err=("solve_err", "max"), grad_err=("grad_err", "max"),
        solve_rel_diff=("solve_rel_diff", "max"), grad_rel_diff=("grad_rel_diff", "max"),
        grad_method=("grad_method", lambda v: ",".join(sorted(set(v.dropna())))))
    for t in times:
        total[t.replace("_ms", "_ratio")] = total[t] / total[f"celltwin_{t}"]
    total = total.drop(columns=[f"celltwin_{t}" for t in times])
    return pd.DataFrame(total).reset_index()


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compiled_solvers.tsv")
    parser.add_argument("--work-precision", action="store_true",
                        help="instead: diffsol's BDF at tighter tolerances against celltwin at rtol 1e-8 "
                             "(writes compiled_solvers_work_precision.tsv)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rows = (work_precision if args.work_precision else measure)(args.child, args.repeats)
        print(json.dumps(rows, default=float))
        return
    if not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON}: not found; run `make solver-peers` first")
    if args.work_precision:
        rows = [row for name in args.problems
                for row in run_problem(name, args.repeats, args.timeout, ("--work-precision",))]
        table = pd.DataFrame(rows)
        out = args.out.with_name("compiled_solvers_work_precision.tsv")
        table.to_csv(out, sep="\t", index=False, float_format="%.4g")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        print(f"wrote {out}")
        return
    rows = []
    for name in args.problems:
        print(f"{name} ... (load {os.getloadavg()[0]:.2f})", flush=True)
        rows.extend(run_problem(name, args.repeats, args.timeout))
        table = pd.DataFrame(rows).reindex(columns=COLUMNS)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(table[table["status"] != "ok"][["problem", "condition", "solver", "status"]].drop_duplicates(
        ["problem", "solver", "status"]).to_string(index=False))
    print()
    print(summary(table).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
