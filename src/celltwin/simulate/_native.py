"""Time courses with a compiled Rodas5P and its discrete adjoint (``SolverSettings(backend="native")``).

Why this exists: with diffrax, a Rodas5P step of a 23-state model costs ~50 us on a CPU,
nearly all of it the fixed cost of launching XLA's kernels on tiny arrays; the arithmetic
is a few microseconds (``benchmarks/egfr_step_cost.py``). Sampling a 50-parameter
posterior needs ~10^5 gradients, so that overhead decides whether it takes minutes or
hours. Here the right-hand side, its Jacobian and the derivatives the adjoint needs are
generated from the model's sympy expressions as scalar code and compiled with numba,
together with the solver loop, so a step costs its arithmetic.
``benchmarks/native_backend.py`` measures both backends on the same problems.

Written here rather than taken from a library by measurement (``benchmarks/compiled_solvers.py``,
docs/benchmarks.md): against diffsol (pydiffsol), SUNDIALS CVODE (scikit-sundae) and
libroadrunner on 8 PEtab problems, these kernels' gradients were 1.6-6x faster than
diffsol's and more accurate (no peer reachable from Python gives CVODES-like adjoints);
diffsol's BDF was 1.5-2.6x faster on forward-only solves of models above ~20 states at
equal accuracy, measured before forward solves stopped writing the tape.

The method is the one :class:`~celltwin.simulate.Rodas5P` implements (same tableau, same
``u``-form stage equations, same error norm and controller defaults), with two
differences: steps end exactly on the output times (no dense output), and the
gradient is the *discrete adjoint* of the accepted steps: reverse-mode differentiation of
the computed solution with the step sizes held fixed (their dependence on the parameters
is the one term left out, of the order of the tolerances). One step's reverse pass needs
``J(z_i)^T r`` at every stage input ``z_i``, ``(df/dp)^T r`` and the derivative of
``sum_ab M_ab J_ab(y0, p)`` in ``y0`` and ``p`` (the Jacobian's own dependence on the
state, a Hessian contraction): all three are generated symbolically.

Explicit time enters as one more state (``t' = 1``), so the method stays the autonomous
one and the Jacobian carries ``df/dt``. Discontinuities of the right-hand side in time
(``jump_ts``) end a step just before and start the next just after, as diffrax's
``jump_ts`` do; events are applied between solves by the caller
(:func:`celltwin.simulate._solve._native_time_course`; events triggered by the state by a
compiled search for the crossing, :mod:`celltwin.simulate._native_events`); a steady state is a solve that
stops at the first step where ``rms(f) < atol + rtol rms(x)``. Besides ``p`` and ``x0``
the reverse pass gives the derivatives in the start time (``-lambda(t0) . f(t0, x0)``), the
output times (``xbar_k . f(t_k, x_k)``) and the discontinuities (``lambda . (f(tau-) -
f(tau+))``), so that event times and switch times that depend on parameters are
differentiated too.

In JAX the solve is a :func:`jax.custom_vjp` whose two halves are host calls (through an
XLA FFI handler, :mod:`celltwin.simulate._host_call`); batched
calls (``vmap`` over conditions, chains or parameter sets) arrive as one call and run in
parallel over the batch on one thread per core, which is how a sampler's chains use both cores
of a small machine. Only reverse-mode derivatives exist (no ``jvp``/``jacfwd``).

The model's functions are generated as C and compiled by the system's C compiler (as numba
``cfunc``s where none is found), with, in C, two more pieces written out for the model's
pattern: the sparse LU's factorisation and solves where they are small enough
(``_native_sparse.generated_lu``) and the reverse pass's outer product on the Jacobian's
non-zeros (``jac_outer``). The solver kernels (``_native_kernels.py``) take them as
function pointers, so they are compiled once for all models. Both are kept in
``~/.cache/celltwin/native`` (or ``$CELLTWIN_NATIVE_CACHE``), named by the hash of their
source: the kernels compile once per installation (~20-30 s), a new model in about a
second, and a later process loads both.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import functools
import hashlib
import importlib.util
import itertools
import math
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from sympy.printing.c import C99CodePrinter
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.pycode import PythonCodePrinter

from ..errors import UnsupportedFeatureError
from ..model import TIME, CompiledModel, rhs_expressions
from ._build import c_compiler, cache_folder
from ._host_call import host_call, register
from . import _native_prebuild, _native_sparse
from ._native_sparse import LinearAlgebra, linear_algebra
from ._row_memo import RowMemo

try:  # numba is a dependency, but keep import errors readable where it is missing
    import numba
except ImportError:  # pragma: no cover - numba is in the package's dependencies
    numba = None  # type: ignore[assignment]  # absent only where the dependency is broken


# --- code generation ---------------------------------------------------------------------
class _Printer(PythonCodePrinter):
    """Python source numba compiles: ``math`` functions, float literals."""

    def _print_Integer(self, expr):
        return f"{int(expr)}.0"

    def _print_Rational(self, expr):
        return f"({int(expr.p)}.0/{int(expr.q)}.0)"

    def _print__LogOfBase(self, expr):
        x = self._print(expr.args[0])
        return f"(math.log({x}) if ({x}) != 0.0 else 0.0)"

    def _print_Heaviside(self, expr):  # the derivative of Max, Min and Abs
        x = self._print(expr.args[0])
        return f"(1.0 if ({x}) > 0 else (0.0 if ({x}) < 0 else 0.5))"


class _LogOfBase(sp.Function):
    """``log(x)`` where it multiplies ``x**y`` in ``d(x**y)/dy``: 0 at ``x = 0``, where
    ``x**y log(x)`` tends to 0 (as JAX's derivative of ``pow`` takes it) instead of 0 * -inf."""


def _diff(e: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """``de/dx`` as automatic differentiation of the same function would give it at every
    point: Dirac deltas of discontinuities (zero almost everywhere) dropped; ``d(u**y)/du``
    as ``y u**(y-1)``, not sympy's ``y u**y / u`` (0/0 at ``u = 0``); and the ``log(u)`` of
    ``d(u**y)/dy`` zero at ``u = 0``.

    Sums, products and integer powers are differentiated here by their rules, the other
    parts by sympy (:func:`_diff_general`), parts without ``x`` not at all. Why: sympy's
    ``diff`` goes through its general derivative machinery and assumption queries at every
    node, ~1-3 ms per call even on ``k*A*B``; Chen 2009's 19000 derivatives of rate laws such
    as ``cyt*(k1*A*B - k2*C)`` were most of its cold start.
    """
    if not e.has(x):
        return sp.Integer(0)
    if e == x:
        return sp.Integer(1)
    if e.is_Add:
        return sp.Add(*(_diff(a, x) for a in e.args))
    if e.is_Mul:
        args = e.args
        return sp.Add(*(sp.Mul(_diff(a, x), *args[:i], *args[i + 1:]) for i, a in enumerate(args) if a.has(x)))
    if e.is_Pow and e.exp.is_Integer:
        return e.exp * e.base ** (e.exp - 1) * _diff(e.base, x)
    return _diff_general(e, x)


def _diff_general(e: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """:func:`_diff` of an expression that is not a sum, product or integer power, by sympy."""
    powers = [a for a in e.atoms(sp.Pow) if not a.exp.is_Number and x in a.free_symbols]
    if powers:  # the chain rule through a placeholder per power u**y, differentiated by hand
        marks = {a: sp.Dummy() for a in powers}
        marked = e.xreplace(marks)
        d = sp.diff(marked, x)
        for a, mark in marks.items():
            if mark in marked.free_symbols:  # not nested inside another marked power
                u, y = a.base, a.exp
                da = y * u ** (y - 1) * _diff(u, x) + a * _LogOfBase(u) * _diff(y, x)
                d += sp.diff(marked, mark) * da
        d = d.xreplace({m: a for a, m in marks.items()})
    else:
        d = sp.diff(e, x)
    return d.replace(lambda a: isinstance(a, sp.DiracDelta), lambda a: sp.Integer(0)) if d.has(sp.DiracDelta) else d


class _CPrinter(C99CodePrinter):
    """C the model's functions compile from (with ``math.h``)."""

    def _print__LogOfBase(self, expr):
        x = self._print(expr.args[0])
        return f"(({x}) != 0.0 ? log({x}) : 0.0)"

    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        return f"(({x}) > 0 ? 1.0 : (({x}) < 0 ? 0.0 : 0.5))"

    def _print_Pow(self, expr):
        """Small integer powers (the derivatives of rate laws: ``(K + x)^-2``) as products:
        gcc calls ``pow`` for them without ``-ffast-math`` (EGFR's f_vjp 3 calls, jac_vjp 8;
        as products f_vjp took 167 ns instead of 226, jac_vjp 365 instead of 483)."""
        base, exponent = expr.args
        if exponent.is_Integer and 2 <= abs(int(exponent)) <= 4:
            product = "*".join([f"({self._print(base)})"] * abs(int(exponent)))
            return f"({product})" if exponent > 0 else f"(1.0/({product}))"
        return super()._print_Pow(expr)


# Outputs and terms per generated C function: gcc's optimiser slows down far more than
# linearly on long straight-line functions (Chen 2009's f_vjp: 7000 lines in 31 s at -O1 as
# one function; its one piece of 64 outputs with 4500 lines after elimination, a state that
# enters most reactions, took 11.7 s of 19 s). Larger functions are split into pieces of at
# most this many outputs and terms of their sums (at least one output each), each with its
# own common-subexpression elimination and in its own translation unit, so that the pieces
# also compile in parallel.
C_OUTPUTS_PER_FUNCTION = 64
C_TERMS_PER_FUNCTION = 512
# Pieces are compiled together up to this many lines per unit (each run of gcc costs ~20 ms).
C_LINES_PER_UNIT = 1000
# From this many nodes in the right-hand side's expression trees on, the solver kernels
# compile in a second process while the model's code is generated (_native_prebuild):
# generation takes ~0.7 ms per node (Chen 2009: 39 000 nodes, ~27 s), 5000 nodes ~3.5 s.
PREBUILD_MIN_NODES = 5000


def _terms(e: sp.Expr) -> int:
    return len(e.args) if e.is_Add else 1


def _c_units(name: str, args: list[str], unpack: list[tuple[str, str]], outputs: list[tuple[str, sp.Expr]],
             accumulate_prefix: str | None = None) -> list[str]:
    """:func:`_source` in C, as translation units: the function itself, or its pieces (see
    :data:`C_OUTPUTS_PER_FUNCTION`) and the function that calls them in turn."""
    chunks: list[list[tuple[str, sp.Expr]]] = [[]]
    terms = 0
    for output in outputs:
        size = _terms(output[1])
        if chunks[-1] and (len(chunks[-1]) == C_OUTPUTS_PER_FUNCTION or terms + size > C_TERMS_PER_FUNCTION):
            chunks.append([])
            terms = 0
        chunks[-1].append(output)
        terms += size
    if len(chunks) == 1:
        return [_source(name, args, unpack, outputs, accumulate_prefix, language="c")]
    units = [""]
    for k, chunk in enumerate(chunks):
        used = set().union(*(e.free_symbols for _, e in chunk))
        bindings = [(sym, src) for sym, src in unpack if sp.Symbol(sym) in used]
        piece = _source(f"{name}_{k}", args, bindings, chunk, accumulate_prefix, language="c")
        if units[-1].count("\n") + piece.count("\n") > C_LINES_PER_UNIT:
            units.append("")
        units[-1] += piece + "\n\n"
    signature = ", ".join(f"double *{a}" for a in args)
    return units + [_c_caller(name, signature, args, [f"{name}_{k}" for k in range(len(chunks))])]


def _c_caller(name: str, signature: str, args: list[str], pieces: list[str]) -> str:
    """The C function ``name(signature)`` that calls the functions ``pieces`` (of the same
    signature, declared here) in turn with ``args``."""
    call = ", ".join(args)
    return "\n".join([*(f"void {piece}({signature});" for piece in pieces), "",
                      f"void {name}({signature}) {{", *(f"    {piece}({call});" for piece in pieces), "}"])


def _c_statement_units(name: str, args: list[str], statements: list[str], prologue: str = "",
                       epilogue: str = "") -> list[str]:
    """A C function ``name(*args)`` (each a ``double *restrict``) of ``statements`` run in
    turn, as translation units: pieces of at most ``C_LINES_PER_UNIT`` statements, each
    with ``prologue`` and ``epilogue``, and the function that calls them (as
    :func:`_c_units`; gcc is slow on long straight-line functions)."""
    signature = ", ".join(f"double *restrict {a}" for a in args)
    pieces = [statements[k:k + C_LINES_PER_UNIT] for k in range(0, len(statements), C_LINES_PER_UNIT)] or [[]]
    names = [name] if len(pieces) == 1 else [f"{name}_{k}" for k in range(len(pieces))]
    units = ["\n".join([f"void {piece_name}({signature}) {{", *(f"    {line}" for line in (prologue, *piece, epilogue)
                                                              if line), "}"])
             for piece_name, piece in zip(names, pieces)]
    if len(pieces) > 1:
        units.append(_c_caller(name, signature, args, names))
    return units


def _source(name: str, args: list[str], unpack: list[tuple[str, str]], outputs: list[tuple[str, sp.Expr]],
            accumulate_prefix: str | None = None, language: str = "python") -> str:
    """A function ``name(*args)`` (each a ``double *``) in Python for numba or in C, that
    writes each ``(target, expr)`` of ``outputs`` (``target`` an indexing expression such
    as ``out[3]``), after common-subexpression elimination; ``unpack`` binds symbol names to
    input entries first. Targets starting with ``accumulate_prefix`` are added to, the
    others set."""
    c = language == "c"
    # order "none": the terms as they are, not sorted for print (sympy's default; 12 s of a
    # profiled Chen 2009 cold start, within the noise of an unprofiled one).
    printer = (_CPrinter({"order": "none"}) if c else
               _Printer({"fully_qualified_modules": True, "allow_unknown_functions": False, "order": "none"}))
    bind = "    const double {} = {};" if c else "    {} = {}"
    end = ";" if c else ""
    lines = [f"void {name}({', '.join(f'double *{a}' for a in args)}) {{" if c else f"def {name}({', '.join(args)}):"]
    lines += [bind.format(sym, src) for sym, src in unpack]
    exprs = [e for _, e in outputs]
    try:
        if exprs:
            replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_c"), order="none")
            lines += [bind.format(sym, printer.doprint(e)) for sym, e in replacements]
            for (target, _), e in zip(outputs, reduced):
                op = "+=" if accumulate_prefix and target.startswith(accumulate_prefix) else "="
                lines.append(f"    {target} {op} {printer.doprint(e)}{end}")
    except PrintMethodNotImplementedError as exc:
        raise UnsupportedFeatureError(f"the native backend cannot compile this model's expressions: {exc}") from None
    if c:
        lines.append("}")
    elif len(lines) == 1 + len(unpack):
        lines.append("    pass")
    return "\n".join(lines)


def _tree_text(exprs: list[sp.Expr]) -> list[str]:
    """The expression trees as text, one line per node in pre-order: its type and number of
    arguments, or an atom (symbols by name, floats by their exact binary value). Arguments
    in their stored order: printing the right-hand side for its hash took 0.4 s of Chen
    2009's warm start (sorted for print 1-2 s), this 0.06 s."""
    out: list[str] = []

    def walk(e: sp.Basic) -> None:
        if e.is_Atom:
            out.append(f"F{e._mpf_!r}" if e.is_Float else f"S{e.name}" if e.is_Symbol else f"{type(e).__name__} {e}")
            return
        out.append(f"{type(e).__name__} {len(e.args)}")
        for a in e.args:
            walk(a)

    for e in exprs:
        walk(e)
    return out


def _address(library, name: str) -> int:
    """The address of the compiled C function ``name`` in ``library``, as the kernels call it."""
    # c_void_p.value is None only for a NULL pointer; an exported symbol's address is not NULL.
    return ctypes.cast(getattr(library, name), ctypes.c_void_p).value  # type: ignore[return-value]


def _lu_names(la: LinearAlgebra) -> list[str]:
    """The generated LU's functions in a model's C library (see :func:`generated_lu`), if
    it has them: a sparse LU small enough."""
    return ["lu_factor", "lu_solve", "lu_solve_t"] if _native_sparse.use_generated(la) else []


def _lu_units(la: LinearAlgebra, head: str) -> list[str]:
    """The C translation units of the generated LU of ``la`` (``_native_sparse.generated_lu``)."""
    return [head + unit for name, function in _native_sparse.generated_lu(la).items()
            for unit in _c_statement_units(name, *function)]


def generated_lu_library(la: LinearAlgebra):
    """The generated LU of ``la`` alone, compiled into the cache folder (for tests and
    benchmarks; a model's library has its own): the library and the addresses of
    ``lu_factor``, ``lu_solve`` and ``lu_solve_t``."""
    compiler = c_compiler()
    if compiler is None:
        raise UnsupportedFeatureError("the generated LU needs a C compiler")
    units = _lu_units(la, "#include <math.h>\n\n")
    digest = hashlib.sha256("\n".join([compiler, *units]).encode()).hexdigest()[:20]
    library = _compile_c(units, compiler, cache_folder() / f"celltwin_lu_{digest}.so")
    return library, [_address(library, name) for name in ("lu_factor", "lu_solve", "lu_solve_t")]


def _compile_c(sources: list[str], compiler: str, library: Path):
    """Compile the translation units ``sources`` into the shared library ``library`` (in
    the cache folder; reused when present) and load it. The units compile in parallel, one
    process per core."""
    folder = library.parent
    digest = library.stem
    if not library.exists():
        stem = folder / f".{digest}.{os.getpid()}.{threading.get_ident()}"
        c_files = [stem.with_name(f"{stem.name}.{k}.c") for k in range(len(sources))]
        objects = [c.with_suffix(".o") for c in c_files]
        tmp = stem.with_name(stem.name + ".so")
        try:
            for c_file, text in zip(c_files, sources):
                c_file.write_text(text)
            # -O1: Smith 2013's 7600 generated lines compile in ~2 s (numba: ~80 s); -O2
            # took 30 % longer for no measurable gain per step.
            # The longest units first, so that no core is left with one at the end.
            longest_first = sorted(range(len(sources)), key=lambda k: -len(sources[k]))
            with concurrent.futures.ThreadPoolExecutor(max_workers=_threads()) as pool:
                done = list(pool.map(lambda k: subprocess.run(
                    [compiler, "-O1", "-fPIC", "-c", "-o", str(objects[k]), str(c_files[k])], capture_output=True,
                    text=True), longest_first))
            done.append(subprocess.run([compiler, "-shared", "-o", str(tmp), *map(str, objects), "-lm"],
                                       capture_output=True, text=True) if all(d.returncode == 0 for d in done)
                        else done[0])
            failed = [d for d in done if d.returncode != 0]
            if failed:
                raise UnsupportedFeatureError(f"the native backend could not compile this model with {compiler}: "
                                              f"{failed[0].stderr.strip()[-500:]}")
            os.replace(tmp, library)  # atomic: concurrent processes see a whole file
        finally:
            for path in (*c_files, *objects, tmp):
                path.unlink(missing_ok=True)
    return ctypes.CDLL(str(library))


def _load_module(source: str):
    """Import ``source`` as a module from a file named by its hash in the cache folder
    (``$CELLTWIN_NATIVE_CACHE`` or ``~/.cache/celltwin/native``, checked to be this user's
    alone; see :func:`~celltwin._config.private_cache_dir`), where numba keeps its
    compiled code for the next process."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    name = f"celltwin_native_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    folder = cache_folder()
    path = folder / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: concurrent processes see a whole file
    # A path ending in .py always gets a spec with a source loader (None is for unknown suffixes).
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # before running it: numba's cache records the module by name
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except BaseException:
        del sys.modules[name]
        raise
    return module


class _Generated:
    """The model's functions as compiled scalar code (see the module docstring)."""

    def __init__(self, cm: CompiledModel):
        if numba is None:
            raise UnsupportedFeatureError("the native backend needs numba (pip install numba)")
        model_f = rhs_expressions(cm.model)
        n_ode, n_p = cm.n_states, cm.n_parameters
        # Explicit time becomes one more state, t' = 1, after the model's: the system is then
        # autonomous, the Jacobian carries df/dt, and Rodas5P integrates t exactly.
        self.time_state = any(TIME in e.free_symbols for e in model_f)
        # The triggers of events fired by the state, g(x, p, t) (time as an argument: a
        # trigger may use it where the right-hand side does not).
        model_triggers = [ev.trigger for ev in cm.events if ev.trigger is not None]
        self.n_triggers = len(model_triggers)
        bound = {*cm.state_symbols, *cm.parameter_symbols, TIME}
        stray = set().union(*(e.free_symbols for e in model_f + model_triggers)) - bound
        if stray:  # only numbered names may reach the generated source
            raise UnsupportedFeatureError(f"the native backend cannot compile a right-hand side with the "
                                          f"unbound symbol(s) {', '.join(sorted(map(str, stray)))}")
        n = n_ode + int(self.time_state)
        self.n_states, self.n_ode, self.n_parameters = n, n_ode, n_p
        names = ("rhs", "jac", "f_vjp", "jac_vjp", "trigger")
        n_args = {"rhs": 3, "jac": 3, "f_vjp": 5, "jac_vjp": 5, "trigger": 4}
        compiler = c_compiler()
        self.compiler = compiler  # None: numba compiles the model's functions (no C compiler)
        # What the functions compute: a hash of the right-hand side itself (with the order of
        # the states and parameters, which number the generated code's variables) and of this
        # generator (it names the compiled library and the solves' host functions).
        tree = _tree_text(model_f)
        self.digest = hashlib.sha256("\n".join([
            str(compiler), _generator_version(), str(C_OUTPUTS_PER_FUNCTION), str(C_TERMS_PER_FUNCTION),
            str(_native_sparse.SPARSE_MIN_STATES), str(_native_sparse.SPARSE_MAX_FILL),  # (the LU is cached too)
            str(_native_sparse.GENERATED_MAX_OPS),
            *map(str, cm.state_symbols), "parameters", *map(str, cm.parameter_symbols), *tree,
            "triggers", *_tree_text(model_triggers)]).encode()).hexdigest()[:20]
        if compiler is not None:
            # A later process skips differentiation and code generation (seconds to a minute
            # for large models): the library and the Jacobian's pattern are cached.
            library_path = cache_folder() / f"celltwin_model_{self.digest}.so"
            pattern_path = library_path.with_suffix(".npz")
            if library_path.exists() and pattern_path.exists():
                with np.load(pattern_path) as pattern:
                    self.jac_rows, self.jac_cols = pattern["rows"], pattern["cols"]
                    # the LU's storage too: choosing the sparse LU's ordering took Chen 2009
                    # 0.4 s of its warm start
                    la = LinearAlgebra(**{f: pattern[f"la_{f}"] for f in LinearAlgebra._fields})
                la = la._replace(sparse=int(la.sparse), n=int(la.n), w_size=int(la.w_size))
                library = ctypes.CDLL(str(library_path))
                self._bind(library, [_address(library, name) for name in [*names, "jac_outer", *_lu_names(la)]])
                self.jacobian_nnz = len(self.jac_rows)
                self._use(la)
                return
        # Generating a large model's code takes seconds to a minute: on a new installation the
        # solver kernels compile meanwhile in another process. Chen 2009's cold start, 2
        # cores, with the C units below: 77-89 s -> 47-50 s. A small model's takes less than
        # the other process needs to start (~3 s: importing JAX and numba), and it waits.
        _kernels()  # (their module file written before the other process reads it)
        self._kernels_job = _native_prebuild.start() if len(tree) >= PREBUILD_MIN_NODES else None
        xs = [sp.Symbol(f"_x{i}") for i in range(n)]
        ps = [sp.Symbol(f"_p{k}") for k in range(n_p)]
        subs = dict(zip(cm.state_symbols, xs)) | dict(zip(cm.parameter_symbols, ps))
        if self.time_state:
            subs[TIME] = xs[-1]
        f = [e.xreplace(subs) for e in model_f] + ([sp.Integer(1)] if self.time_state else [])
        t_sym = sp.Symbol("_t")
        triggers = [g.xreplace(subs | {TIME: t_sym}) for g in model_triggers]
        unpack_x = [(str(s), f"x[{i}]") for i, s in enumerate(xs)]
        unpack_p = [(str(s), f"p[{k}]") for k, s in enumerate(ps)]
        index = {x: i for i, x in enumerate(xs)}
        jac = {}
        for a in range(n):  # only the states f[a] contains (sympy's diff is slow on big models)
            for b in sorted(index[x] for x in f[a].free_symbols if x in index):
                d = _diff(f[a], xs[b])
                if d != 0:
                    jac[(a, b)] = d
        self.jacobian_nnz = len(jac)

        self.jac_rows = np.array([a for a, _ in jac], dtype=np.int64)
        self.jac_cols = np.array([b for _, b in jac], dtype=np.int64)
        xp = unpack_x + unpack_p
        # The reverse pass of F = f(x, p): out_x = J^T lam (set), out_p += (df/dp)^T lam.
        lam = [sp.Symbol(f"_l{a}") for a in range(n)]
        columns: list[list[sp.Expr]] = [[] for _ in range(n)]
        for (a, b), e in jac.items():
            columns[b].append(lam[a] * e)
        vjp = [(f"out_x[{b}]", sp.Add(*terms)) for b, terms in enumerate(columns)]
        by_parameter: dict[int, list[sp.Expr]] = {}
        p_index = {q: k for k, q in enumerate(ps)}
        for a in range(n):
            # every symbol sorted is a key of p_index (the intersection), so get never gives None
            for q in sorted(f[a].free_symbols & p_index.keys(), key=p_index.get):  # type: ignore[arg-type]
                by_parameter.setdefault(p_index[q], []).append(lam[a] * _diff(f[a], q))
        vjp += [(f"out_p[{k}]", sp.Add(*terms)) for k, terms in sorted(by_parameter.items())]
        # d/d(x, p) of sum_q m_q J_{rows[q], cols[q]}(x, p), accumulated into out_x and out_p.
        # Term by term: each Jacobian entry is differentiated only in the symbols it contains.
        msym = [sp.Symbol(f"_m{q}") for q in range(len(jac))]
        target = {x: f"out_x[{i}]" for i, x in enumerate(xs)} | {q: f"out_p[{k}]" for k, q in enumerate(ps)}
        terms: dict[str, list[sp.Expr]] = {}
        for m, e in zip(msym, jac.values()):
            for v in sorted(e.free_symbols & target.keys(), key=str):
                d = _diff(e, v)
                if d != 0:
                    terms.setdefault(target[v], []).append(m * d)
        # name -> (arguments, input bindings, outputs, prefix of the outputs added to)
        self.specs = {
            "rhs": (["x", "p", "out"], xp, [(f"out[{a}]", e) for a, e in enumerate(f)], None),
            "jac": (["x", "p", "out"], xp, [(f"out[{q}]", e) for q, e in enumerate(jac.values())], None),
            "f_vjp": (["x", "p", "lam", "out_x", "out_p"], xp + [(str(s), f"lam[{a}]") for a, s in enumerate(lam)],
                      vjp, "out_p"),
            "jac_vjp": (["x", "p", "m", "out_x", "out_p"], xp + [(str(s), f"m[{q}]") for q, s in enumerate(msym)],
                        [(t, sp.Add(*ts)) for t, ts in terms.items()], "out"),
            "trigger": (["x", "p", "t", "out"], xp + [(str(t_sym), "t[0]")],
                        [(f"out[{k}]", g) for k, g in enumerate(triggers)], None),
        }
        if compiler is not None:
            head = f"/* celltwin native backend: model {cm.model.name!r} (generated) */\n#include <math.h>\n\n"
            tmp = pattern_path.with_name(f".{pattern_path.stem}.{os.getpid()}.{threading.get_ident()}.npz")
            la = linear_algebra(n, self.jac_rows, self.jac_cols)
            np.savez(tmp, rows=self.jac_rows, cols=self.jac_cols, **{f"la_{f}": v for f, v in la._asdict().items()})
            os.replace(tmp, pattern_path)  # before the library: a library present means both are
            units = [head + unit for name, spec in self.specs.items() for unit in _c_units(name, *spec)]
            # m += r u^T on the Jacobian's non-zeros (the reverse pass, once per stage)
            units += [head + unit for unit in _c_statement_units("jac_outer", ["r", "u", "m"], [
                f"m[{q}] += r[{a}] * u[{b}];" for q, (a, b) in enumerate(zip(self.jac_rows, self.jac_cols))])]
            lu_names = _lu_names(la)
            if lu_names:
                units += _lu_units(la, head)
            library = _compile_c(units, compiler, library_path)
            self._bind(library, [_address(library, name) for name in [*names, "jac_outer", *lu_names]])
        else:  # numba compiles the same functions (much slower for large models)
            header = [f"# celltwin native backend: model {cm.model.name!r} (generated; safe to delete)",
                      "import math", "import numba", "from numba import types", "v = types.CPointer(types.float64)",
                      "two = types.void(v, v, v)", "four = types.void(v, v, v, v)", "five = types.void(v, v, v, v, v)"]
            signature = {3: "two", 4: "four", 5: "five"}
            functions = [f"@numba.cfunc({signature[n_args[name]]}, cache=True, error_model='numpy')\n"
                         f"{_source(name, *spec)}" for name, spec in self.specs.items()]
            module = _load_module("\n".join(header) + "\n\n\n" + "\n\n\n".join(functions) + "\n")
            self._bind(module, [getattr(module, name).address for name in names])
            la = linear_algebra(n, self.jac_rows, self.jac_cols)
        self._use(la)

    def _bind(self, owner, addresses: list[int]) -> None:
        """The addresses of the solver kernels' four functions, of the triggers (used by
        the crossing search), and in a C library of ``jac_outer`` and the generated LU's
        three (if any); ``owner`` (the library or module) keeps them loaded."""
        self._owner = owner
        self.functions, self.trigger = tuple(addresses[:4]), addresses[4]
        self.jac_outer = addresses[5] if len(addresses) > 5 else 0
        self.lu_functions = tuple(addresses[6:9])

    def _use(self, la, generated_lu: bool = True) -> None:
        """Factorise with ``la``: by the generated LU where it was compiled for this pattern
        (unless ``generated_lu`` is False), else by the kernels' loops."""
        self.linear_algebra = la
        # (lu_functions exist only where they were generated for the model's own pattern;
        # with_linear_algebra asks for them only for that pattern)
        generated = generated_lu and bool(self.lu_functions)
        kind = 2 if generated else la.sparse
        sizes = np.array([self.n_states, self.n_ode, self.n_ode if self.time_state else -1, kind], dtype=np.int64)
        addresses = np.array([*(self.lu_functions if generated else (0, 0, 0)), self.jac_outer], dtype=np.int64)
        self.model = (*self.functions, self.jac_rows, self.jac_cols, sizes, (*la.arrays[:6], addresses))
        kernels = _kernels()
        self.n_stages = kernels.s
        self.forward = functools.partial(kernels.forward, *self.model)
        self.adjoint = functools.partial(kernels.adjoint, *self.model)

    def use_kernels(self, kernels) -> None:
        """Solve with another version of the solver kernels module (``_native_kernels.py``
        of another commit, loaded by :func:`_load_module`): for ``benchmarks/kernels_ab.py``,
        which compares two versions call by call in one process."""
        self.forward = functools.partial(kernels.forward, *self.model)
        self.adjoint = functools.partial(kernels.adjoint, *self.model)

    @property
    def generated_lu(self) -> bool:
        """Whether the generated LU factorises (see ``_native_sparse.generated_lu``)."""
        return int(self.model[6][3]) == 2

    def with_linear_algebra(self, use_sparse: bool, generated_lu: bool = True) -> _Generated:
        """A copy that factorises with the dense or the sparse LU, the sparse one by the
        generated functions where they exist for it and ``generated_lu`` (for benchmarks
        and tests)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        la = linear_algebra(self.n_states, self.jac_rows, self.jac_cols, use_sparse=use_sparse)
        same = la.sparse and all(np.array_equal(a, b) for a, b in zip(la.arrays[:6], self.linear_algebra.arrays[:6]))
        new._use(la, generated_lu=generated_lu and bool(same))
        return new


@functools.cache
def _generator_version() -> str:
    """A hash of this generator (its source and settings, and those of the linear algebra
    whose storage is cached with each model): cached models from another version of them
    are not reused."""
    sources = (Path(__file__), Path(__file__).with_name("_native_sparse.py"))
    return hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:20]


@functools.cache
def _kernels():
    """The solver kernels (one module for all models, compiled once and cached by numba)."""
    return _load_module((Path(__file__).parent / "_native_kernels.py").read_text())


_GENERATED: weakref.WeakKeyDictionary[CompiledModel, _Generated] = weakref.WeakKeyDictionary()


def generated(cm: CompiledModel) -> _Generated:
    """The compiled functions of ``cm`` (generated once per compiled model)."""
    if cm not in _GENERATED:
        gen = _Generated(cm)
        _native_prebuild.finish(gen.__dict__.pop("_kernels_job", None))
        _warm_up(gen)
        _native_prebuild.mark_compiled()
        _GENERATED[cm] = gen
    return _GENERATED[cm]


def _warm_up(gen: _Generated) -> None:
    """Compile (or load from the cache) the kernels for this model now, with the argument
    types of every later call, so that the time goes to building the problem."""
    host = _Solves(gen, 1e-6, 1e-8, 10, -1.0, -1.0)
    p, x0 = np.zeros((1, gen.n_parameters)), np.zeros((1, gen.n_ode))
    t0, ts, jumps = np.zeros(1), np.zeros((1, 1)), np.zeros((1, 0))
    host.forward(p, x0, t0, ts, jumps)
    host.adjoint(p, x0, t0, ts, jumps, np.zeros((1, 1, gen.n_ode)))


def check_native(cm: CompiledModel) -> None:
    """Raise :class:`UnsupportedFeatureError` if ``cm`` cannot use the native backend."""
    generated(cm)


# --- JAX interface -------------------------------------------------------------------------
def _flat(a: np.ndarray, shape: tuple[int, ...], tail: int) -> np.ndarray:
    """``a`` broadcast to ``shape`` with its leading (batch) axes flattened into one:
    a view of XLA's buffer where it already has that shape (the FFI handler's arrays), else
    a writable copy (the model's compiled functions are typed for writable arrays)."""
    flat = (math.prod(shape[:len(shape) - tail]),) + shape[len(shape) - tail:]
    if type(a) is np.ndarray and a.shape == shape and a.dtype == np.float64 and a.flags.carray:  # (aligned, writeable)
        return a.reshape(flat)
    a = np.asarray(a, dtype=np.float64)
    return np.array(np.broadcast_to(a, shape).reshape(flat), order="C")


# Steps per solve kept for the reverse pass at first, and the memory all solves of one batch
# may keep (at most an eighth of the machine's). A solve with more steps than its tape holds
# is solved again in the reverse pass, with a tape of its own; the next batch of the same
# shape then gets a tape for the steps the last one needed, as far as the memory allows.
# Chen 2009 (500 states, 1840-2722 steps per condition at rtol 1e-8, 134 KB per step): its
# gradient 5.2-5.7 s with a tape of 499 steps, 3.2-3.4 s with room for every step (1.5 GB).
TAPE_STEPS = 1024
TAPE_BYTES = 2 * 2**30


@functools.cache
def _memory() -> int | None:
    """The machine's memory in bytes (None where the system does not say), asked once."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        return None


def _tape_budget() -> int:
    """The bytes the tapes of one batch may take: ``TAPE_BYTES``, or an eighth of the
    machine's memory where that is less."""
    memory = _memory()
    return TAPE_BYTES if memory is None else int(min(TAPE_BYTES, memory // 8))


def _new_tape(batch: int, capacity: int, n: int, n_stages: int, w_size: int):
    """Per solve and accepted step: ``y0``, ``h``, stages, stage inputs, factorised ``W``
    (in the LU's storage: the filled non-zeros for the sparse LU, Smith 95 -> 10 KB and
    Chen 2000 -> 62 KB per step; keeping them was measured against refactorising in the
    reverse pass, ``benchmarks/native_sparse_models.py``), pivots."""
    return (np.empty((batch, capacity, n)), np.empty((batch, capacity)), np.empty((batch, capacity, n_stages, n)),
            np.empty((batch, capacity, n_stages, n)), np.empty((batch, capacity, w_size)),
            np.empty((batch, capacity, n), dtype=np.int64))


_POOL: concurrent.futures.ThreadPoolExecutor | None = None


@functools.cache
def _threads() -> int:
    """The cores this process may run on (asked once: the system call cost ~5 us per batch)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


# Below this much work per call, handing chunks to threads costs more than it saves (a
# thread hand-off is tens of microseconds; small models solve in about that).
PARALLEL_MIN_SECONDS = 1e-3


class _Timed:
    """Runs a kernel over a batch on the calling thread or in parallel, whichever the last
    calls found faster per item: serially when the batch is small work (a thread hand-off
    costs more than it saves), in parallel only while that is measured to pay. On a machine
    whose cores are busy with other work a batch split over threads waits for its slowest
    chunk: the GPCR example's batch of 9 conditions took 8x longer in parallel than on one
    thread at load 6. Every ``EXPLORE``-th call tries the other way again, so that the
    choice follows the machine's load."""

    EXPLORE = 16

    def __init__(self):
        self.per_item = {False: math.inf, True: math.inf}  # wall seconds per item: serial, parallel
        self.calls = 0

    def __call__(self, kernel, batch: int, *args) -> None:
        self.calls += 1
        serial, parallel = self.per_item[False], self.per_item[True]
        if batch < 2 or _threads() < 2 or serial == math.inf or batch * serial < PARALLEL_MIN_SECONDS:
            use_threads = False  # (also the first call: serial is measured first)
        elif parallel == math.inf:
            use_threads = True
        else:
            use_threads = (parallel < serial) != (self.calls % self.EXPLORE == 0)
        start = time.perf_counter()
        if use_threads:
            _in_parallel(kernel, batch, *args)
        else:
            kernel(0, batch, *args)
        self.per_item[use_threads] = (time.perf_counter() - start) / max(batch, 1)


def _in_parallel(kernel, batch: int, *args) -> None:
    """Run ``kernel(lo, hi, *args)`` over ``[0, batch)`` in contiguous chunks, one per
    core, on threads (the kernels release the GIL). Threads rather than numba's parallel
    loops: they compile in a fraction of the time and are safe in forked worker processes."""
    global _POOL
    workers = min(batch, _threads())
    if workers <= 1:
        kernel(0, batch, *args)
        return
    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="celltwin-native")
    bounds = np.linspace(0, batch, workers + 1).astype(int)
    futures = [_POOL.submit(kernel, int(lo), int(hi), *args) for lo, hi in itertools.pairwise(bounds[1:])]
    kernel(0, int(bounds[1]), *args)  # the first chunk on this thread
    for f in futures:
        f.result()


class _Solves:
    """Host side of one solver configuration and call site: runs batches of forward solves
    and keeps the last batch's tapes (per batch shape), so that the reverse pass that
    follows a forward pass -- a gradient -- does not solve again. A reverse pass for other
    inputs (the cache is checked byte for byte) solves again first: correctness never
    depends on it."""

    def __init__(self, gen: _Generated, rtol: float, atol: float, max_steps: int, ss_rtol: float, ss_atol: float):
        self.gen, self.rtol, self.atol, self.max_steps = gen, rtol, atol, max_steps
        self.ss_rtol, self.ss_atol = ss_rtol, ss_atol
        self.capacity = min(max_steps, TAPE_STEPS)
        self.lock = threading.Lock()
        self.cache: dict[tuple, tuple] = {}  # (batch, nt, nj) -> (inputs' bytes, tapes and counts)
        self.run_forward, self.run_adjoint = _Timed(), _Timed()
        # Rows asked for again (the frozen chains of a lockstep NUTS batch) are not solved again.
        self.solved, self.differentiated = RowMemo(), RowMemo()

    def _inputs(self, p, x0, t0, ts, jumps, extra=()):
        gen = self.gen
        batch = p.shape[:-1]
        # (the FFI handler's arguments all carry the batch's axes: np.broadcast_shapes, 3 us, only where not)
        if not (x0.shape[:-1] == ts.shape[:-1] == jumps.shape[:-1] == np.shape(t0) == batch and
                all(e == batch for e in extra)):
            batch = np.broadcast_shapes(batch, x0.shape[:-1], np.shape(t0), ts.shape[:-1], jumps.shape[:-1], *extra)
        P = _flat(p, batch + p.shape[-1:], 1)
        X0 = _flat(x0, batch + (gen.n_ode,), 1)
        if gen.time_state:  # the time state's value is set from t0 by the kernel
            X0 = np.concatenate([X0, np.zeros((X0.shape[0], 1))], axis=1)
        T0 = _flat(t0, batch, 0)
        TS = _flat(ts, batch + ts.shape[-1:], 1)
        JU = _flat(jumps, batch + jumps.shape[-1:], 1)
        return batch, (P, X0, T0, TS, JU)

    def _run(self, inputs, keep_tape: bool = True):
        """Solve the batch, with tapes (cached: the record the adjoint needs) or without
        (a log-likelihood alone: nothing kept, no memory written per step)."""
        P, X0, T0, TS, JU = inputs
        b, nt, nj, n = P.shape[0], TS.shape[1], JU.shape[1], self.gen.n_states
        key = (b, nt, nj)
        entry = self.cache.pop(key, None) if keep_tape else None  # its tape is about to be overwritten
        w_size = self.gen.linear_algebra.w_size
        if not keep_tape:
            tape = _new_tape(b, 0, n, self.gen.n_stages, w_size)
        else:
            # room for the steps the last batch of this shape took (a quarter more), within the budget
            steps = 0 if entry is None else self._outgrown(entry[1])
            wanted = max(self.capacity, min(self.max_steps, steps + steps // 4))
            per_step = 8 * (w_size + 2 * (self.gen.n_stages + 1) * n + 1)
            capacity = max(1, min(wanted, _tape_budget() // (b * per_step)))
            tape = None if entry is None else entry[1][4]
            if tape is None or capacity > tape[1].shape[1]:
                entry = tape = None  # (the smaller tape's memory is free before the larger one is taken)
                tape = _new_tape(b, capacity, n, self.gen.n_stages, w_size)
        XS = np.zeros((b, nt, n))
        status = np.zeros(b, dtype=np.int32)
        n_steps = np.zeros(b, dtype=np.int64)
        taped = np.zeros(b, dtype=np.bool_)
        out_step = np.zeros((b, nt), dtype=np.int64)
        jump_step = np.zeros((b, nj), dtype=np.int64)
        jump_y = np.zeros((b, nj, n))
        self.run_forward(self.gen.forward, b, *inputs, self.rtol, self.atol, self.max_steps, self.ss_rtol, self.ss_atol,
                     XS, status, n_steps, taped, tape, out_step, jump_step, jump_y)
        record = (XS, status, n_steps, taped, tape, out_step, jump_step, jump_y)
        if keep_tape:
            self.cache[key] = (b"".join(a.tobytes() for a in inputs), record)
        return record

    @staticmethod
    def _outgrown(record) -> int:
        """The most steps a solve of ``record``'s batch took if one of them did not fit
        on its tape, else 0."""
        _, status, n_steps, taped, *_ = record
        if taped.all():  # (the common case, checked first: 0.5 against 3 us)
            return 0
        short = (status == 0) & ~taped
        return int(n_steps[short].max()) if short.any() else 0

    def forward(self, p, x0, t0, ts, jumps, keep_tape: bool = True):
        batch, inputs = self._inputs(p, x0, t0, ts, jumps)
        n_ode, b = self.gen.n_ode, inputs[0].shape[0]
        XS, status = np.empty((b, inputs[3].shape[1], n_ode)), np.empty(b, dtype=np.int32)

        def solve(todo):
            every = todo.size == b
            sub = inputs if every else tuple(a[todo] for a in inputs)
            sub_xs, sub_status, *_ = self._run(sub, keep_tape)
            if every:  # (slices: a copy without the index arrays' gather)
                XS[...], status[...] = sub_xs[:, :, :n_ode], sub_status
            else:
                XS[todo], status[todo] = sub_xs[:, :, :n_ode], sub_status

        with self.lock:
            self.solved.fill(inputs, (XS, status), solve)
        return XS.reshape(batch + (inputs[3].shape[1], n_ode)), status.reshape(batch)

    def adjoint(self, p, x0, t0, ts, jumps, xbar):
        gen = self.gen
        batch, inputs = self._inputs(p, x0, t0, ts, jumps, (xbar.shape[:-2],))
        P, X0, T0, TS, JU = inputs
        b = P.shape[0]
        XBAR = np.zeros((b, TS.shape[1], gen.n_states))
        XBAR[:, :, :gen.n_ode] = _flat(xbar, batch + xbar.shape[-2:], 2)
        bars = (np.zeros((b, gen.n_parameters)), np.zeros((b, gen.n_states)), np.zeros(b), np.zeros(TS.shape),
                np.zeros(JU.shape))

        def solve(todo):
            every = todo.size == b  # (then the batch's own arrays, not copies of their rows)
            sub = inputs if every else tuple(a[todo] for a in inputs)
            entry = self.cache.get((todo.size, TS.shape[1], JU.shape[1]))
            if entry is not None and entry[0] == b"".join(a.tobytes() for a in sub):
                record = entry[1]
            else:
                record = self._run(sub)
            sub_bars = bars if every else tuple(np.zeros((todo.size, *a.shape[1:])) for a in bars)
            self.run_adjoint(gen.adjoint, todo.size, *sub, self.rtol, self.atol, self.max_steps, self.ss_rtol,
                             self.ss_atol, *record, XBAR if every else XBAR[todo], *sub_bars)
            if not every:
                for out, value in zip(bars, sub_bars):
                    out[todo] = value

        with self.lock:
            self.differentiated.fill((*inputs, XBAR), bars, solve)
        PBAR, X0BAR, T0BAR, TSBAR, JUBAR = bars
        return (PBAR.reshape(batch + (gen.n_parameters,)), X0BAR[:, :gen.n_ode].reshape(batch + (gen.n_ode,)),
                T0BAR.reshape(batch), TSBAR.reshape(batch + TS.shape[1:]), JUBAR.reshape(batch + JU.shape[1:]))


@functools.lru_cache(maxsize=None)
def _solver(gen: _Generated, rtol: float, atol: float, max_steps: int, ss_rtol: float, ss_atol: float, site: int):
    n = gen.n_ode
    host = _Solves(gen, rtol, atol, max_steps, ss_rtol, ss_atol)

    def forward(p, x0, t0, ts, jumps, xs, status, keep_tape=True):
        xs[...], status[...] = host.forward(p, x0, t0, ts, jumps, keep_tape)

    def adjoint(p, x0, t0, ts, jumps, xbar, *bars):
        for out, value in zip(bars, host.adjoint(p, x0, t0, ts, jumps, xbar)):
            out[...] = value

    # The host functions' names say all they compute (see _host_call.register).
    name = (f"native {gen.digest} {gen.linear_algebra.sparse} {rtol!r} {atol!r} {max_steps} {ss_rtol!r} "
            f"{ss_atol!r} {site}")
    keys = {"taped": register(name + " forward", forward),
            "untaped": register(name + " forward-untaped", functools.partial(forward, keep_tape=False)),
            "adjoint": register(name + " adjoint", adjoint)}

    def call_forward(p, x0, t0, ts, jumps, taped):
        shapes = (jax.ShapeDtypeStruct(ts.shape + (n,), jnp.float64), jax.ShapeDtypeStruct((), jnp.int32))
        return host_call(keys["taped" if taped else "untaped"], shapes, p, x0, t0, ts, jumps)

    @jax.custom_vjp
    def solve(p, x0, t0, ts, jumps):  # no derivative follows: no tape
        return call_forward(p, x0, t0, ts, jumps, taped=False)

    def solve_fwd(p, x0, t0, ts, jumps):
        return call_forward(p, x0, t0, ts, jumps, taped=True), (p, x0, t0, ts, jumps)

    def solve_bwd(res, cotangents):
        shapes = tuple(jax.ShapeDtypeStruct(a.shape, jnp.float64) for a in res)
        return host_call(keys["adjoint"], shapes, *res, cotangents[0])

    solve.defvjp(solve_fwd, solve_bwd)
    return solve


def native_time_course(cm: CompiledModel, p: jax.Array, x0: jax.Array, ts: jax.Array, *, t0=0.0, jump_ts=None,
                       rtol: float, atol: float, max_steps: int, steady_state: tuple[float, float] | None = None,
                       site: int = 0) -> tuple[jax.Array, jax.Array]:
    """States at the sorted output times ``ts`` from ``x0`` at ``t0``, and a status code
    (0 ok, 1 solver failed, 2 not finite, 3 no steady state), differentiable in ``p``,
    ``x0``, ``t0``, ``ts`` and ``jump_ts`` by the discrete adjoint.

    Arguments:
        jump_ts: sorted times where the right-hand side is discontinuous (steps end there).
        steady_state: ``(rtol, atol)``: stop at the first step where ``rms(f) < atol +
            rtol rms(x)``; outputs after it take that state, and reaching ``ts[-1]``
            first is status 3.
        site: a number for the call site, so that the tapes of different solves of the
            same shapes (an event's segments) are kept apart between a forward pass and
            its gradient.
    """
    ss_rtol, ss_atol = steady_state if steady_state is not None else (-1.0, -1.0)
    solve = _solver(generated(cm), float(rtol), float(atol), int(max_steps), float(ss_rtol), float(ss_atol), int(site))
    f64 = functools.partial(jnp.asarray, dtype=jnp.float64)
    jumps = f64(jnp.zeros((0,)) if jump_ts is None else jump_ts)
    return solve(f64(p), f64(x0), f64(t0), f64(ts), jumps)
