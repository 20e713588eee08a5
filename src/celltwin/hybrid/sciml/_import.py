"""Build a :class:`~celltwin.hybrid.HybridProblem` from a PEtab SciML problem directory."""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from pathlib import Path

import pandas as pd
import sympy as sp

from ...errors import UnsupportedFeatureError
from ...model import from_sbml
from ...model._model import symbol
from .._problem import HybridProblem
from .._spec import (
    ArrayInput,
    Experiment,
    NetworkArrays,
    NeuralTerm,
    Observable,
    ParameterRow,
)
from ._errors import SciMLError
from ._network import Network, read_network
from ._tables import (
    expression,
    parse_mapping,
    parse_number,
    parse_prior,
    read_array_files,
    read_problem_yaml,
    read_table,
)

_NOISE = {"normal": ("lin", "normal"), "laplace": ("lin", "laplace"), "log-normal": ("log", "normal"),
          "log-laplace": ("log", "laplace"), "": ("lin", "normal")}


def from_petab_sciml(path: str | Path, *, settings=None) -> HybridProblem:
    """Read a PEtab SciML problem (``problem.yaml`` of format v2 with a ``sciml`` extension).

    Raises:
        SciMLError: a file is missing or inconsistent (named with row and column).
        UnsupportedFeatureError: the problem uses a layer or feature celltwin does not support.
    """
    path = Path(path)
    raw = read_problem_yaml(path)
    root = path.parent
    sciml = raw["extensions"]["sciml"]

    def files(key, section=raw):
        return [root / f for f in (section.get(key) or [])]

    models = raw.get("model_files") or {}
    if len(models) != 1:
        raise UnsupportedFeatureError(f"{path}: exactly one model file is supported, got {len(models)}")
    (model_entry,) = models.values()
    if str(model_entry.get("language", "sbml")).lower() != "sbml":
        raise UnsupportedFeatureError(f"{path}: model language {model_entry.get('language')!r} (only sbml)")
    model = from_sbml(root / model_entry["location"])
    specs = {nid: read_network(root / entry["location"]) for nid, entry in (sciml.get("neural_networks") or {}).items()}
    pre = {nid: bool(entry.get("pre_initialization", False)) for nid, entry in sciml["neural_networks"].items()}
    weights, array_inputs = read_array_files(files("array_files", sciml))

    mapping = {}
    for f in files("mapping_files"):
        mapping.update(parse_mapping(read_table(f, ("petabEntityId", "modelEntityId")), f))
    hybrid = {}
    for f in files("hybridization_files", sciml):
        df = read_table(f, ("targetId", "targetValue"))
        for k, r in df.iterrows():
            value = r["targetValue"].strip()
            hybrid[r["targetId"].strip()] = value if value == "array" else expression(
                value, f"{f}, row {k + 2}, column targetValue")

    parameters, network_rows = _parameters(files("parameter_files"), mapping)
    terms = [_term(nid, spec, mapping, hybrid, array_inputs, weights.get(nid), pre[nid], path)
             for nid, spec in specs.items()]
    net_inputs = {pid for pid, e in mapping.items() if e.kind == "inputs"}
    model_targets = {k: v for k, v in hybrid.items() if k not in net_inputs}
    for k, v in model_targets.items():
        if isinstance(v, str):
            raise SciMLError(f"{path}: hybridization target {k!r} = 'array' is not a network input")
    array_conditions = {c for per_condition in array_inputs.values() for c in per_condition}
    experiments = _experiments(files("experiment_files"), files("condition_files"), array_conditions)
    observables = _observables(files("observable_files"))
    measurements = pd.concat([_measurements(f) for f in files("measurement_files")], ignore_index=True)
    arrays = [NetworkArrays(nid, tuple(rows)) for nid, rows in network_rows.items()]
    problem = HybridProblem(model, terms, parameters, experiments, observables, measurements,
                            hybridization=model_targets, network_arrays=arrays, settings=settings, name=str(path))
    problem.source = functools.partial(from_petab_sciml, path.resolve(), settings=settings)
    return problem


def _parameters(paths, mapping):
    rows, network_rows = [], defaultdict(list)
    for path in paths:
        df = read_table(path, ("parameterId", "nominalValue", "estimate"))
        for k, r in df.iterrows():
            where = f"{path}, row {k + 2}"
            pid = r["parameterId"].strip()
            estimate = r["estimate"].strip().lower() in ("true", "1")
            prior = parse_prior(r, where)
            entity = mapping.get(pid)
            if entity is not None and entity.kind == "parameters":
                nominal = r["nominalValue"].strip()
                value = None if nominal == "array" else parse_number(nominal, f"{where}, column nominalValue")
                specificity = (entity.layer is not None) + (entity.array is not None)
                network_rows[entity.network].append((specificity, (entity.layer, entity.array, estimate, value, prior)))
                continue
            scale = (r.get("parameterScale") or "lin").strip() or "lin"
            if scale not in ("lin", "log", "log10"):
                raise SciMLError(f"{where}, column parameterScale: {scale!r} (lin, log or log10)")
            rows.append(ParameterRow(
                pid, scale, parse_number(r.get("lowerBound") or "-inf", f"{where}, column lowerBound"),
                parse_number(r.get("upperBound") or "inf", f"{where}, column upperBound"),
                parse_number(r["nominalValue"], f"{where}, column nominalValue"), estimate, prior))
    ordered = {net: [row for _, row in sorted(items, key=lambda t: t[0])] for net, items in network_rows.items()}
    return rows, ordered


def _term(nid, spec, mapping, hybrid, array_inputs, weights, pre, path) -> NeuralTerm:
    elements: dict[int, dict[int, str]] = defaultdict(dict)
    whole: dict[int, str] = {}
    outputs = {}
    for pid, e in mapping.items():
        if e.network != nid:
            continue
        if e.kind == "inputs":
            (elements[e.arg].__setitem__(e.index, pid) if e.index is not None else whole.__setitem__(e.arg, pid))
        elif e.kind == "outputs":
            outputs[pid] = (e.arg, e.index or 0)
    inputs, input_ids = [], []
    for a in range(spec.n_inputs):
        if a in whole:
            pid = whole[a]
            if hybrid.get(pid) != "array" and pid not in array_inputs:
                raise UnsupportedFeatureError(f"{path}: input {a} of network {nid!r} ({pid!r}) must be given by an "
                                              "array file (hybridization targetValue 'array')")
            if pid not in array_inputs:
                raise SciMLError(f"{path}: no array for network input {pid!r} in the array files")
            inputs.append(ArrayInput(array_inputs[pid]))
            input_ids.append(())
        elif a in elements:
            n = max(elements[a]) + 1
            if set(elements[a]) != set(range(n)):
                raise SciMLError(f"{path}: input {a} of network {nid!r}: elements {sorted(elements[a])} are mapped, "
                                 f"not 0..{n - 1}")
            ids = tuple(elements[a][i] for i in range(n))
            inputs.append(tuple(hybrid[i] if isinstance(hybrid.get(i), sp.Basic) else symbol(i) for i in ids))
            input_ids.append(ids)
        else:
            raise SciMLError(f"{path}: input {a} of network {nid!r} is not mapped in the mapping table")
    if not outputs:
        raise SciMLError(f"{path}: network {nid!r} has no output in the mapping table")
    module = Network.from_spec(spec, weights or {})
    return NeuralTerm(nid, module, tuple(inputs), outputs, "pre" if pre else "dynamic", tuple(input_ids))


def _experiments(exp_paths, cond_paths, array_conditions=frozenset()):
    """Experiments with their condition's targets; a condition may also be defined only by
    condition-specific arrays in the array files."""
    conditions: dict[str, dict] = defaultdict(dict)
    for path in cond_paths:
        df = read_table(path, ("conditionId", "targetId", "targetValue"))
        for k, r in df.iterrows():
            conditions[r["conditionId"].strip()][r["targetId"].strip()] = expression(
                r["targetValue"], f"{path}, row {k + 2}, column targetValue")
    out, seen = [], set()
    for path in exp_paths:
        df = read_table(path, ("experimentId", "time"))
        for k, r in df.iterrows():
            eid = r["experimentId"].strip()
            where = f"{path}, row {k + 2}"
            if eid in seen:
                raise UnsupportedFeatureError(f"{where}: experiment {eid!r} has several periods; only one period "
                                              "starting at time 0 is supported")
            seen.add(eid)
            if parse_number(r["time"], f"{where}, column time") != 0.0:
                raise UnsupportedFeatureError(f"{where}, column time: experiments must start at time 0")
            cid = (r.get("conditionId") or "").strip() or None
            if cid is not None and cid not in conditions and cid not in array_conditions:
                raise SciMLError(f"{where}, column conditionId: unknown condition {cid!r}")
            out.append(Experiment(eid, cid, dict(conditions.get(cid, {}))))
    return out


def _observables(paths):
    out = []
    for path in paths:
        df = read_table(path, ("observableId", "observableFormula", "noiseFormula"))
        for k, r in df.iterrows():
            where = f"{path}, row {k + 2}"
            for col in ("observablePlaceholders", "noisePlaceholders"):
                if (r.get(col) or "").strip():
                    raise UnsupportedFeatureError(f"{where}, column {col}: placeholders are not supported")
            dist = (r.get("noiseDistribution") or "").strip()
            if dist not in _NOISE:
                raise UnsupportedFeatureError(f"{where}, column noiseDistribution: {dist!r}")
            transform, family = _NOISE[dist]
            explicit = (r.get("observableTransformation") or "").strip()
            if explicit:
                if explicit not in ("lin", "log", "log10"):
                    raise SciMLError(f"{where}, column observableTransformation: {explicit!r}")
                transform = explicit
            out.append(Observable(r["observableId"].strip(),
                                  expression(r["observableFormula"], f"{where}, column observableFormula"),
                                  expression(r["noiseFormula"], f"{where}, column noiseFormula"), transform, family))
    return out


def _measurements(path) -> pd.DataFrame:
    df = read_table(path, ("observableId", "experimentId", "time", "measurement"))
    for col in ("observableParameters", "noiseParameters"):
        if col in df.columns and (df[col].str.strip() != "").any():
            raise UnsupportedFeatureError(f"{path}, column {col}: per-measurement parameters are not supported")
    out = df[["observableId", "experimentId", "time", "measurement"]].copy()
    for col in ("time", "measurement"):
        out[col] = [parse_number(v, f"{path}, row {k + 2}, column {col}") for k, v in out[col].items()]
    if not all(math.isfinite(t) for t in out["time"]):
        raise UnsupportedFeatureError(f"{path}: steady-state (time = inf) measurements are not supported")
    return out
