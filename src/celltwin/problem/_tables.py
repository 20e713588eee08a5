"""Turn PEtab-style tables (pandas DataFrames) into the static arrays a Problem evaluates.

Parsing happens once, here, at the edge: every cell is checked, and a bad one raises a
:class:`PEtabError` naming the file, the row and the column. The result is a
:class:`ProblemArrays` of numpy index arrays: which parameter value each model parameter
takes in each condition, which output time each measurement reads, and so on. All values
live in one *value pool* vector ``[all PEtab parameters (linear scale), constants]`` so
that every override is an integer index into it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import sympy as sp

from ..errors import PEtabError
from ..model import TIME, CompiledModel, as_expr, symbol, vector_function
from ._cells import as_float, is_missing, shown
from ._noise import DISTRIBUTIONS, TRANSFORMS
from ._noise_checks import NoiseDefinition, NoiseParameterChecks, check_constant_sigma
from ._parameter_table import read_parameter_space
from ._parameters import ParameterSpace

_PLACEHOLDER = re.compile(r"^(observable|noise)Parameter(\d+)_(.+)$")


@dataclasses.dataclass(frozen=True)
class Files:
    """File names for error messages (defaults name the table kind)."""

    measurements: str = "measurement table"
    observables: str = "observable table"
    conditions: str = "condition table"
    parameters: str = "parameter table"


@dataclasses.dataclass(frozen=True)
class ObservableArrays:
    """One observable and the measurement rows (in sorted order) that read it."""

    id: str
    rows: np.ndarray
    observable_refs: np.ndarray  # (n_rows, n_observable_parameters) pool indices
    noise_refs: np.ndarray  # (n_rows, n_noise_parameters) pool indices
    function: Callable  # f(t, x, p, obs_values, noise_values, petab_values) -> [y, sigma]
    noise_formula: str = ""  # as the table gives it, for messages
    defined_at: str = ""  # file and row of the observable's definition


@dataclasses.dataclass(frozen=True)
class GroupArrays:
    """Simulation contexts that share one solve structure, so one vmap covers them."""

    contexts: np.ndarray  # context indices
    preequilibrate: bool
    event_order: tuple[int, ...]
    steady_state_output: bool
    ts: np.ndarray  # (n_ctx, T) padded output times
    t0: np.ndarray  # (n_ctx,) the time each simulation starts
    p_refs: np.ndarray  # (n_ctx, n_p)
    x0_mask: np.ndarray  # (n_ctx, n_x) bool: state re-initialised by the condition
    x0_refs: np.ndarray  # (n_ctx, n_x)
    pre_index: np.ndarray  # (n_ctx,) row in ProblemArrays.preequilibrations (0 if none)


@dataclasses.dataclass(frozen=True)
class PreequilibrationArrays:
    """The distinct pre-equilibration conditions: each steady state is computed once."""

    ids: list[str]
    p_refs: np.ndarray  # (n_pre, n_p)
    x0_mask: np.ndarray  # (n_pre, n_x)
    x0_refs: np.ndarray  # (n_pre, n_x)


@dataclasses.dataclass(frozen=True)
class ProblemArrays:
    parameters: ParameterSpace
    constants: np.ndarray
    contexts: list[tuple[str | None, str]]  # (preequilibration condition, simulation condition)
    groups: list[GroupArrays]
    preequilibrations: PreequilibrationArrays | None
    # Measurements in sorted order (grouped as the simulations); `order[k]` is the table row.
    order: np.ndarray
    group_of_row: np.ndarray
    local_context: np.ndarray
    time_slot: np.ndarray
    time: np.ndarray
    measured: np.ndarray
    transform_codes: np.ndarray
    laplace: np.ndarray
    observables: list[ObservableArrays]
    petab_only_ids: list[str]
    event_time_fn: object
    jump_time_fn: object
    files: Files = Files()


class _Builder:
    def __init__(self, cm: CompiledModel, measurements, observables, conditions, parameters, files: Files,
                 start_times: Mapping[str, float], petab_version: int):
        self.cm = cm
        self.files = files
        self.start_times = start_times
        self.measurements = measurements.reset_index(drop=True) if measurements is not None else None
        self.observables = observables
        self.conditions = conditions if conditions is not None else pd.DataFrame()
        self.parameter_df = parameters
        self.constants: list[float] = []
        self._const_index: dict[float, int] = {}
        self.space, self.parameter_rows = read_parameter_space(parameters, files.parameters, petab_version)
        self.n_petab = len(self.space.ids)
        self.petab_index = {pid: i for i, pid in enumerate(self.space.ids)}
        model_ids = set(cm.state_ids) | set(cm.parameter_ids) | {s.name for s in cm.substitutions}
        self.petab_only = [pid for pid in self.space.ids if pid not in model_ids]  # parameters only observables use

    # --- value pool -------------------------------------------------------------------
    def const(self, value: float) -> int:
        key = float(value)
        if key not in self._const_index:
            self._const_index[key] = len(self.constants)
            self.constants.append(key)
        return self.n_petab + self._const_index[key]

    def pool_value(self, index: int) -> float:
        """The value of a pool entry at the nominal parameters (linear scale)."""
        if index < self.n_petab:
            return float(self.space.nominal[index])
        return self.constants[index - self.n_petab]

    def model_default_ref(self, pid: str) -> int:
        if pid in self.petab_index:
            return self.petab_index[pid]
        return self.const(self.cm.parameter_values[self.cm.parameter_index(pid)])

    def ref(self, value, where: str) -> int:
        """Pool index of a table cell holding a number or a parameter id."""
        number = as_float(value)
        if number is not None:
            if not math.isfinite(number):
                raise PEtabError(f"{where}: must be a finite number or a parameter id, got {str(value).strip()!r}")
            return self.const(number)
        name = str(value).strip()
        if name in self.petab_index:
            return self.petab_index[name]
        if name in self.cm.parameter_ids:
            return self.model_default_ref(name)
        raise PEtabError(f"{where}: {name!r} is neither a number nor a parameter of the parameter table or the model")

    # --- conditions -------------------------------------------------------------------
    def condition_row(self, cid: str, where: str) -> Mapping:
        df = self.conditions
        if cid not in df.index:
            raise PEtabError(f"{where}: condition {cid!r} is not in the {self.files.conditions}")
        return df.loc[cid]

    def check_condition_table(self) -> None:
        ids = [str(c) for c in self.conditions.index]
        first: dict[str, int] = {}
        for row_no, cid in enumerate(ids, start=2):
            if cid in first:
                raise PEtabError(f"{self.files.conditions}, row {row_no}, column 'conditionId': {cid!r} is duplicated "
                                 f"(first in row {first[cid]}); each condition must be defined once")
            first[cid] = row_no
        self.condition_rows = first
        allowed = set(self.cm.parameter_ids) | set(self.cm.state_ids)
        for col in self.conditions.columns:
            if col in ("conditionName",):
                continue
            if col not in allowed:
                raise PEtabError(
                    f"{self.files.conditions}, column {col!r}: not a parameter, compartment or species of the model"
                )

    def condition_arrays(self, cid: str):
        """Parameter refs and state re-initialisation of one condition."""
        cm = self.cm
        p_refs = np.array([self.model_default_ref(pid) for pid in cm.parameter_ids], dtype=np.int32)
        x_mask = np.zeros(cm.n_states, dtype=bool)
        x_refs = np.zeros(cm.n_states, dtype=np.int32)
        row = self.condition_row(cid, f"{self.files.measurements}")
        for col, value in row.items():
            if col == "conditionName" or is_missing(value):
                continue
            where = f"{self.files.conditions}, row {self.condition_rows[cid]} (condition {cid!r}), column {col!r}"
            if col in cm.state_ids:
                i = cm.state_ids.index(col)
                x_mask[i] = True
                x_refs[i] = self.ref(value, where)
            else:
                p_refs[cm.parameter_index(col)] = self.ref(value, where)
        return p_refs, x_mask, x_refs

    # --- observables --------------------------------------------------------------------
    def observable_definitions(self):
        df = self.observables
        where = self.files.observables
        if df is None or len(df) == 0:
            raise PEtabError(f"{where}: no observables")
        df = df.reset_index() if "observableId" not in df.columns else df
        for col in ("observableId", "observableFormula", "noiseFormula"):
            if col not in df.columns:  # PEtab requires noiseFormula; no sigma is assumed for it
                raise PEtabError(f"{where}, column {col!r}: this required column is missing")
        defs = {}
        self.noise_definitions: dict[str, NoiseDefinition] = {}
        for row_no, row in enumerate(df.itertuples(index=False), start=2):
            row = row._asdict()
            if is_missing(row["observableId"]):
                raise PEtabError(f"{where}, row {row_no}, column 'observableId': empty observable id")
            oid = str(row["observableId"]).strip()
            at = f"{where}, row {row_no} (observable {oid!r})"
            if oid in self.noise_definitions:
                raise PEtabError(f"{at}, column 'observableId': duplicated (first in row "
                                 f"{self.noise_definitions[oid].row}); each observable must be defined once")
            formula = self._formula(row.get("observableFormula"), f"{at}, column 'observableFormula'")
            noise_cell = row["noiseFormula"]
            noise = self._formula(noise_cell, f"{at}, column 'noiseFormula'")
            self.noise_definitions[oid] = NoiseDefinition(oid, noise, str(noise_cell).strip(), row_no, at)
            check_constant_sigma(self.noise_definitions[oid])
            transform = "lin" if is_missing(row.get("observableTransformation")) else str(row["observableTransformation"]).strip()
            dist = "normal" if is_missing(row.get("noiseDistribution")) else str(row["noiseDistribution"]).strip()
            if transform not in TRANSFORMS:
                raise PEtabError(f"{at}, column 'observableTransformation': {transform!r} is not one of {TRANSFORMS}")
            if dist not in DISTRIBUTIONS:
                raise PEtabError(f"{at}, column 'noiseDistribution': {dist!r} is not one of {DISTRIBUTIONS}")
            obs_ph = self._placeholders(formula, "observable", oid, at) | self._placeholders(noise, "observable", oid, at)
            noise_ph = self._placeholders(noise, "noise", oid, at) | self._placeholders(formula, "noise", oid, at)
            obs_syms = [symbol(f"observableParameter{i}_{oid}") for i in range(1, max(obs_ph, default=0) + 1)]
            noise_syms = [symbol(f"noiseParameter{i}_{oid}") for i in range(1, max(noise_ph, default=0) + 1)]
            petab_syms = [symbol(pid) for pid in self.petab_only]
            allowed = set(self.cm.state_symbols) | set(self.cm.parameter_symbols) | {TIME}
            allowed |= set(obs_syms) | set(noise_syms) | set(petab_syms)
            for e, col in ((formula, "observableFormula"), (noise, "noiseFormula")):
                unknown = self.cm.resolve(e).free_symbols - allowed
                if unknown:
                    names = ", ".join(sorted(s.name for s in unknown))
                    raise PEtabError(f"{at}, column {col!r}: unknown id(s) {names}")
            fn = self.cm.function_of_state([formula, noise], extra=[obs_syms, noise_syms, petab_syms])
            defs[oid] = (fn, len(obs_syms), len(noise_syms), TRANSFORMS.index(transform), dist == "laplace")
        return defs

    def _formula(self, value, where: str) -> sp.Expr:
        if is_missing(value):
            raise PEtabError(f"{where}: empty formula")
        if isinstance(value, (int, float)):
            return sp.Float(value)
        return as_expr(str(value), where=where)

    @staticmethod
    def _placeholders(expr: sp.Expr, kind: str, oid: str, where: str) -> set[int]:
        found = set()
        for s in expr.free_symbols:
            match = _PLACEHOLDER.match(s.name)
            if match and match.group(1) == kind:
                if match.group(3) != oid:
                    raise PEtabError(f"{where}: placeholder {s.name!r} belongs to another observable")
                found.add(int(match.group(2)))
        return found

    def override_refs(self, cell, n: int, where: str) -> list[int]:
        if n == 0:
            if not is_missing(cell):  # PEtab: a value for a placeholder that does not exist
                raise PEtabError(f"{where}: the observable's formulas have no such placeholders, so this "
                                 f"must be empty (got {str(cell)!r})")
            return []
        if is_missing(cell):
            raise PEtabError(f"{where}: {n} value(s) needed (numbers or parameter ids separated by ';')")
        parts = [cell] if isinstance(cell, (int, float, np.number)) else str(cell).split(";")
        if len(parts) != n:
            raise PEtabError(f"{where}: {n} value(s) needed, got {len(parts)} ({cell!r})")
        return [self.ref(v, where) for v in parts]

    # --- everything -------------------------------------------------------------------
    def build(self) -> ProblemArrays:
        cm = self.cm
        mdf = self.measurements
        where = self.files.measurements
        if mdf is None or len(mdf) == 0:
            raise PEtabError(f"{where}: no measurements")
        for col in ("observableId", "simulationConditionId", "time", "measurement"):
            if col not in mdf.columns:
                raise PEtabError(f"{where}: required column {col!r} is missing")
        self.check_condition_table()
        defs = self.observable_definitions()
        self.noise_checks = NoiseParameterChecks(self.space, self.parameter_rows, self.files.parameters, self.pool_value)
        for definition in self.noise_definitions.values():
            self.noise_checks.check_formula(definition)

        contexts: list[tuple[str | None, str]] = []
        ctx_index: dict[tuple, int] = {}
        rows = []
        for row_no, row in enumerate(mdf.itertuples(index=False), start=2):
            row = row._asdict()
            at = f"{where}, row {row_no}"
            oid = str(row["observableId"]).strip()
            if oid not in defs:
                raise PEtabError(f"{at}, column 'observableId': {oid!r} is not in the {self.files.observables}")
            sim = str(row["simulationConditionId"]).strip()
            pre = row.get("preequilibrationConditionId")
            pre = None if is_missing(pre) else str(pre).strip()
            for cid, col in ((sim, "simulationConditionId"), (pre, "preequilibrationConditionId")):
                if cid is not None and cid not in self.conditions.index:
                    raise PEtabError(f"{at}, column {col!r}: condition {cid!r} is not in the {self.files.conditions}")
            t = as_float(row["time"])
            start = self.start_times.get(sim, 0.0)
            if t is None or math.isnan(t) or t < start:
                raise PEtabError(f"{at}, column 'time': must be a number >= {start:g} (the simulation's start) or "
                                 f"'inf' (steady state), got {shown(row['time'])}")
            m = as_float(row["measurement"])
            if m is None or not math.isfinite(m):
                raise PEtabError(f"{at}, column 'measurement': must be a finite number, got {shown(row['measurement'])}")
            fn, n_obs, n_noise, tcode, laplace = defs[oid]
            if tcode and m <= 0 and not math.isnan(m):
                raise PEtabError(f"{at}, column 'measurement': {m} is not positive, but observable {oid!r} is log-transformed")
            obs_refs = self.override_refs(row.get("observableParameters"), n_obs, f"{at}, column 'observableParameters'")
            noise_refs = self.override_refs(row.get("noiseParameters"), n_noise, f"{at}, column 'noiseParameters'")
            self.noise_checks.check_overrides(self.noise_definitions[oid], noise_refs, f"{at}, column 'noiseParameters'")
            key = (pre, sim)
            if key not in ctx_index:
                ctx_index[key] = len(contexts)
                contexts.append(key)
            rows.append((ctx_index[key], oid, t, m, obs_refs, noise_refs))

        groups, placement, preequilibrations = self._groups(contexts, rows)
        # sort measurement rows by (group, position in group)
        n = len(rows)
        group_of_row = np.array([placement[r[0]][0] for r in rows])
        order = np.argsort(group_of_row, kind="stable")
        local_context = np.empty(n, dtype=np.int32)
        time_slot = np.empty(n, dtype=np.int32)
        for k, r in enumerate(rows):
            g, local, slots = placement[r[0]]
            local_context[k] = local
            time_slot[k] = slots[r[2]]
        obs_arrays = []
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        for oid, (fn, n_obs, n_noise, _, _) in defs.items():
            members = [k for k, r in enumerate(rows) if r[1] == oid]
            if not members:
                continue
            obs_arrays.append(ObservableArrays(
                oid,
                position[members],
                np.array([rows[k][4] for k in members], dtype=np.int32).reshape(len(members), n_obs),
                np.array([rows[k][5] for k in members], dtype=np.int32).reshape(len(members), n_noise),
                fn,
                self.noise_definitions[oid].text,
                self.noise_definitions[oid].where,
            ))
        event_fn = vector_function([cm.resolve(ev.time) for ev in cm.events], [cm.parameter_symbols])
        jump_fn = vector_function(list(cm.jump_time_exprs), [cm.parameter_symbols])
        return ProblemArrays(
            parameters=self.space,
            constants=np.array(self.constants, dtype=float),
            contexts=contexts,
            groups=groups,
            preequilibrations=preequilibrations,
            order=order,
            group_of_row=group_of_row[order],
            local_context=local_context[order],
            time_slot=time_slot[order],
            time=np.array([r[2] for r in rows])[order],
            measured=np.array([r[3] for r in rows])[order],
            transform_codes=np.array([defs[r[1]][3] for r in rows], dtype=np.int32)[order],
            laplace=np.array([defs[r[1]][4] for r in rows], dtype=bool)[order],
            observables=obs_arrays,
            petab_only_ids=self.petab_only,
            event_time_fn=event_fn,
            jump_time_fn=jump_fn,
            files=self.files,
        )

    def _groups(self, contexts, rows):
        """Group contexts by solve structure; map each to (group, local index, time -> slot)."""
        cm = self.cm
        times: dict[int, set[float]] = {c: set() for c in range(len(contexts))}
        for c, _, t, *_ in rows:
            times[c].add(t)
        pre_ids = list(dict.fromkeys(pre for pre, _ in contexts if pre is not None))
        pre_arrays = [self.condition_arrays(pre) for pre in pre_ids]
        per_ctx = []
        for c, (pre, sim) in enumerate(contexts):
            # An unset (NaN) species keeps its pre-equilibrated value, or else its model default.
            p_refs, x_mask, x_refs = self.condition_arrays(sim)
            finite = sorted(t for t in times[c] if math.isfinite(t))
            has_inf = any(math.isinf(t) for t in times[c])
            pre_index = pre_ids.index(pre) if pre is not None else 0
            per_ctx.append([pre is not None, (), has_inf, finite, p_refs, x_mask, x_refs, pre_index,
                            self.start_times.get(sim, 0.0)])
        if cm.events:
            # Events fire in the order of their times at the nominal parameters. An event at
            # +inf that no estimated parameter moves never fires, so it is left out (a PEtab v2
            # experiment's periods are events at times only that experiment sets finite).
            nominal_pool = np.concatenate([self.space.nominal, np.array(self.constants, dtype=float)])
            times = [cm.resolve(ev.time) for ev in cm.events]
            event_times = vector_function(times, [cm.parameter_symbols])
            estimated = set(np.flatnonzero(self.space.estimate).tolist())
            uses = [[i for i, s in enumerate(cm.parameter_symbols) if s in t.free_symbols] for t in times]
            for info in per_ctx:
                ev_t = np.asarray(event_times(nominal_pool[info[4]]))
                fires = [k for k in range(len(times))
                         if ev_t[k] != np.inf or any(int(info[4][i]) in estimated for i in uses[k])]
                info[1] = tuple(sorted(fires, key=lambda k: ev_t[k]))
        keys: dict[tuple, list[int]] = {}
        for c, info in enumerate(per_ctx):
            keys.setdefault(tuple(info[:3]), []).append(c)
        groups, placement = [], {}
        for g, (key, members) in enumerate(keys.items()):
            width = max(max(len(per_ctx[c][3]) for c in members), 1)
            ts = np.zeros((len(members), width))
            for local, c in enumerate(members):
                finite = per_ctx[c][3] or [per_ctx[c][8]]
                ts[local, : len(finite)] = finite
                ts[local, len(finite):] = finite[-1]
                slots = {t: i for i, t in enumerate(per_ctx[c][3])}
                slots[math.inf] = width  # the steady-state slot after the time course
                placement[c] = (g, local, slots)
            stack = lambda k: np.stack([per_ctx[c][k] for c in members])  # noqa: E731
            groups.append(GroupArrays(
                contexts=np.array(members), preequilibrate=key[0], event_order=key[1], steady_state_output=key[2],
                ts=ts, t0=np.array([per_ctx[c][8] for c in members], dtype=float),
                p_refs=stack(4), x0_mask=stack(5), x0_refs=stack(6),
                pre_index=np.array([per_ctx[c][7] for c in members], dtype=np.int32),
            ))
        preequilibrations = None
        if pre_ids:
            preequilibrations = PreequilibrationArrays(
                pre_ids, *(np.stack([a[k] for a in pre_arrays]) for k in range(3))
            )
        return groups, placement, preequilibrations


def build_arrays(cm: CompiledModel, measurements, observables, conditions, parameters, files: Files = Files(),
                 start_times: Mapping[str, float] | None = None, petab_version: int = 1) -> ProblemArrays:
    """Check the tables against the compiled model and build the evaluation arrays.

    ``start_times`` maps a simulation condition id to the time its simulation starts (0
    where absent); ``petab_version`` is that of :func:`read_parameter_space`."""
    return _Builder(cm, measurements, observables, conditions, parameters, files, start_times or {},
                    petab_version).build()
