"""A hybrid problem: a mechanistic model with neural terms, scored against measurements.

``theta`` = the estimated scalar parameters (on their scales) followed by the estimated
network weights. ``simulate``, ``log_likelihood``, ``log_prior`` and ``log_posterior`` are
pure functions of ``theta``: jit them, differentiate them.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Sequence
from typing import final

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import sympy as sp

from ..errors import CelltwinInputError, UnsupportedFeatureError
from ..model import TIME, Model, compile_model, symbol, vector_function
from ..problem import AbstractProblem, GradientMode, MeasurementModel, ParameterSpace, Simulation
from ..simulate import SolverSettings, Status, solve_time_course
from ._spec import (
    ArrayInput,
    Experiment,
    NetworkArrays,
    NeuralTerm,
    Observable,
    ParameterRow,
)
from ._vector_field import HybridVectorField
from ._weights import WeightLayout

# Hybrid right-hand sides hold networks: an explicit solver needs no Jacobian of them, which
# makes compilation and training steps several times cheaper than the Rosenbrock default of
# the mechanistic problems. Pass `settings` with an implicit solver for stiff models.
DEFAULT_SETTINGS = SolverSettings(solver=diffrax.Tsit5(), rtol=1e-8, atol=1e-10, backend="diffrax")


def _diffrax_engine(settings: SolverSettings) -> SolverSettings:
    """Neural terms in the right-hand side are JAX functions: diffrax solves them (the
    native engine compiles only a model's own expressions)."""
    if settings.backend == "native":
        raise UnsupportedFeatureError("hybrid models with neural terms need the diffrax backend, not 'native'")
    return dataclasses.replace(settings, backend="diffrax")


def _call(module, args):
    out = module(*args)
    return out if isinstance(out, tuple) else (out,)


def _outputs(term: NeuralTerm, out, ids: Sequence[str]) -> list:
    return [jnp.ravel(out[term.outputs[i][0]])[term.outputs[i][1]] for i in ids]


@final
class HybridProblem(AbstractProblem):
    """Score a hybrid model's parameters (mechanistic and network weights) against data (a
    final :class:`~celltwin.problem.AbstractProblem`).

    Arguments:
        model: the mechanistic skeleton.
        terms: neural terms (see :class:`NeuralTerm`).
        parameters: the scalar parameters (model parameters and others used in formulas).
        experiments: simulated experiments (all start at t = 0).
        observables: observable and noise formulas.
        measurements: a table with columns observableId, experimentId, time, measurement.
        hybridization: model parameter or species id -> expression of network outputs
            (and parameters): a network output that sets a model quantity.
        network_arrays: which weights are estimated, their nominal values and priors.
        settings: ODE solver settings (default: Tsit5, rtol 1e-8, atol 1e-10).
    """

    def __init__(self, model: Model, terms: Sequence[NeuralTerm], parameters: Sequence[ParameterRow],
                 experiments: Sequence[Experiment], observables: Sequence[Observable], measurements: pd.DataFrame,
                 *, hybridization: dict[str, sp.Expr] | None = None, network_arrays: Sequence[NetworkArrays] = (),
                 settings: SolverSettings | None = None, name: str = "hybrid"):
        self.model, self.name = model, name
        self.source = None  # a picklable callable that rebuilds the problem (for worker processes)
        self.cm = compile_model(model)
        if self.cm.events:
            raise CelltwinInputError(f"{name}: hybrid models with events are not supported")
        self.settings = _diffrax_engine(settings or DEFAULT_SETTINGS)
        self.adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
        self.terms = {t.id: t for t in terms}
        self.experiments = list(experiments)
        self.observables = list(observables)
        self.parameter_rows = list(parameters)
        self.weights = WeightLayout(terms, network_arrays)
        self._vector_fields: dict[int, HybridVectorField] = {}
        self._setup_parameters()
        self._setup_hybridization(hybridization or {})
        self._setup_measurements(measurements)
        self._setup_observables()

    # --- parameters -------------------------------------------------------------------
    def _setup_parameters(self):
        rows = self.parameter_rows
        self.table_ids = [r.id for r in rows]
        self.table_syms = [symbol(i) for i in self.table_ids]
        # The scalar parameters on the scale model Problem uses (PEtab parameter table semantics).
        self.parameters = ParameterSpace(
            ids=tuple(self.table_ids), estimate=np.array([r.estimate for r in rows], dtype=bool),
            scales=tuple(r.scale for r in rows), nominal=np.array([r.nominal for r in rows], dtype=float),
            lower=np.array([r.lower for r in rows], dtype=float), upper=np.array([r.upper for r in rows], dtype=float),
            priors={r.id: r.prior for r in rows if r.estimate and r.prior is not None})
        space, weights = self.parameters, self.weights
        self.parameter_ids = space.theta_ids + weights.labels
        self.parameter_scales = space.theta_scales + ["lin"] * weights.n_estimated
        self.n_mechanistic = len(space.theta_ids)
        self.x_nominal = np.concatenate([space.theta_nominal, weights.values[weights.index]]).astype(float)
        self.lower = np.concatenate([space.theta_lower, np.full(weights.n_estimated, -np.inf)]).astype(float)
        self.upper = np.concatenate([space.theta_upper, np.full(weights.n_estimated, np.inf)]).astype(float)
        pid = self.cm.parameter_ids
        self._table_to_model = np.array([[k, pid.index(i)] for k, i in enumerate(self.table_ids) if i in pid],
                                        dtype=int).reshape(-1, 2)

    def split(self, theta):
        """``(table values on linear scale, full weight vector)`` for ``theta``."""
        theta = jnp.asarray(theta)
        table = self.parameters.values(theta[: self.n_mechanistic])
        return table, self.weights.full(theta[self.n_mechanistic:])

    # --- where network outputs go -----------------------------------------------------
    def _setup_hybridization(self, hybridization: dict[str, sp.Expr]):
        cm = self.cm
        self.pre_terms = [t for t in self.terms.values() if t.stage == "pre"]
        self.dyn_terms = [t for t in self.terms.values() if t.stage == "dynamic"]
        self.pre_out_ids = [o for t in self.pre_terms for o in t.outputs]
        self.dyn_out_ids = [o for t in self.dyn_terms for o in t.outputs]
        dyn_syms = {symbol(o) for o in self.dyn_out_ids}
        self.static_syms = self.table_syms + [symbol(o) for o in self.pre_out_ids]
        self.static_targets: list[tuple[str, sp.Expr]] = []
        self.dynamic_targets: list[tuple[str, sp.Expr]] = []
        for target, expr in hybridization.items():
            dynamic = bool(expr.free_symbols & dyn_syms)
            if target not in cm.parameter_ids and target not in cm.state_ids:
                raise CelltwinInputError(f"{self.name}: hybridization target {target!r} is not a model parameter or species")
            if dynamic and target not in cm.parameter_ids:
                raise CelltwinInputError(f"{self.name}: {target!r} is set by a network inside the model, so it "
                                         "must be a model parameter")
            (self.dynamic_targets if dynamic else self.static_targets).append((target, expr))
        allowed = set(self.static_syms)
        for target, expr in self.static_targets:
            if expr.free_symbols - allowed:
                raise CelltwinInputError(f"{self.name}: value of {target!r} uses unknown id(s) "
                                         f"{sorted(s.name for s in expr.free_symbols - allowed)}")
        self._static_target_fn = vector_function([e for _, e in self.static_targets], [self.static_syms])
        x_syms, p_syms = cm.state_symbols, cm.parameter_symbols
        dyn_args = [[TIME], x_syms, p_syms]
        self._dyn_input_fns = {t.id: [vector_function([cm.resolve(e) for e in a], dyn_args)
                                      if isinstance(a, tuple) else None for a in t.inputs] for t in self.dyn_terms}
        self._dyn_target_fn = vector_function([cm.resolve(e) for _, e in self.dynamic_targets],
                                              [[TIME], x_syms, p_syms, [symbol(o) for o in self.dyn_out_ids]])
        self._dyn_target_idx = np.array([cm.parameter_index(t) for t, _ in self.dynamic_targets], dtype=int)

    def _experiment_inputs(self, exp: Experiment):
        """Per experiment: functions of the static environment for pre-term inputs, condition overrides."""
        syms = [self.static_syms]
        table_syms = self.table_syms
        cm = self.cm
        known = set(cm.parameter_ids) | set(cm.state_ids) | {
            i for t in self.pre_terms for ids in t.input_ids for i in ids if i}
        for target, value in exp.targets.items():
            if target not in known:
                raise CelltwinInputError(f"{self.name}: condition {exp.condition_id!r} of experiment {exp.id!r} sets "
                                         f"{target!r}, which is no model parameter, species or network input")
            unknown = value.free_symbols - set(table_syms)
            if unknown:
                raise CelltwinInputError(f"{self.name}: condition {exp.condition_id!r} sets {target!r} from unknown "
                                         f"id(s) {', '.join(sorted(s.name for s in unknown))}")
        pre_inputs = {}
        for t in self.pre_terms:
            fns = []
            for a_i, arg in enumerate(t.inputs):
                if isinstance(arg, tuple):
                    ids = t.input_ids[a_i] if a_i < len(t.input_ids) else (None,) * len(arg)
                    exprs = [exp.targets.get(i, e) if i else e for i, e in zip(ids, arg)]
                    unknown = set().union(*(e.free_symbols for e in exprs)) - set(table_syms)
                    if unknown:
                        raise CelltwinInputError(
                            f"{self.name}: input of network {t.id!r} uses {', '.join(sorted(s.name for s in unknown))}, "
                            f"which has no value in experiment {exp.id!r} (set it in the parameter or condition table)")
                    fns.append(vector_function(exprs, [table_syms]))
                else:
                    fns.append(self._array_input(t, a_i, arg, exp))
            pre_inputs[t.id] = fns
        par = [(cm.parameter_index(k), v) for k, v in exp.targets.items() if k in cm.parameter_ids]
        spc = [(cm.state_ids.index(k), v) for k, v in exp.targets.items() if k in cm.state_ids]
        par_fn = vector_function([v for _, v in par], syms)
        spc_fn = vector_function([v for _, v in spc], syms)
        dyn_arrays = {t.id: [self._array_input(t, a_i, a, exp) if not isinstance(a, tuple) else None
                             for a_i, a in enumerate(t.inputs)] for t in self.dyn_terms}
        return pre_inputs, (np.array([i for i, _ in par], dtype=int), par_fn), \
            (np.array([i for i, _ in spc], dtype=int), spc_fn), dyn_arrays

    def _array_input(self, term, a_i, arg, exp):
        if not isinstance(arg, ArrayInput):
            raise CelltwinInputError(f"{self.name}: input {a_i} of network {term.id!r} is neither expressions nor an array")
        try:
            value = jnp.asarray(arg.for_condition(exp.condition_id), dtype=float)
        except KeyError:
            raise CelltwinInputError(f"{self.name}: network {term.id!r} input {a_i} has no array for condition "
                                     f"{exp.condition_id!r} of experiment {exp.id!r}") from None
        return lambda env: value

    # --- data ---------------------------------------------------------------------------
    def _setup_measurements(self, df: pd.DataFrame):
        self.measurement_df = df.reset_index(drop=True)
        obs_ids = [o.id for o in self.observables]
        exp_ids = [e.id for e in self.experiments]
        rows, self.experiment_times = [], []
        for col in ("observableId", "experimentId", "time", "measurement"):
            if col not in df.columns:
                raise CelltwinInputError(f"{self.name}: measurement table has no column {col!r}")
        for k, r in self.measurement_df.iterrows():
            if r.observableId not in obs_ids:
                raise CelltwinInputError(f"{self.name}: measurement row {k + 2}: unknown observableId {r.observableId!r}")
            if r.experimentId not in exp_ids:
                raise CelltwinInputError(f"{self.name}: measurement row {k + 2}: unknown experimentId {r.experimentId!r}")
        for e in self.experiments:
            ts = np.unique(self.measurement_df.loc[self.measurement_df.experimentId == e.id, "time"].astype(float))
            self.experiment_times.append(ts if ts.size else np.array([0.0]))
        offsets = np.cumsum([0] + [len(t) for t in self.experiment_times])
        for r in self.measurement_df.itertuples():
            e = exp_ids.index(r.experimentId)
            t = int(np.searchsorted(self.experiment_times[e], float(r.time)))
            rows.append((offsets[e] + t, obs_ids.index(r.observableId)))
        self._row_point = np.array([a for a, _ in rows], dtype=int)
        self._row_obs = np.array([b for _, b in rows], dtype=int)
        self.measurement_model = MeasurementModel.from_names(
            self.measurement_df["measurement"].to_numpy(float),
            [self.observables[o].transformation for o in self._row_obs],
            [self.observables[o].distribution for o in self._row_obs])

    def _setup_observables(self):
        cm = self.cm
        args = [[TIME], cm.state_symbols, cm.parameter_symbols, [symbol(o) for o in self.dyn_out_ids], self.static_syms]
        allowed = set().union(*map(set, args))
        for o in self.observables:
            for what, e in (("observableFormula", o.formula), ("noiseFormula", o.noise)):
                unknown = cm.resolve(e).free_symbols - allowed
                if unknown:
                    raise CelltwinInputError(f"{self.name}: observable {o.id!r} {what} uses unknown id(s) "
                                             f"{', '.join(sorted(s.name for s in unknown))}")
        self._obs_fn = vector_function([cm.resolve(o.formula) for o in self.observables]
                                       + [cm.resolve(o.noise) for o in self.observables], args)
        self._experiment_setup = [self._experiment_inputs(e) for e in self.experiments]

    # --- simulation ---------------------------------------------------------------------
    def _dyn_outputs(self, t, x, p, modules, arrays):
        outs = []
        t1 = jnp.reshape(t, (1,))
        for term in self.dyn_terms:
            fns = self._dyn_input_fns[term.id]
            args = [fns[a](t1, x, p) if fns[a] is not None else arrays[term.id][a](None) for a in range(len(fns))]
            outs.extend(_outputs(term, _call(modules[term.id], args), list(term.outputs)))
        return jnp.stack(outs) if outs else jnp.zeros((0,))

    def vector_field(self, e_i: int) -> HybridVectorField:
        """The right-hand side of experiment ``e_i`` with the dynamic networks inside (its
        parameter vector is ``[model p, full weight vector]``); built once per experiment."""
        if e_i not in self._vector_fields:
            arrays = self._experiment_setup[e_i][3]
            idx = self._dyn_target_idx

            def neural_parameters(t, x, p, w):
                if not len(idx):
                    return p
                outs = self._dyn_outputs(t, x, p, self.weights.modules(w), arrays)
                return p.at[idx].set(self._dyn_target_fn(jnp.reshape(t, (1,)), x, p, outs))

            self._vector_fields[e_i] = HybridVectorField(self.cm, neural_parameters)
        return self._vector_fields[e_i]

    def experiment_start(self, e_i: int, table, modules):
        """``(p, x0, env, pre)``: the experiment's model parameters, initial state, static
        environment (table values and upstream network outputs) and upstream outputs."""
        cm = self.cm
        pre_inputs, (pidx, pfn), (sidx, sfn), _ = self._experiment_setup[e_i]
        pre = []
        for term in self.pre_terms:
            args = [f(table) for f in pre_inputs[term.id]]
            pre.extend(_outputs(term, _call(modules[term.id], args), list(term.outputs)))
        env = jnp.concatenate([table, jnp.stack(pre)]) if pre else table
        p = jnp.asarray(cm.parameter_values)
        if len(self._table_to_model):
            p = p.at[self._table_to_model[:, 1]].set(table[self._table_to_model[:, 0]])
        p = p.at[pidx].set(pfn(env)) if len(pidx) else p
        static = self._static_target_fn(env) if self.static_targets else jnp.zeros(0)
        for k, (target, _) in enumerate(self.static_targets):
            if target in cm.parameter_ids:
                p = p.at[cm.parameter_index(target)].set(static[k])
        x0 = cm.x0(p)
        x0 = x0.at[sidx].set(sfn(env)) if len(sidx) else x0
        for k, (target, _) in enumerate(self.static_targets):
            if target in cm.state_ids:
                x0 = x0.at[cm.state_ids.index(target)].set(static[k])
        return p, x0, env, pre

    def observe(self, e_i: int, ts, xs, p, env, modules, pre):
        """Observables and noise at states ``xs`` (times ``ts``), and ``(sum of squared network
        outputs, count)`` over them."""
        arrays = self._experiment_setup[e_i][3]

        def at(t, x):
            outs = self._dyn_outputs(t, x, p, modules, arrays)
            return self._obs_fn(jnp.reshape(t, (1,)), x, p, outs, env), outs

        values, outs = jax.vmap(at)(ts, xs)
        n_obs = len(self.observables)
        pre_sq = sum(v**2 for v in pre) if pre else 0.0
        return values[:, :n_obs], values[:, n_obs:], (jnp.sum(outs**2) + pre_sq, outs.size + len(pre))

    def _solve(self, e_i: int, table, w, modules):
        """``(ts, states, status, (p, env, pre))`` of experiment ``e_i`` at its measurement times."""
        p, x0, env, pre = self.experiment_start(e_i, table, modules)
        ts = jnp.asarray(self.experiment_times[e_i])
        # The solver needs only a vector field's rhs and Jacobian; its annotation names CompiledModel.
        xs, status = solve_time_course(self.vector_field(e_i), jnp.concatenate([p, w]), x0, ts,  # type: ignore[arg-type]
                                       settings=self.settings, adjoint=self.adjoint)
        return ts, xs, status, (p, env, pre)

    def _experiment(self, e_i: int, table, w, modules):
        ts, xs, status, (p, env, pre) = self._solve(e_i, table, w, modules)
        values, sigmas, contribution = self.observe(e_i, ts, xs, p, env, modules, pre)
        return values, sigmas, status, contribution

    def states(self, theta) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per experiment ``(times, states)``: the simulated state vectors at its measurement times."""
        table, w = self.split(theta)
        modules = self.weights.modules(w)
        solves = [self._solve(e_i, table, w, modules) for e_i in range(len(self.experiments))]
        return [(np.asarray(ts), np.asarray(xs)) for ts, xs, _, _ in solves]

    def simulate_experiments(self, theta):
        """Per experiment ``(observables, sigmas, status, (sum of squared network outputs, count))``
        at the experiment's measurement times."""
        table, w = self.split(theta)
        modules = self.weights.modules(w)
        return [self._experiment(e_i, table, w, modules) for e_i in range(len(self.experiments))]

    def _rows(self, runs) -> Simulation:
        ys = jnp.concatenate([r[0] for r in runs])
        sig = jnp.concatenate([r[1] for r in runs])
        status = jnp.stack([jnp.asarray(r[2], dtype=jnp.int32) for r in runs])
        return Simulation(ys[self._row_point, self._row_obs], sig[self._row_point, self._row_obs], status)

    def simulate(self, theta) -> Simulation:
        """Simulated observables and noise levels per measurement row, and a status per experiment."""
        return self._rows(self.simulate_experiments(theta))

    def pointwise_log_likelihood(self, theta):
        """Log-density of each measurement row (NaN where the solve failed)."""
        return self.terms_of_runs(self.simulate_experiments(theta))[0]

    def log_likelihood(self, theta):
        """Log-likelihood of the measurements at ``theta`` (-inf where a solve failed)."""
        y, sigma, status = self.simulate(theta)
        llh = jnp.sum(self.measurement_model.log_densities(y, sigma))
        return jnp.where(jnp.all(status == Status.OK), llh, -jnp.inf)

    def training_terms(self, theta):
        """``(pointwise log-likelihood, mean squared network output)`` from one simulation: what
        training needs (the second measures how much the networks contribute)."""
        return self.terms_of_runs(self.simulate_experiments(theta))

    def terms_of_runs(self, runs):
        """:meth:`training_terms` of per-experiment results (as :meth:`simulate_experiments`
        gives them): pointwise log-likelihood (NaN where a solve failed), mean squared network
        output."""
        y, sigma, status = self._rows(runs)
        ll = self.measurement_model.log_densities(y, sigma)
        total = sum(r[3][0] for r in runs)
        count = max(1, sum(r[3][1] for r in runs))
        return jnp.where(jnp.all(status == Status.OK), ll, jnp.nan), total / count

    def log_prior(self, theta):
        """The weights' priors plus the scalar parameters' objective priors."""
        theta = jnp.asarray(theta)
        return self.weights.log_prior(theta[self.n_mechanistic:]) + self.parameters.log_prior(theta[: self.n_mechanistic])

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one compiled function per problem and mode
    def value_and_grad(self, mode: GradientMode = "auto"):
        """A jitted ``theta -> (log_likelihood, gradient)`` (reverse mode through the solver:
        networks bring many parameters; ``forward`` uses forward sensitivities)."""
        if mode == "forward":
            forward = self.with_adjoint(diffrax.ForwardMode())

            def f(theta):
                value = forward.log_likelihood(theta)
                return value, value

            def value_and_grad_forward(theta):
                grad, value = jax.jacfwd(f, has_aux=True)(theta)
                return value, grad

            return jax.jit(value_and_grad_forward)
        return jax.jit(jax.value_and_grad(self.log_likelihood))

    def differentiable_log_posterior(self, mode: GradientMode = "auto"):
        """:meth:`log_posterior`, differentiated in reverse mode (``mode`` is accepted for the
        interface; forward sensitivities pay off only for few parameters, not for networks)."""
        return self.log_posterior

    def with_adjoint(self, adjoint: diffrax.AbstractAdjoint) -> HybridProblem:
        """The same problem differentiated through its solves with ``adjoint`` (e.g.
        ``diffrax.ForwardMode()`` for forward-mode Jacobians and Hessians)."""
        clone = copy.copy(self)
        clone.adjoint = adjoint
        return clone

    def simulation_table(self, theta) -> pd.DataFrame:
        """The measurement table with a ``simulation`` column instead of ``measurement``."""
        y, _, _ = jax.jit(self.simulate)(jnp.asarray(theta))
        out = self.measurement_df.drop(columns=["measurement"]).copy()
        out["simulation"] = np.asarray(y)
        return out

    def mechanistic_only(self) -> HybridProblem:
        """The same problem with every network weight set to 0 and frozen: the mechanistic
        skeleton alone where network outputs add to rates (the usual hybrid design)."""
        clone = copy.copy(self)
        clone.weights = self.weights.frozen_at_zero()
        clone._vector_fields = {}  # theirs read the original's weight layout
        clone.__dict__.pop("jit_log_prior_value_and_grad", None)  # compiled for the original's priors
        clone._setup_parameters()
        clone.source = None
        return clone

    def network(self, theta, network_id: str):
        """The Equinox module of a neural term with the weights in ``theta``."""
        _, w = self.split(theta)
        return self.weights.modules(w)[network_id]
