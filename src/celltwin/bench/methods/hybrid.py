"""A hybrid neural-term model (:mod:`celltwin.hybrid`) as a benchmark method.

The task's skeleton gets one neural term inside its right-hand side: an MLP of the (scaled)
states and the condition's doses whose outputs are an extra flux into every species
(``-> S`` at rate ``nn_S``, see :func:`hybrid_problem`). The skeleton's rate constants
start from a multi-start MAP fit of the skeleton alone; the last layer of the MLP starts
near zero, so training starts from the mechanistic fit and the network has to earn its
contribution. Then the rate constants and the network weights are trained jointly
(:func:`celltwin.hybrid.train_ensemble`: Adam, a penalty on the network's output,
validation-based early stopping) as a deep ensemble: member ``k`` re-draws the network's
weights, so members differ by initialisation.

Prediction: the held-out problem with the same neural term, solved at every member's
parameters; a draw is a random member's simulation plus the noise model. Parameters and
structure: the members' median rate constants (structure as for a mechanistic fit: the
reactions whose constant is clearly above its lower bound).

What it can take: observables on linear scale with normal noise, no pre-equilibration, no
events (a :class:`~.base.MethodFailure` otherwise). Placeholder noise or observable
parameters are replaced by the measurement table's value when it is one per observable.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from .base import (
    AbstractMethod,
    FittedMethod,
    MethodFailure,
    linear_values,
    reactions_present,
)
from .mechanistic import _map_fit

if TYPE_CHECKING:
    from ...hybrid import HybridProblem
    from ...problem import Problem

NETWORK = "flux_net"


def _placeholders(problem, formula: str, oid: str, column: str, prefix: str) -> str:
    """``formula`` with ``<prefix>{k}_<oid>`` replaced by the measurement table's value."""
    df = problem.measurement_df
    if f"{prefix}1_{oid}" not in formula:
        return formula
    if column not in df.columns:
        raise MethodFailure(f"observable {oid!r} uses {prefix} placeholders without a {column} column")
    values = df.loc[df["observableId"] == oid, column].astype(str).unique()
    if len(values) != 1:
        raise MethodFailure(f"observable {oid!r}: {column} differ between rows; the hybrid method takes one per "
                            "observable")
    for k, v in enumerate(values[0].split(";"), start=1):
        formula = formula.replace(f"{prefix}{k}_{oid}", f"({v})")
    return formula


def _pieces(problem):
    """Experiments, observables, parameter rows and measurements of ``problem`` for a
    :class:`~celltwin.hybrid.HybridProblem` (see the module docstring for what is refused)."""
    from ...hybrid import Experiment, Observable, ParameterRow
    from ...model import as_expr

    tables = problem.tables
    if tables is None:
        raise MethodFailure("the task's problem was not built from tables")
    df = problem.measurement_df
    if "preequilibrationConditionId" in df.columns and df["preequilibrationConditionId"].notna().any() and \
            (df["preequilibrationConditionId"].astype(str).str.strip() != "").any():
        raise MethodFailure("pre-equilibration is not supported by the hybrid method")
    if problem.model.events:
        raise MethodFailure("the model has events; hybrid models do not support them")
    observables = []
    for oid, row in tables["observables"].iterrows():
        transform = str(row.get("observableTransformation", "lin") or "lin")
        distribution = str(row.get("noiseDistribution", "normal") or "normal")
        if transform not in ("lin", "nan") or distribution not in ("normal", "nan"):
            raise MethodFailure(f"observable {oid!r} is {transform}/{distribution}; the hybrid method takes "
                                "linear observables with normal noise")
        formula = _placeholders(problem, str(row["observableFormula"]), str(oid), "observableParameters",
                                "observableParameter")
        noise = _placeholders(problem, str(row["noiseFormula"]), str(oid), "noiseParameters", "noiseParameter")
        observables.append(Observable(str(oid), as_expr(formula), as_expr(noise)))
    conditions = tables["conditions"]
    experiments = []
    for condition in pd.unique(df["simulationConditionId"].astype(str)):
        row = conditions.loc[condition] if condition in conditions.index else pd.Series(dtype=object)
        targets = {str(k): as_expr(v) for k, v in row.items()
                   if str(k) != "conditionName" and not (isinstance(v, float) and np.isnan(v))}
        experiments.append(Experiment(condition, condition, targets))
    rows = [ParameterRow(str(pid), str(r["parameterScale"]), float(r["lowerBound"]), float(r["upperBound"]),
                         float(r["nominalValue"]), bool(int(r["estimate"])))
            for pid, r in tables["parameters"].iterrows()]
    measurements = pd.DataFrame({"observableId": df["observableId"].astype(str),
                                 "experimentId": df["simulationConditionId"].astype(str),
                                 "time": df["time"].astype(float), "measurement": df["measurement"].astype(float)})
    return experiments, observables, rows, measurements


def flux_network(n_inputs: int, n_outputs: int, width: int, depth: int, key, output_scale: float = 1e-2):
    """An ``eqx.nn.MLP`` (tanh) whose last layer is scaled by ``output_scale`` (a network
    that starts close to zero adds almost nothing to the skeleton's rates)."""
    import equinox as eqx
    import jax.numpy as jnp

    mlp = eqx.nn.MLP(n_inputs, n_outputs, width, depth, activation=jnp.tanh, key=key)
    last = mlp.layers[-1]
    return eqx.tree_at(lambda m: (m.layers[-1].weight, m.layers[-1].bias), mlp,
                       (last.weight * output_scale, last.bias * output_scale))  # type: ignore[operator]  # MLP layers have biases


def hybrid_problem(problem, module, *, state_scale: dict[str, float], dose_scale: dict[str, float],
                   nominal: dict[str, float] | None = None, settings=None):
    """``problem`` (a tables-built :class:`~celltwin.problem.Problem`) as a
    :class:`~celltwin.hybrid.HybridProblem` with ``module`` as an extra flux into every species.

    Arguments:
        module: an Equinox module ``module(inputs) -> fluxes`` with one input per species
            and dose (in that order, divided by ``state_scale`` / ``dose_scale``) and one
            output per species (scaled by ``state_scale``).
        nominal: starting values (linear scale) of estimated parameters by id.
    """
    from ...hybrid import HybridProblem, NeuralTerm
    from ...model import as_expr, symbol

    experiments, observables, rows, measurements = _pieces(problem)
    if nominal:
        rows = [dataclasses.replace(r, nominal=nominal.get(r.id, r.nominal)) for r in rows]
    model = copy.deepcopy(problem.model)
    species = list(model.species)
    hybridization = {}
    for s in species:
        model.add_parameter(f"nn_{s}", 0.0)
        model.add_reaction(f"nn_flux_{s}", f"-> {s}", rate=f"nn_{s}")
        hybridization[f"nn_{s}"] = as_expr(f"{float(state_scale[s])!r} * nn_out_{s}")
    inputs = tuple([symbol(s) / float(state_scale[s]) for s in species]
                   + [symbol(d) / float(v) for d, v in dose_scale.items()])
    term = NeuralTerm(NETWORK, module, (inputs,), {f"nn_out_{s}": (0, k) for k, s in enumerate(species)})
    return HybridProblem(model, [term], rows, experiments, observables, measurements, hybridization=hybridization,
                         settings=settings, name=f"{problem.name} (hybrid)")


@dataclasses.dataclass
class _HybridEnsemble(FittedMethod):
    build_heldout: Callable[[Problem], HybridProblem]  # heldout Problem -> HybridProblem with the same neural term
    skeleton: Problem  # the task's Problem (parameter ids, scales, bounds)
    thetas: np.ndarray  # (members, hybrid parameters)

    def predict(self, heldout, n_draws: int, seed: int) -> np.ndarray:
        import jax
        import jax.numpy as jnp

        problem = self.build_heldout(heldout)
        y, sigma, status = jax.jit(jax.vmap(problem.simulate))(jnp.asarray(self.thetas))
        y, sigma = np.asarray(y), np.asarray(sigma)
        ok = np.all(np.asarray(status) == 0, axis=1)  # every experiment of the member solved
        ok &= np.all(np.isfinite(y), axis=1)
        if not ok.any():
            raise MethodFailure("no member of the hybrid ensemble can be solved on the held-out condition")
        rng = np.random.default_rng(seed)
        pick = rng.choice(np.flatnonzero(ok), size=n_draws)
        return y[pick] + sigma[pick] * rng.standard_normal((n_draws, y.shape[1]))

    def _point(self) -> np.ndarray:
        return np.median(self.thetas[:, : self.skeleton.n_parameters], axis=0)

    def parameters(self) -> dict[str, float]:
        return linear_values(self.skeleton, self._point())

    def structure(self) -> frozenset[str]:
        return reactions_present(self.skeleton, self._point())


@dataclasses.dataclass(frozen=True)
class HybridNeuralTerm(AbstractMethod):
    """The skeleton plus a neural flux term, trained jointly as a deep ensemble (see the
    module docstring).

    Attributes:
        members: ensemble size.
        width, depth: of the MLP (tanh).
        epochs, learning_rate, penalty, patience: :class:`celltwin.hybrid.TrainingSettings`.
        n_starts, max_iterations: of the skeleton's MAP fit that starts the training.
    """

    name: ClassVar[str] = "hybrid_neural"
    members: int = 3
    width: int = 16
    depth: int = 1
    epochs: int = 300
    learning_rate: float = 1e-2
    penalty: float = 1e-2
    patience: int = 50
    n_starts: int = 4
    max_iterations: int = 300

    def fit(self, task, *, seed: int) -> FittedMethod:
        import jax

        from ...hybrid import TrainingSettings, train_ensemble
        from ...simulate import SolverSettings

        problem = task.problem
        _pieces(problem)  # refuse what the hybrid problem cannot express before the costly MAP fit
        theta = _map_fit(problem, self.n_starts, self.max_iterations, seed)
        start = linear_values(problem, theta)
        df = problem.measurement_df
        state_scale = {}
        measured = df.groupby("observableId")["measurement"].apply(lambda m: float(np.max(np.abs(m))))
        formulas = problem.tables["observables"]["observableFormula"].astype(str).str.strip()
        for s in problem.model.species:
            hits = [measured[o] for o, f in formulas.items() if f == s and o in measured.index]
            state_scale[s] = max(hits[0], 1e-6) if hits else 1.0
        conditions = problem.tables["conditions"]
        doses = [str(c) for c in conditions.columns if str(c) in problem.model.parameters
                 and pd.to_numeric(conditions[c], errors="coerce").notna().all() and conditions[c].nunique() > 1]
        dose_scale = {d: max(float(np.max(np.abs(pd.to_numeric(conditions[d])))), 1e-12) for d in doses}
        n = len(problem.model.species)
        module = flux_network(n + len(doses), n, self.width, self.depth, jax.random.PRNGKey(seed))
        base = problem.settings
        settings = SolverSettings(solver=base.solver, rtol=max(base.rtol, 1e-6), atol=max(base.atol, 1e-8),
                                  max_steps=base.max_steps)

        def build(p, nominal=None):
            return hybrid_problem(p, module, state_scale=state_scale, dose_scale=dose_scale, nominal=nominal,
                                  settings=settings)

        hybrid = build(problem, start)
        if hybrid.parameter_ids[: problem.n_parameters] != list(problem.parameter_ids):
            raise MethodFailure("the hybrid problem's parameters do not follow the skeleton's")
        training = TrainingSettings(epochs=self.epochs, learning_rate=self.learning_rate, penalty=self.penalty,
                                    patience=self.patience, seed=seed)
        ensemble = train_ensemble(hybrid, self.members, training, executor="serial")
        thetas = ensemble.thetas
        if not np.all(np.isfinite(thetas)):
            raise MethodFailure("hybrid training diverged (non-finite parameters)")
        return _HybridEnsemble(build, problem, thetas)
