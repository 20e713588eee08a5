"""A parameter-estimation problem: model + conditions + observables + data + parameters.

Its core methods are pure functions of ``theta`` (the estimated parameters on their
scales): jit them, vmap them over many parameter sets, differentiate them.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from typing import Literal, cast, final

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import PEtabError
from ..model import CompiledModel, Model, compile_model
from ..simulate import SolverSettings, Status, resolve_backend, solve_steady_state, solve_time_course
from ._base import AbstractProblem, GradientMode, Simulation
from ._noise import MeasurementModel, valid_sigma
from ._noise_checks import check_noise_levels
from ._parameters import effective_prior
from ._shared_blocks import SharedBlock, shared_blocks
from ._tables import Files, ProblemArrays, build_arrays

logger = logging.getLogger("celltwin")

# Forward sensitivities carry one tangent per parameter through every solver step, reverse
# mode pays a fixed multiple of one solve. Measured with the sparse Jacobian
# (benchmarks/gradient_modes.py, results/gradient_modes.tsv and llh_gradient_modes.tsv):
# forward mode is 1.5-3x faster on the benchmark suite's models with 3-6 parameters, about
# equal at 8 (Bertozzi) and slower from 8-9 on (GPCR 1.8x, Blasi 1.8x, Boehm and Crauste
# 1.3x, Bruno 2.5x, Elowitz 6x). Forward mode also compiles 1.1-4.4x faster.
FORWARD_MODE_MAX_PARAMETERS = 7


def _over_conditions(fn, args, batching: str):
    """Map ``fn`` over the leading axis of ``args``: vectorised (vmap) or one at a time (lax.map)."""
    if batching == "vmap":
        return jax.vmap(fn)(*args)
    return jax.lax.map(lambda a: fn(*a), args)


@final
class Problem(AbstractProblem):
    """Score parameters of a model against data (a final :class:`AbstractProblem`).

    Build from PEtab with :func:`celltwin.problem.from_petab`, or from a :class:`Model`
    and PEtab-style DataFrames with :meth:`Problem.from_tables`.

    Attributes:
        model: the symbolic model.
        compiled: its compiled form.
        parameter_ids: ids of the estimated parameters: the entries of ``theta``.
        x_nominal: nominal ``theta`` (parameter scale).
        lower, upper: bounds of ``theta`` (parameter scale).
    """

    def __init__(self, compiled: CompiledModel, arrays: ProblemArrays, measurement_df: pd.DataFrame | None = None,
                 *, settings: SolverSettings | None = None, name: str = "problem"):
        self.compiled = compiled
        self.model: Model = compiled.model
        self.arrays = arrays
        self.measurement_df = measurement_df
        self.requested_settings = settings or SolverSettings()
        # The engine is chosen once, here (native wherever it applies; see simulate._backend).
        self.settings, self.engine_note = resolve_backend(self.requested_settings, compiled)
        logger.info("%s: %s", name, self.engine_note)
        self.name = name
        space = arrays.parameters
        self.parameters = space
        self.parameter_ids: list[str] = space.theta_ids
        self.parameter_scales: list[str] = space.theta_scales
        self.x_nominal = np.asarray(space.theta_nominal, dtype=float)
        self.lower = np.asarray(space.theta_lower, dtype=float)
        self.upper = np.asarray(space.theta_upper, dtype=float)
        self._constants = jnp.asarray(arrays.constants)
        # In the sorted row order of the arrays (``arrays.order``), as _evaluate simulates them.
        self.measurement_model = MeasurementModel(jnp.asarray(arrays.measured), jnp.asarray(arrays.transform_codes),
                                                  jnp.asarray(arrays.laplace))
        self._petab_only = np.array([space.ids.index(i) for i in arrays.petab_only_ids], dtype=np.int32)
        # How to build this problem again in another process (a picklable callable), so
        # that parallel fits and profiles can send it to workers; set by the constructors.
        self.source = None
        self.tables: dict | None = None  # the keywords of from_tables, when built from tables

    @classmethod
    def from_tables(cls, model: Model | CompiledModel, *, measurements: pd.DataFrame, observables: pd.DataFrame,
                    parameters: pd.DataFrame, conditions: pd.DataFrame | None = None,
                    settings: SolverSettings | None = None, files: Files = Files(), name: str = "problem",
                    start_times: dict[str, float] | None = None, petab_version: int = 1) -> "Problem":
        """Build a problem from a model and PEtab-style tables.

        Arguments:
            model: a :class:`Model` (compiled here) or a compiled model.
            measurements: columns ``observableId, simulationConditionId, time, measurement``
                and optionally ``preequilibrationConditionId, observableParameters, noiseParameters``.
            observables: indexed by ``observableId``: ``observableFormula, noiseFormula`` and
                optionally ``observableTransformation, noiseDistribution``.
            parameters: indexed by ``parameterId``: ``parameterScale, lowerBound, upperBound,
                nominalValue, estimate`` and optionally the objective prior columns.
            conditions: indexed by ``conditionId``; columns are model ids to override.
            start_times: simulation condition id -> the time its simulation starts (the
                model's initial state holds then; default 0). Measurement times must not
                be earlier.
            petab_version: 2 where the tables come from a PEtab v2 problem: the parameter
                table may use v2's prior types, and an estimated parameter's nominal value
                may lie outside its bounds.
        """
        cm = model if isinstance(model, CompiledModel) else compile_model(model)
        if conditions is None:
            ids = sorted(set(measurements["simulationConditionId"].astype(str)))
            conditions = pd.DataFrame(index=pd.Index(ids, name="conditionId"))
        arrays = build_arrays(cm, measurements, observables, conditions, parameters, files, start_times,
                              petab_version)
        problem = cls(cm, arrays, measurements.reset_index(drop=True), settings=settings, name=name)
        problem.tables = dict(measurements=measurements, observables=observables, parameters=parameters,
                              conditions=conditions, settings=settings, files=files, name=name,
                              start_times=start_times, petab_version=petab_version)
        problem.source = functools.partial(cls.from_tables, cm.model, **problem.tables)
        return problem

    def with_tables(self, *, model: Model | None = None, **tables) -> "Problem":
        """A new problem from this one's tables with some replaced (keywords of
        :meth:`from_tables`), e.g. other conditions or a modified model."""
        if self.tables is None:
            raise ValueError(f"{self!r} was not built from tables")
        return Problem.from_tables(model or self.model, **{**self.tables, **tables})

    # --- sizes ------------------------------------------------------------------------
    @property
    def n_conditions(self) -> int:
        return len(self.arrays.contexts)

    def __repr__(self) -> str:
        return (f"Problem({self.name!r}: {self.compiled.n_states} states, {self.n_parameters} estimated parameters, "
                f"{self.n_conditions} simulation conditions, {self.n_measurements} measurements)")

    # --- the pure functions ---------------------------------------------------------
    def _pool(self, theta):
        return jnp.concatenate([self.parameters.values(theta), self._constants])

    def _steady_states(self, pool, adjoint):
        """Steady states of the distinct pre-equilibration conditions, and their status."""
        cm, settings, pre = self.compiled, self.settings, self.arrays.preequilibrations

        def one(p_refs, x_mask, x_refs):
            p = pool[p_refs]
            x0 = jnp.where(x_mask, pool[x_refs], cm.x0(p))
            return solve_steady_state(cm, p, x0, settings=settings, adjoint=adjoint)

        return _over_conditions(one, (pre.p_refs, pre.x0_mask, pre.x0_refs), settings.condition_batching)

    @functools.cached_property
    def _shared_blocks(self) -> list[SharedBlock | None]:
        """Per group: the part of the state solved once for all its conditions, if any."""
        return shared_blocks(self.compiled, self.arrays.groups)

    def _simulate_group(self, g, g_index, pool, steady, adjoint):
        cm, settings, arrays = self.compiled, self.settings, self.arrays
        split = self._shared_blocks[g_index]
        if split is not None:
            return self._simulate_split_group(g, split, g_index, pool, adjoint)

        # Outputs only at the start (a steady-state group's placeholder times, Blasi 2016's):
        # a solve would return the initial state, at the cost of a host call (~0.1 ms).
        starts_only = (not cm.events and not cm.jump_time_exprs and g.ts.size > 0
                       and bool(np.all(g.ts <= g.t0[:, None])))

        def one(ts, t0, p_refs, x_mask, x_refs, pre_index):
            status = jnp.asarray(Status.OK, dtype=jnp.int32)
            x_ss = None
            if g.preequilibrate:
                x_ss, status = steady[0][pre_index], steady[1][pre_index]
            p, x0 = self._initial(pool, p_refs, x_mask, x_refs, x_ss)
            if starts_only:  # every output at the start: the initial state, without a solve
                xs = jnp.broadcast_to(x0, ts.shape + x0.shape)
            else:
                jump = arrays.jump_time_fn(p) if cm.jump_time_exprs else None
                events = arrays.event_time_fn(p) if cm.events else None
                xs, st = solve_time_course(cm, p, x0, ts, t0=t0, event_times=events, event_order=g.event_order,
                                           jump_ts=None if jump is None else jnp.sort(jump), settings=settings,
                                           adjoint=adjoint, site=g_index, x_before=x_ss)
                status = jnp.where(status == Status.OK, st, status)
            if g.steady_state_output:
                x_inf, st = solve_steady_state(cm, p, xs[-1], t0=ts[-1], settings=settings, adjoint=adjoint,
                                               site=1 + g_index, x_before=xs[-1])
                xs = jnp.concatenate([xs, x_inf[None]], axis=0)
                status = jnp.where(status == Status.OK, st, status)
            return xs, p, status

        args = (jnp.asarray(g.ts), jnp.asarray(g.t0), g.p_refs, g.x0_mask, g.x0_refs, g.pre_index)
        return _over_conditions(one, args, settings.condition_batching)

    def _initial(self, pool, p_refs, x_mask, x_refs, x_default=None):
        """A condition's parameters and initial state: the values its condition sets
        (``x_mask``), elsewhere ``x_default`` (a pre-equilibrated state) or the model's own."""
        p = pool[p_refs]
        return p, jnp.where(x_mask, pool[x_refs], self.compiled.x0(p) if x_default is None else x_default)

    def _simulate_split_group(self, g, split: SharedBlock, g_index, pool, adjoint):
        """:meth:`_simulate_group` where part of the state is the same in every condition
        (:mod:`._shared_blocks`): that part solved once, the rest per condition."""
        cm, settings = self.compiled, self.settings
        p, x0 = self._initial(pool, g.p_refs[0], g.x0_mask[0], g.x0_refs[0])
        shared_xs, shared_status = solve_time_course(split.shared, p, x0[split.shared_index], jnp.asarray(split.ts),
                                                     t0=g.t0[0], settings=settings, adjoint=adjoint, site=g_index)

        def one(ts, t0, p_refs, x_mask, x_refs):
            p, x0 = self._initial(pool, p_refs, x_mask, x_refs)
            xs, status = solve_time_course(split.rest, p, x0[split.rest_index], ts, t0=t0, settings=settings,
                                           adjoint=adjoint, site=g_index)
            return xs, p, status

        args = (jnp.asarray(g.ts), jnp.asarray(g.t0), g.p_refs, g.x0_mask, g.x0_refs)
        rest_xs, ps, status = _over_conditions(one, args, settings.condition_batching)
        xs = jnp.zeros((*g.ts.shape, cm.n_states))
        # (unique_indices: without it JAX differentiates a scatter by scattering and gathering
        # integer ids, for overlapping indices; here there are none. GPCR: 99 -> 73 XLA fusions)
        xs = (xs.at[:, :, split.rest_index].set(rest_xs, unique_indices=True)
              .at[:, :, split.shared_index].set(shared_xs[split.slots], unique_indices=True))
        return xs, ps, jnp.where(status == Status.OK, shared_status, status)

    def _evaluate(self, theta, adjoint) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Simulated observables and sigmas (sorted measurement order) and statuses."""
        arrays = self.arrays
        pool = self._pool(theta)
        steady = self._steady_states(pool, adjoint) if arrays.preequilibrations is not None else None
        states, params, statuses = [], [], []
        for g_i, g in enumerate(arrays.groups):
            xs, ps, st = self._simulate_group(g, g_i, pool, steady, adjoint)
            rows = arrays.group_of_row == g_i
            local, slot = arrays.local_context[rows], arrays.time_slot[rows]
            states.append(xs[local, slot])
            params.append(ps[local])
            statuses.append(st)
        x_rows = jnp.concatenate(states, axis=0)
        p_rows = jnp.concatenate(params, axis=0)
        t_rows = jnp.asarray(np.where(np.isfinite(arrays.time), arrays.time, 0.0))
        petab_values = pool[: len(self.parameters.ids)]  # the pool starts with all PEtab parameters
        y = jnp.zeros(self.n_measurements)
        sigma = jnp.ones(self.n_measurements)
        for obs in arrays.observables:
            r = obs.rows
            out = jax.vmap(obs.function, in_axes=(0, 0, 0, 0, 0, None))(
                t_rows[r], x_rows[r], p_rows[r], pool[obs.observable_refs], pool[obs.noise_refs],
                petab_values[self._petab_only],
            )
            y = y.at[r].set(out[:, 0], unique_indices=True)  # (a measurement row has one observable)
            sigma = sigma.at[r].set(out[:, 1], unique_indices=True)
        status = jnp.zeros(self.n_conditions, dtype=jnp.int32)
        for g, st in zip(arrays.groups, statuses):
            status = status.at[g.contexts].set(st)
        return y, sigma, status

    def _log_likelihood(self, theta, adjoint):
        y, sigma, status = self._evaluate(theta, adjoint)
        llh = jnp.sum(self.measurement_model.log_densities(y, sigma))
        ok = jnp.all(status == Status.OK) & jnp.isfinite(llh)
        return jnp.where(ok, llh, -jnp.inf)

    def simulate(self, theta=None) -> Simulation:
        """Simulated observables, noise levels and per-condition status (pure; jit-able)."""
        theta = self.x_nominal if theta is None else theta
        y, sigma, status = self._evaluate(jnp.asarray(theta), diffrax.RecursiveCheckpointAdjoint())
        inverse = np.argsort(self.arrays.order)
        return Simulation(y[inverse], sigma[inverse], status)

    def log_likelihood(self, theta) -> jax.Array:
        """Log-likelihood of the data at ``theta`` (-inf where a simulation fails)."""
        return self._log_likelihood(jnp.asarray(theta), diffrax.RecursiveCheckpointAdjoint())

    def log_prior(self, theta) -> jax.Array:
        """Sum of the parameter table's objective priors (0 for parameters without one)."""
        return self.parameters.log_prior(theta)

    def prior_distributions(self) -> list:
        """The prior of each estimated parameter on its parameter scale, within the bounds,
        as numpyro distributions (flat on the bounds where the table gives none); see
        :func:`celltwin.problem.effective_prior` for what is supported."""
        space = self.parameters
        out = []
        for k, pid in enumerate(self.parameter_ids):
            try:
                out.append(effective_prior(space.priors.get(pid), self.parameter_scales[k], self.lower[k], self.upper[k]))
            except ValueError as exc:  # a prior of the user's parameter table that cannot be drawn from
                raise PEtabError(f"{self._parameter_row(pid)}, column 'objectivePriorType': parameter {pid!r}: "
                                 f"{exc}") from None
        return out

    def _parameter_row(self, pid: str) -> str:
        """Where ``pid`` is defined, for messages: file and row of the parameter table."""
        tables = self.tables or {}
        where = tables.get("files", Files()).parameters
        table = tables.get("parameters")
        ids = [] if table is None else list(table["parameterId"] if "parameterId" in table.columns else table.index)
        return f"{where}, row {ids.index(pid) + 2}" if pid in ids else where

    def sample_prior(self, key, n: int) -> jax.Array:
        """``n`` independent draws of ``theta`` from the prior (restricted to the bounds)."""
        keys = jax.random.split(key, self.n_parameters)
        return jnp.stack([d.sample(k, (n,)) for d, k in zip(self.prior_distributions(), keys)], axis=1)

    def with_measurements(self, values) -> "Problem":
        """The same problem with other measured values (measurement table order), e.g.
        simulated data; ``values`` may be a traced JAX array, so one compiled function can
        serve many data sets."""
        measured = jnp.asarray(values)[jnp.asarray(self.arrays.order)]
        return self._copy(measurement_model=self.measurement_model.with_measured(measured), source=None)

    def _copy(self, **changes) -> "Problem":
        """A shallow copy with some attributes changed and the compiled functions dropped."""
        new = object.__new__(type(self))
        new.__dict__.update({k: v for k, v in self.__dict__.items()
                             if k not in ("jit_log_likelihood", "jit_simulate", "jit_log_prior_value_and_grad",
                                          "_diffrax")})
        new.__dict__.update(changes)
        return new

    def pointwise_log_likelihood(self, theta) -> jax.Array:
        """Log-likelihood of each measurement (measurement table order); NaN where the
        simulation failed."""
        y, sigma, status = self._evaluate(jnp.asarray(theta), diffrax.RecursiveCheckpointAdjoint())
        return self._pointwise(y, sigma, status)

    def simulation_log_likelihood(self, simulation: Simulation) -> jax.Array:
        """:meth:`pointwise_log_likelihood` of a :meth:`simulate` result (no second solve)."""
        order = self.arrays.order
        return self._pointwise(simulation.observables[order], simulation.sigmas[order], simulation.status)

    def noisy_measurements(self, simulation: Simulation, key) -> jax.Array:
        """Measurements drawn around ``simulation`` (from :meth:`simulate`, table order) with
        the problem's noise model, in table order."""
        inverse = np.argsort(self.arrays.order)
        return self.measurement_model.take(inverse).sample(key, simulation.observables, simulation.sigmas)

    def predictive_sample(self, theta, key) -> jax.Array:
        """Measurements drawn from the model at ``theta`` with its noise model
        (measurement table order): one posterior-predictive replicate."""
        return self.pointwise_and_replicate(theta, key)[1]

    def pointwise_and_replicate(self, theta, key) -> tuple[jax.Array, jax.Array]:
        """:meth:`pointwise_log_likelihood` and :meth:`predictive_sample` from one simulation."""
        y, sigma, status = self._evaluate(jnp.asarray(theta), diffrax.RecursiveCheckpointAdjoint())
        draws = self.measurement_model.sample(key, y, sigma)
        return self._pointwise(y, sigma, status), draws[np.argsort(self.arrays.order)]

    def _pointwise(self, y, sigma, status) -> jax.Array:
        dens = self.measurement_model.log_densities(y, sigma)
        dens = jnp.where(jnp.all(status == Status.OK), dens, jnp.nan)
        return dens[np.argsort(self.arrays.order)]

    @property
    def measurements(self) -> np.ndarray:
        """The measured values in measurement table order."""
        return np.asarray(self.measurement_model.measured)[np.argsort(self.arrays.order)]

    def chi2(self, theta) -> jax.Array:
        """Sum of squared weighted residuals (NaN where a noise level is not positive)."""
        y, sigma, _ = self._evaluate(jnp.asarray(theta), diffrax.RecursiveCheckpointAdjoint())
        squares = self.measurement_model.residuals(y, sigma) ** 2
        return jnp.sum(jnp.where(valid_sigma(sigma), squares, jnp.nan))

    def check_noise_levels(self, simulation: Simulation) -> None:
        """Raise where a :meth:`simulate` result has a noise level that is not positive.

        Raises:
            PEtabError: naming the observable, its noiseFormula and the first measurement row.
        """
        check_noise_levels(self.arrays, simulation.sigmas, simulation.status, self.arrays.files.measurements)

    # --- compiled entry points -------------------------------------------------------------
    @property
    def engine(self) -> Literal["native", "diffrax"]:
        """The engine that solves this problem's ODEs (see :mod:`celltwin.simulate._backend`)."""
        return cast(Literal["native", "diffrax"], self.settings.backend)  # resolved from "auto" in __init__

    def gradient_mode(self, mode: GradientMode = "auto") -> Literal["forward", "reverse"]:
        if self.engine == "native":
            if mode == "forward" and self.requested_settings.backend == "native":
                raise ValueError("the native solver backend differentiates in reverse mode only")
            # The discrete adjoint; forward mode, asked for explicitly, runs on diffrax.
            return "forward" if mode == "forward" else "reverse"
        if mode != "auto":
            return mode
        return "forward" if self.n_parameters <= FORWARD_MODE_MAX_PARAMETERS else "reverse"

    @functools.cached_property
    def _diffrax(self) -> "Problem":
        """This problem on the diffrax engine (for forward-mode derivatives)."""
        if self.engine == "diffrax":
            return self
        return self._copy(settings=dataclasses.replace(self.settings, backend="diffrax"))

    @functools.cached_property
    def jit_log_likelihood(self):
        """``jax.jit(log_likelihood)``, compiled once per problem."""
        return jax.jit(self.log_likelihood)

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one cache entry per problem and mode
    def value_and_grad(self, mode: GradientMode = "auto"):
        """A jitted function ``theta -> (log_likelihood, gradient)``.

        Arguments:
            mode: ``forward`` (forward sensitivities; best for few parameters),
                ``reverse`` (adjoint by checkpointed back-propagation; best for many) or
                ``auto`` (by the number of parameters).
        """
        if self.gradient_mode(mode) == "forward":
            return jax.jit(self._forward_value_and_grad)
        return jax.jit(jax.value_and_grad(lambda th: self._log_likelihood(th, diffrax.RecursiveCheckpointAdjoint())))

    def _forward_value_and_grad(self, theta):
        problem = self._diffrax

        def f(th):
            value = problem._log_likelihood(th, diffrax.ForwardMode())
            return value, value

        grad, value = jax.jacfwd(f, has_aux=True)(theta)
        return value, grad

    def differentiable_log_posterior(self, mode: GradientMode = "auto"):
        """``log_posterior`` whose reverse-mode derivative (``jax.grad``, as gradient-based
        samplers take it) is computed in ``mode``: with few parameters forward
        sensitivities compile and run faster than back-propagation through the solver.
        Only first derivatives are defined in forward mode."""
        if self.gradient_mode(mode) == "reverse":
            return self.log_posterior

        @jax.custom_vjp
        def log_likelihood(theta):
            return self.log_likelihood(theta)

        def fwd(theta):
            value, grad = self._forward_value_and_grad(theta)
            return value, grad

        def bwd(grad, cotangent):
            return (cotangent * grad,)

        log_likelihood.defvjp(fwd, bwd)
        return lambda theta: log_likelihood(theta) + self.log_prior(theta)

    def compile(self) -> float:
        """Compile the log-likelihood now; returns the seconds it took."""
        start = time.perf_counter()
        self.jit_log_likelihood.lower(jnp.asarray(self.x_nominal)).compile()
        return time.perf_counter() - start

    # --- tables -----------------------------------------------------------------------------
    @functools.cached_property
    def jit_simulate(self):
        """``jax.jit(simulate)``, compiled once per problem."""
        return jax.jit(self.simulate)

    def simulation_table(self, theta=None) -> pd.DataFrame:
        """The PEtab simulation table: the measurement table with ``simulation`` values."""
        sim = self.jit_simulate(jnp.asarray(self.x_nominal if theta is None else theta))
        df = self.measurement_df.copy()
        df = df.rename(columns={"measurement": "simulation"})
        df["simulation"] = np.asarray(sim.observables)
        return df
