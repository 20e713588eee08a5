"""Solver settings: one keyword-only object instead of many flags."""

from __future__ import annotations

import diffrax
import equinox as eqx

from ._rosenbrock import Rodas5P

BACKENDS = ("auto", "native", "diffrax")


class SolverSettings(eqx.Module):
    """How ODEs are solved.

    The defaults were chosen by measurement on the PEtab benchmark collection (see
    ``benchmarks/solver_choice.py`` and ``benchmarks/results/solver_choice.tsv``): the
    Rosenbrock method Rodas5P (one Jacobian and one LU per step, no Newton iterations) was
    3-10x faster than diffrax's Kvaerno5 at the same tolerances and the same likelihoods,
    and with Rodas5P the plain integral controller (pcoeff 0, icoeff 1) was fastest or tied
    on 6 of 7 problems (the PID setting 0.4/0.3 that helps Kvaerno gained nothing here).

    Attributes:
        solver: a diffrax solver.
        rtol, atol: local error tolerances of the step-size controller.
        pcoeff, icoeff, dcoeff: PID controller coefficients.
        max_steps: steps allowed per solve before it is declared failed (AMICI's default
            too). A solve that blows up (e.g. at parameters a sampler or an optimiser tries)
            runs until this limit, and in a vmapped batch every lane waits for it, so a
            limit far above what successful solves need (Chen 2009: ~2500 steps per
            condition) only makes failures expensive.
        steady_state_rtol, steady_state_atol: a steady state is reached when
            ``|dx/dt| <= atol + rtol * |x|`` (diffrax's steady-state event).
        max_steady_state_time: a pre-equilibration that has not settled by then fails.
        condition_batching: ``"vmap"`` solves all conditions of a problem in lock-step as
            one vectorised solve; ``"map"`` solves them one after another, each with its
            own number of steps.
        backend: ``"auto"`` (the default: ``"native"`` wherever it applies, see
            :mod:`celltwin.simulate._backend`), ``"native"``: Rodas5P compiled with numba
            from the model's expressions, with discrete-adjoint gradients (reverse mode;
            several times faster on a CPU, see :mod:`celltwin.simulate._native`), or
            ``"diffrax"``: ``solver`` in JAX, every derivative mode, GPUs.
    """

    solver: diffrax.AbstractSolver = eqx.field(static=True, default_factory=Rodas5P)
    rtol: float = eqx.field(static=True, default=1e-8)
    atol: float = eqx.field(static=True, default=1e-10)
    pcoeff: float = eqx.field(static=True, default=0.0)
    icoeff: float = eqx.field(static=True, default=1.0)
    dcoeff: float = eqx.field(static=True, default=0.0)
    max_steps: int = eqx.field(static=True, default=10_000)
    steady_state_rtol: float = eqx.field(static=True, default=1e-8)
    steady_state_atol: float = eqx.field(static=True, default=1e-10)
    max_steady_state_time: float = eqx.field(static=True, default=1e9)
    condition_batching: str = eqx.field(static=True, default="vmap")
    backend: str = eqx.field(static=True, default="auto")

    def __check_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r}: choose one of {', '.join(BACKENDS)}")
        if self.condition_batching not in ("vmap", "map"):
            raise ValueError(f"condition_batching={self.condition_batching!r}: choose 'vmap' or 'map'")

    def controller(self, jump_ts=None) -> diffrax.AbstractStepSizeController:
        # diffrax takes jump_ts through PIDController's **kwargs (returning a ClipStepSizeController
        # around it), which its signature does not declare.
        return diffrax.PIDController(  # type: ignore[call-arg]
            rtol=self.rtol, atol=self.atol, pcoeff=self.pcoeff, icoeff=self.icoeff,
            dcoeff=self.dcoeff, jump_ts=jump_ts,
        )
