"""Simulation: time courses with events, steady states, solver settings; a compiled native
engine (the default on CPUs) and diffrax (GPUs, neural terms, forward mode)."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._backend import choose_engine as choose_engine
from ._backend import resolve_backend as resolve_backend
from ._native import check_native as check_native
from ._rosenbrock import Rodas4 as Rodas4
from ._rosenbrock import Rodas5P as Rodas5P
from ._settings import SolverSettings as SolverSettings
from ._solve import Status as Status
from ._solve import solve_steady_state as solve_steady_state
from ._solve import solve_time_course as solve_time_course
