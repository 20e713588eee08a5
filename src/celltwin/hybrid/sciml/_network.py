"""A PEtab SciML network: its YAML definition parsed into a typed graph, run as an Equinox module."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import equinox as eqx
import h5py
import jax.numpy as jnp
import numpy as np

from ..._textfile import read_yaml
from ...errors import UnsupportedFeatureError
from ._errors import SciMLError
from ._layers import (
    FUNCTIONS,
    LAYERS,
    TENSOR_FUNCTIONS,
    initial_parameters,
    parameter_shapes,
)


@dataclasses.dataclass(frozen=True)
class Layer:
    id: str
    type: str
    args: dict


@dataclasses.dataclass(frozen=True)
class Node:
    """One step of the forward graph (torch.fx's node: placeholder, call_module, call_function, ...)."""

    name: str
    op: str
    target: str
    args: tuple
    kwargs: dict


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """A network definition: layers plus the forward graph, as in the format's YAML file."""

    id: str
    layers: tuple[Layer, ...]
    forward: tuple[Node, ...]
    source: str = "<memory>"

    @property
    def n_inputs(self) -> int:
        return sum(1 for n in self.forward if n.op == "placeholder")

    def layer(self, layer_id: str) -> Layer:
        for lay in self.layers:
            if lay.id == layer_id:
                return lay
        raise KeyError(layer_id)

    def initial_parameters(self, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
        """Parameters drawn as PyTorch initialises them (for training from scratch)."""
        rng = np.random.default_rng(seed)
        return {lay.id: initial_parameters(lay.type, lay.args, rng) for lay in self.layers}


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def read_network(path: str | Path) -> NetworkSpec:
    """Parse a network YAML file; unsupported layers and functions raise, naming all of them."""
    path = Path(path)
    raw = read_yaml(path, "network definition", SciMLError)
    return parse_network(raw, str(path))


def _check_entries(entries, key: str, required: tuple[str, ...], optional: dict[str, type], source: str) -> None:
    """``entries`` is a list of mappings with the ``required`` keys and ``optional`` ones of
    the given type; errors name the entry (the YAML file's content is not trusted)."""
    if not isinstance(entries, list):
        raise SciMLError(f"{source}: {key!r} must be a list, got {type(entries).__name__}")
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SciMLError(f"{source}: {key}[{k}] must be a mapping, got {type(entry).__name__}")
        missing = [r for r in required if r not in entry]
        if missing:
            raise SciMLError(f"{source}: {key}[{k}] has no {', '.join(missing)}")
        for name, kind in optional.items():
            if entry.get(name) is not None and not isinstance(entry[name], kind):
                raise SciMLError(f"{source}: {key}[{k}].{name} must be a {'mapping' if kind is dict else 'list'}")


def parse_network(raw: dict, source: str = "<memory>") -> NetworkSpec:
    """A :class:`NetworkSpec` from the format's dictionary (the YAML file's content)."""
    if not isinstance(raw, dict):
        raise SciMLError(f"{source}: a network definition must be a mapping")
    missing = [k for k in ("nn_model_id", "layers", "forward") if k not in raw]
    if missing:
        raise SciMLError(f"{source}: missing key(s) {', '.join(missing)}")
    _check_entries(raw["layers"], "layers", ("layer_id", "layer_type"), {"args": dict}, source)
    _check_entries(raw["forward"], "forward", ("name", "op", "target"), {"args": list, "kwargs": dict}, source)
    layers = tuple(Layer(str(lay["layer_id"]), str(lay["layer_type"]), dict(lay.get("args") or {}))
                   for lay in raw["layers"])
    forward = tuple(Node(str(n["name"]), str(n["op"]), str(n["target"]), _hashable(list(n.get("args") or [])),
                         dict(n.get("kwargs") or {})) for n in raw["forward"])
    unsupported = sorted({f"layer {lay.id!r} of type {lay.type}" for lay in layers if lay.type not in LAYERS})
    for node in forward:
        if node.op in ("call_function", "call_method") and node.target not in FUNCTIONS | TENSOR_FUNCTIONS:
            unsupported.append(f"function {node.target!r} (forward node {node.name!r})")
        elif node.op not in ("placeholder", "call_module", "call_function", "call_method", "output"):
            unsupported.append(f"forward operation {node.op!r} (node {node.name!r})")
    if unsupported:
        raise UnsupportedFeatureError(
            f"{source}: network {raw['nn_model_id']!r} uses what celltwin does not support: "
            + "; ".join(unsupported) + f". Supported layers: {', '.join(sorted(LAYERS))}")
    ids = {lay.id for lay in layers}
    for node in forward:
        if node.op == "call_module" and node.target not in ids:
            raise SciMLError(f"{source}: forward node {node.name!r} calls layer {node.target!r}, which is not defined")
    for lay in layers:
        _check_sizes(lay, source)
    return NetworkSpec(str(raw["nn_model_id"]), layers, forward, source)


def _check_sizes(layer: Layer, source: str) -> None:
    """The layer's array sizes are whole numbers >= 1 (they come from the file, as any YAML value)."""
    try:
        shapes = parameter_shapes(layer.type, layer.args)
    except KeyError as exc:
        raise SciMLError(f"{source}: layer {layer.id!r} ({layer.type}) has no argument {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise SciMLError(f"{source}: layer {layer.id!r} ({layer.type}): bad arguments {layer.args} ({exc})") from None
    for size in (d for shape in shapes.values() for d in shape):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            names = [k for k, v in layer.args.items() if v == size] or ["a size"]
            raise SciMLError(f"{source}: layer {layer.id!r} ({layer.type}), argument {names[0]!r}: must be a whole "
                             f"number >= 1, got {size!r}")


def read_parameters(path: str | Path, network_id: str) -> dict[str, dict[str, np.ndarray]]:
    """Layer arrays of ``network_id`` from a parameter HDF5 file (``/parameters/<net>/<layer>/<array>``)."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        group = f.get(f"parameters/{network_id}")
        if group is None:
            raise SciMLError(f"{path}: no group /parameters/{network_id}")
        return {layer: {name: np.asarray(ds[()], dtype=float) for name, ds in g.items()} for layer, g in group.items()}


class Network(eqx.Module):
    """A PEtab SciML network as an Equinox module: ``net(*inputs)`` runs the forward graph.

    The trainable arrays are the leaves of ``parameters`` (``{layer: {array: value}}``), so
    ``eqx.partition(net, eqx.is_inexact_array)`` separates them from the static graph.
    """

    parameters: dict[str, dict[str, Any]]
    spec: NetworkSpec = eqx.field(static=True)

    @classmethod
    def from_spec(cls, spec: NetworkSpec, parameters: dict | None = None, *, seed: int = 0) -> Network:
        """The network with ``parameters`` (missing layers are initialised as PyTorch would)."""
        init = spec.initial_parameters(seed)
        given = parameters or {}
        params = {}
        for lay in spec.layers:
            arrays = dict(init.get(lay.id, {}))
            arrays.update(given.get(lay.id, {}))
            expected = parameter_shapes(lay.type, lay.args)
            for name, value in arrays.items():
                if name in expected and tuple(np.shape(value)) != tuple(expected[name]):
                    raise SciMLError(f"{spec.source}: layer {lay.id!r} array {name!r} has shape "
                                     f"{tuple(np.shape(value))}, expected {tuple(expected[name])}")
            params[lay.id] = {k: jnp.asarray(v, dtype=float) for k, v in arrays.items()}
        return cls(params, spec)

    def __call__(self, *inputs):
        spec = self.spec
        if len(inputs) != spec.n_inputs:
            raise TypeError(f"network {spec.id!r} takes {spec.n_inputs} input(s), got {len(inputs)}")
        env: dict[str, Any] = {}
        feed = iter(inputs)

        def value(a):
            if isinstance(a, tuple):
                return [value(v) for v in a]
            return env[a] if isinstance(a, str) and a in env else a

        for node in spec.forward:
            if node.op == "placeholder":
                env[node.name] = jnp.asarray(next(feed), dtype=float)
            elif node.op == "call_module":
                lay = spec.layer(node.target)
                env[node.name] = LAYERS[lay.type](self.parameters[lay.id], tuple(value(a) for a in node.args), lay.args)
            elif node.op in ("call_function", "call_method"):
                args = [value(a) for a in node.args]
                kwargs = {k: v for k, v in node.kwargs.items() if k not in ("inplace", "_stacklevel", "dtype")}
                if node.target in TENSOR_FUNCTIONS:
                    env[node.name] = TENSOR_FUNCTIONS[node.target](*args, **kwargs)
                else:
                    env[node.name] = FUNCTIONS[node.target](*args, **kwargs)
            elif node.op == "output":
                out = value(node.args[0])
                return tuple(out) if isinstance(out, list) else out
        raise SciMLError(f"{spec.source}: the forward graph of {spec.id!r} has no output node")
