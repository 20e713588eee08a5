"""Which engine solves a model: the compiled native one wherever it can, diffrax otherwise.

``SolverSettings(backend="auto")`` (the default) resolves per compiled model:

* ``native`` (Rodas5P generated as machine code, discrete-adjoint gradients; see
  :mod:`celltwin.simulate._native`) when JAX computes on the CPU, the solver is the default
  Rodas5P, and the model's right-hand side can be generated (every model the PEtab/SBML
  path builds: explicit time, events at fixed times and triggered by the state,
  discontinuities, steady states);
* ``diffrax`` otherwise: on GPUs (the native kernels run on the host), for another solver
  chosen explicitly, and for right-hand sides that are not the model's own expressions
  (hybrid models with neural terms choose diffrax themselves).

Why native by default: it is several times faster per log-likelihood and gradient on a CPU
(``benchmarks/native_backend.py``, ``benchmarks/llh_gradient.py``) and agrees with diffrax
within the tolerances (tests/test_native_backend.py, tests/test_native_conformance.py).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax

from ..errors import UnsupportedFeatureError
from ..model import CompiledModel
from ._rosenbrock import Rodas5P
from ._settings import SolverSettings

Engine = Literal["native", "diffrax"]


def native_refusal(cm: CompiledModel) -> str | None:
    """Why the native engine cannot solve ``cm`` (None: it can). Generates and compiles
    the model's functions on the way (cached for later calls)."""
    from ._native import generated

    try:
        generated(cm)
    except UnsupportedFeatureError as exc:
        return str(exc)
    return None


def choose_engine(settings: SolverSettings, cm: CompiledModel) -> tuple[Engine, str]:
    """The engine for ``cm`` under ``settings`` and a one-line note saying which and why."""
    if settings.backend == "native":
        return "native", "engine: native (compiled Rodas5P, discrete-adjoint gradients)"
    if settings.backend == "diffrax":
        return "diffrax", "engine: diffrax (chosen in the solver settings)"
    if jax.default_backend() != "cpu":
        return "diffrax", f"engine: diffrax (JAX computes on {jax.default_backend()}; the native engine is CPU-only)"
    if not isinstance(settings.solver, Rodas5P):
        return "diffrax", f"engine: diffrax (solver {type(settings.solver).__name__} chosen; native implements Rodas5P)"
    reason = native_refusal(cm)
    if reason is not None:
        return "diffrax", f"engine: diffrax (the native engine cannot compile this model: {reason})"
    return "native", "engine: native (compiled Rodas5P, discrete-adjoint gradients)"


def resolve_backend(settings: SolverSettings, cm: CompiledModel) -> tuple[SolverSettings, str]:
    """``settings`` with ``backend`` set to the engine :func:`choose_engine` picks, and its note."""
    engine, note = choose_engine(settings, cm)
    if settings.backend == "native":
        from ._native import check_native

        check_native(cm)  # unsupported models fail here, naming why, not at the first solve
    return dataclasses.replace(settings, backend=engine), note
