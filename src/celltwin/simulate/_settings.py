"""Solver settings: one keyword-only object instead of many flags."""

from __future__ import annotations

import diffrax
import equinox as eqx


class SolverSettings(eqx.Module):
    """How ODEs are solved.

    The defaults were chosen by measurement on the PEtab benchmark collection (see
    ``benchmarks/solver_choice.py``): a stiff, L-stable implicit Runge-Kutta method with a
    PID step-size controller, which rejects far fewer steps than the plain I-controller on
    signalling models.

    Attributes:
        solver: a diffrax solver.
        rtol, atol: local error tolerances of the step-size controller.
        pcoeff, icoeff, dcoeff: PID controller coefficients.
        max_steps: steps allowed per solve before it is declared failed.
        steady_state_rtol, steady_state_atol: a steady state is reached when
            ``|dx/dt| <= atol + rtol * |x|`` (diffrax's steady-state event).
        max_steady_state_time: a pre-equilibration that has not settled by then fails.
    """

    solver: diffrax.AbstractSolver = eqx.field(static=True, default_factory=diffrax.Kvaerno5)
    rtol: float = eqx.field(static=True, default=1e-8)
    atol: float = eqx.field(static=True, default=1e-10)
    pcoeff: float = eqx.field(static=True, default=0.4)
    icoeff: float = eqx.field(static=True, default=0.3)
    dcoeff: float = eqx.field(static=True, default=0.0)
    max_steps: int = eqx.field(static=True, default=100_000)
    steady_state_rtol: float = eqx.field(static=True, default=1e-8)
    steady_state_atol: float = eqx.field(static=True, default=1e-10)
    max_steady_state_time: float = eqx.field(static=True, default=1e9)

    def controller(self, jump_ts=None) -> diffrax.PIDController:
        return diffrax.PIDController(
            rtol=self.rtol, atol=self.atol, pcoeff=self.pcoeff, icoeff=self.icoeff,
            dcoeff=self.dcoeff, jump_ts=jump_ts,
        )
