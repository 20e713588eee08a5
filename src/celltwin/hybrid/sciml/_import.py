"""Build a :class:`~celltwin.hybrid.HybridProblem` from a PEtab SciML problem: the PEtab v2
problem read by :func:`celltwin.petab.read_petab` with the SciML extension, and the networks,
mapping, hybridization and arrays that the extension adds."""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from pathlib import Path

import pandas as pd
import sympy as sp

from ...errors import UnsupportedFeatureError
from ...model import symbol
from ...petab import PEtabSource, read_petab
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
    SCIML,
    expression,
    parse_mapping,
    parse_number,
    parse_prior,
    read_array_files,
    tables,
)

_NOISE = {"normal": ("lin", "normal"), "laplace": ("lin", "laplace"), "log-normal": ("log", "normal"),
          "log-laplace": ("log", "laplace"), "": ("lin", "normal")}


def from_petab_sciml(path: str | Path, *, settings=None) -> HybridProblem:
    """Read a PEtab SciML problem (``problem.yaml`` of format v2 with a ``sciml`` extension).

    Raises:
        PEtabError, SBMLError: a file is missing or malformed (named with row and column);
            SciMLError (a PEtabError) for the SciML files and the SciML meaning of the tables.
        UnsupportedFeatureError: the problem uses a layer or feature celltwin does not support.
    """
    path = Path(path)
    source = read_petab(path, extension=SCIML)
    sciml = source.extension_section
    model = source.model()
    networks = sciml.get("neural_networks") or {}
    if not isinstance(networks, dict) or not all(isinstance(e, dict) and "location" in e for e in networks.values()):
        raise SciMLError(f"{path}: extensions.sciml.neural_networks must map each network id to a mapping with "
                         "its 'location' (the network's YAML file)")
    specs = {nid: read_network(path.parent / entry["location"]) for nid, entry in networks.items()}
    pre = {nid: bool(entry.get("pre_initialization", False)) for nid, entry in networks.items()}
    weights, array_inputs = read_array_files(source.files.extension["array_files"])

    mapping = {}
    for f, df in tables(source, "mapping", ("petabEntityId", "modelEntityId")):
        mapping.update(parse_mapping(df, f, networks=list(specs)))
    net_inputs = {pid for pid, e in mapping.items() if e.kind == "inputs"}
    model_ids = {*model.parameters, *model.species, *model.compartments}
    hybrid = {}
    for f, df in tables(source, "hybridization", ("targetId", "targetValue")):
        for k, r in df.iterrows():
            target, value = r["targetId"].strip(), r["targetValue"].strip()
            if target not in net_inputs and target not in model_ids:
                raise SciMLError(f"{f}, row {k + 2}, column targetId: {target!r} is neither a network input of the "
                                 "mapping table nor a parameter, species or compartment of the model")
            hybrid[target] = value if value == "array" else expression(value, f"{f}, row {k + 2}, column targetValue")

    parameters, network_rows = _parameters(source, mapping)
    terms = [_term(nid, spec, mapping, hybrid, array_inputs, weights.get(nid), pre[nid], path)
             for nid, spec in specs.items()]
    model_targets = {k: v for k, v in hybrid.items() if k not in net_inputs}
    for k, v in model_targets.items():
        if isinstance(v, str):
            raise SciMLError(f"{path}: hybridization target {k!r} = 'array' is not a network input")
    array_conditions = {c for per_condition in array_inputs.values() for c in per_condition}
    experiments = _experiments(source, array_conditions)
    observables = _observables(source)
    ids = {o.id for o in observables}, {e.id for e in experiments}
    measurements = pd.concat([_measurements(f, df, *ids) for f, df in
                              tables(source, "measurement", ("observableId", "experimentId", "time", "measurement"))],
                             ignore_index=True)
    arrays = [NetworkArrays(nid, tuple(rows)) for nid, rows in network_rows.items()]
    problem = HybridProblem(model, terms, parameters, experiments, observables, measurements,
                            hybridization=model_targets, network_arrays=arrays, settings=settings, name=str(path))
    problem.source = functools.partial(from_petab_sciml, path.resolve(), settings=settings)
    return problem


def _parameters(source: PEtabSource, mapping):
    """Parameter rows (ids are unique: checked when the tables are read) and each network's
    weight rows, most specific last."""
    rows, network_rows = [], defaultdict(list)
    for path, df in tables(source, "parameter", ("parameterId", "nominalValue", "estimate")):
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
    inputs: list[ArrayInput | tuple] = []
    input_ids: list[tuple[str, ...]] = []
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
                where = mapping[elements[a][n - 1]].where or path  # the row of the highest element
                raise SciMLError(f"{where}: input {a} of network {nid!r}: elements {sorted(elements[a])} are mapped, "
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


def _experiments(source: PEtabSource, array_conditions=frozenset()):
    """Experiments with their condition's targets; a condition may also be defined only by
    condition-specific arrays in the array files."""
    conditions: dict[str, dict] = defaultdict(dict)
    for path, df in tables(source, "condition", ("conditionId", "targetId", "targetValue")):
        for k, r in df.iterrows():
            conditions[r["conditionId"].strip()][r["targetId"].strip()] = expression(
                r["targetValue"], f"{path}, row {k + 2}, column targetValue")
    out, seen = [], set()
    for path, df in tables(source, "experiment", ("experimentId", "time")):
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
            out.append(Experiment(eid, cid, dict(conditions.get(cid, {})) if cid is not None else {}))
    return out


def _observables(source: PEtabSource):
    """The observables (ids are unique: checked when the tables are read)."""
    out = []
    for path, df in tables(source, "observable", ("observableId", "observableFormula", "noiseFormula")):
        for k, r in df.iterrows():
            where = f"{path}, row {k + 2}"
            oid = r["observableId"].strip()
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
            noise = expression(r["noiseFormula"], f"{where}, column noiseFormula")
            if noise.is_number and not float(noise) > 0:  # a negative sigma gives the same likelihood as |sigma|
                raise SciMLError(f"{where}, column noiseFormula: a noise level must be positive, got "
                                 f"{r['noiseFormula'].strip()!r}")
            out.append(Observable(oid, expression(r["observableFormula"], f"{where}, column observableFormula"),
                                  noise, transform, family))
    return out


def _measurements(path, df, observable_ids, experiment_ids) -> pd.DataFrame:
    for col in ("observableParameters", "noiseParameters"):
        if col in df.columns and (df[col].str.strip() != "").any():
            raise UnsupportedFeatureError(f"{path}, column {col}: per-measurement parameters are not supported")
    out = df[["observableId", "experimentId", "time", "measurement"]].copy()
    for col in ("time", "measurement"):
        out[col] = [parse_number(v, f"{path}, row {k + 2}, column {col}") for k, v in out[col].items()]
    if not all(math.isfinite(t) for t in out["time"]):
        raise UnsupportedFeatureError(f"{path}: steady-state (time = inf) measurements are not supported")
    for k, r in out.iterrows():
        where = f"{path}, row {k + 2}"
        if r["observableId"].strip() not in observable_ids:
            raise SciMLError(f"{where}, column observableId: unknown observable {r['observableId']!r} "
                             f"(observables: {', '.join(sorted(observable_ids))})")
        if r["experimentId"].strip() not in experiment_ids:
            raise SciMLError(f"{where}, column experimentId: unknown experiment {r['experimentId']!r} "
                             f"(experiments: {', '.join(sorted(experiment_ids))})")
        if not math.isfinite(r["measurement"]):
            raise SciMLError(f"{where}, column measurement: must be a finite number, got {r['measurement']}")
    return out
