"""The SciML side of a PEtab SciML problem's files: the extension (:data:`SCIML`) that
:func:`celltwin.petab.read_petab` reads with the PEtab v2 tables, and the typed rows of the
mapping, hybridization and array files.

Validation problems name the file, the row (as a spreadsheet shows it: header = row 1)
and the column.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from ...errors import UnsupportedFeatureError
from ...model import as_expr
from ...petab import Extension, PEtabSource, check_ids, require_columns
from ...problem import Prior
from ._errors import SciMLError

_NET_IO = re.compile(r"^(?P<net>[A-Za-z_]\w*)\.(?P<kind>inputs|outputs)\[(?P<arg>\d+)\](?:\[(?P<idx>\d+)\])?$")
_NET_PS = re.compile(r"^(?P<net>[A-Za-z_]\w*)\.parameters(?:\[(?P<layer>[A-Za-z_]\w*)\](?:\.(?P<array>\w+))?)?$")


@dataclasses.dataclass(frozen=True)
class NetworkEntity:
    """A mapping-table target inside a network: an input/output element or a set of weights."""

    network: str
    kind: str  # "inputs", "outputs" or "parameters"
    arg: int | None = None
    index: int | None = None
    layer: str | None = None
    array: str | None = None
    where: str = dataclasses.field(default="", compare=False)  # file, row and column, for messages


# The extension's section lists hybridization tables (read like the v2 tables) and HDF5 array files.
SCIML = Extension("sciml", tables={"hybridization_files": "hybridization"}, files=("array_files",))

_ID_COLUMNS = ("parameterId", "conditionId", "experimentId", "observableId", "petabEntityId", "targetId")


def tables(source: PEtabSource, kind: str, required: tuple[str, ...]) -> Iterator[tuple[Path, pd.DataFrame]]:
    """The files of one table kind with ``required`` columns; the cells of id columns are PEtab
    ids (they become symbol names)."""
    for path, df in source.tables.get(kind, []):
        require_columns(path, df, required)
        for column in _ID_COLUMNS:
            if column in df.columns:
                check_ids(path, df, column)
        yield path, df


def parse_number(text: str, where: str) -> float:
    t = text.strip().lower()
    if t in ("inf", "+inf"):
        return math.inf
    if t == "-inf":
        return -math.inf
    try:
        return float(t)
    except ValueError:
        raise SciMLError(f"{where}: {text!r} is not a number") from None


def expression(text: str, where: str):
    if text.strip() == "":
        raise SciMLError(f"{where}: empty value")
    return as_expr(text, where=where)


def parse_mapping(df: pd.DataFrame, path: Path, networks=None) -> dict[str, NetworkEntity]:
    """The mapping table's network entities; ``networks``: the problem's network ids, if known."""
    out = {}
    for k, r in df.iterrows():
        where = f"{path}, row {k + 2}, column modelEntityId"
        target = r["modelEntityId"].strip()
        m = _NET_IO.match(target) or _NET_PS.match(target)
        if m is not None and networks is not None and m["net"] not in networks:
            raise SciMLError(f"{where}: {target!r} names network {m['net']!r}, which the problem file does not "
                             f"define (networks: {', '.join(networks) or 'none'})")
        if m is not None and m.re is _NET_IO:
            out[r["petabEntityId"]] = NetworkEntity(m["net"], m["kind"], int(m["arg"]),
                                                    None if m["idx"] is None else int(m["idx"]), where=where)
        elif m is not None:
            out[r["petabEntityId"]] = NetworkEntity(m["net"], "parameters", layer=m["layer"], array=m["array"],
                                                    where=where)
        else:
            raise UnsupportedFeatureError(f"{where}: mapping to {target!r}; only network inputs, outputs and "
                                          "parameters (net.inputs[i][j], net.outputs[i][j], net.parameters[...]) "
                                          "are supported")
    return out


def parse_prior(r: pd.Series, where: str) -> Prior | None:
    kind = (r.get("priorDistribution") or r.get("objectivePriorType") or "").strip()
    if not kind:
        return None
    text = (r.get("priorParameters") or r.get("objectivePriorParameters") or "").strip()
    values = [parse_number(v, f"{where}, column priorParameters") for v in text.split(";") if v.strip()]
    if len(values) != 2:
        raise SciMLError(f"{where}, column priorParameters: expected two values 'a;b', got {text!r}")
    names = {"log-normal": "logNormal", "log-laplace": "logLaplace"}
    if kind not in {"normal", "laplace", "uniform", "logNormal", "logLaplace", *names}:
        raise UnsupportedFeatureError(f"{where}, column priorDistribution: {kind!r}")
    return Prior(names.get(kind, kind), values[0], values[1])


def read_array_files(paths: list[Path]) -> tuple[dict, dict]:
    """``(network weights {net: {layer: {array: value}}}, inputs {petab id: {condition or '0': array}})``."""
    weights, inputs = {}, {}
    for path in paths:
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise SciMLError(f"{path}: cannot read the array file: {exc}") from exc
        with f:
            fmt = f.get("metadata/pytorch_format")
            if fmt is not None and not bool(fmt[()]):
                raise UnsupportedFeatureError(f"{path}: arrays in Julia (column-major) layout; only PyTorch layout "
                                              "(metadata/pytorch_format = 1) is supported")
            for net, group in (f.get("parameters") or {}).items():
                weights[net] = {layer: {a: np.asarray(d[()], dtype=float) for a, d in g.items()}
                                for layer, g in group.items()}
            for pid, group in (f.get("inputs") or {}).items():
                inputs[pid] = {cond: np.asarray(d[()], dtype=float) for cond, d in group.items()}
    return weights, inputs
