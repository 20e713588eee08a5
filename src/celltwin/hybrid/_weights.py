"""Network weights as one flat vector: which entries are estimated, their priors, and back.

Every inexact array leaf of every neural term's module is addressed by a dotted name
(``layer1.weight`` for a PEtab SciML network, ``layers.0.weight`` for ``eqx.nn.MLP``), so
parameter-table rows can freeze or re-initialise a layer or one array of it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from ._spec import NetworkArrays, NeuralTerm

PRIOR_KINDS = {"normal": 0, "laplace": 1}


def _key_name(k) -> str:
    for attr in ("name", "key", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def leaf_names(module) -> list[str]:
    """Dotted names of the module's weight arrays, in flattening order."""
    params, _ = eqx.partition(module, eqx.is_inexact_array)
    paths = jax.tree_util.tree_flatten_with_path(params)[0]
    names = []
    for path, _ in paths:
        parts = [_key_name(k) for k in path]
        if parts and parts[0] == "parameters":  # PEtab SciML Network: {layer: {array}}
            parts = parts[1:]
        names.append(".".join(parts))
    return names


def _matches(name: str, layer: str | None, array: str | None, prefix: str) -> bool:
    if layer is None and array is not None:  # that array in every layer
        return name == array or name.endswith("." + array)
    return not prefix or name == prefix or name.startswith(prefix + ".")


class WeightLayout:
    """All networks' weights in one vector ``w``; ``theta`` holds its estimated entries."""

    def __init__(self, terms: Sequence[NeuralTerm], arrays: Sequence[NetworkArrays] = ()):
        self.ids = [t.id for t in terms]
        self.static = []
        self.unravel = []
        self.slices = []
        self.names: list[list[str]] = []
        chunks, offset = [], 0
        for term in terms:
            params, static = eqx.partition(term.module, eqx.is_inexact_array)
            flat, unravel = jax.flatten_util.ravel_pytree(params)
            self.static.append(static)
            self.unravel.append(unravel)
            self.slices.append(slice(offset, offset + flat.size))
            self.names.append(leaf_names(term.module))
            chunks.append(np.asarray(flat, dtype=float))
            offset += flat.size
        self.values = np.concatenate(chunks) if chunks else np.zeros(0)
        n = self.values.size
        self.estimated = np.ones(n, dtype=bool)
        self.prior_kind = np.full(n, -1, dtype=int)
        self.prior_a = np.zeros(n)
        self.prior_b = np.ones(n)
        by_id = {a.network: a for a in arrays}
        for t_i, term in enumerate(terms):
            if term.id in by_id:
                self._apply(t_i, term, by_id[term.id])
        self.index = np.flatnonzero(self.estimated)
        self.labels = [label for t_i in range(len(terms)) for label in self._element_labels(t_i)]

    def _leaf_ranges(self, t_i: int):
        start = self.slices[t_i].start
        sizes = [int(np.prod(np.shape(leaf))) for leaf in
                 jax.tree_util.tree_leaves(self.unravel[t_i](jnp.asarray(self.values[self.slices[t_i]])))]
        out = []
        for name, size in zip(self.names[t_i], sizes):
            out.append((name, start, start + size))
            start += size
        return out

    def _element_labels(self, t_i: int) -> list[str]:
        labels: list[str] = []
        for name, a, b in self._leaf_ranges(t_i):
            labels.extend(f"{self.ids[t_i]}.{name}[{k}]" for k in range(b - a))
        return [label for label, est in zip(labels, self.estimated[self.slices[t_i]]) if est]

    def _apply(self, t_i, term, arrays: NetworkArrays):
        ranges = self._leaf_ranges(t_i)
        for layer, array, estimate, nominal, prior in arrays.rows:
            prefix = ".".join(x for x in (layer, array) if x is not None)

            hit = [(a, b) for name, a, b in ranges if _matches(name, layer, array, prefix)]
            if not hit:
                raise CelltwinInputError(f"network {term.id!r} has no weights named {prefix!r} "
                                         f"(it has {', '.join(n for n, *_ in ranges)})")
            for a, b in hit:
                self.estimated[a:b] = estimate
                if nominal is not None:
                    self.values[a:b] = nominal
                if prior is not None:
                    if prior.kind not in PRIOR_KINDS:
                        raise CelltwinInputError(f"network {term.id!r}: prior {prior.kind!r} on weights is not "
                                                 f"supported (use {' or '.join(PRIOR_KINDS)})")
                    self.prior_kind[a:b] = PRIOR_KINDS[prior.kind]
                    self.prior_a[a:b] = prior.a
                    self.prior_b[a:b] = prior.b

    def frozen_at_zero(self) -> WeightLayout:
        """A copy with every weight set to 0 and none estimated."""
        clone = copy.copy(self)
        clone.values = np.zeros_like(self.values)
        clone.estimated = np.zeros_like(self.estimated)
        clone.index = np.zeros(0, dtype=int)
        clone.labels = []
        return clone

    @property
    def n_estimated(self) -> int:
        return int(self.index.size)

    def full(self, theta_w) -> jax.Array:
        """All weights, with the estimated ones from ``theta_w``."""
        return jnp.asarray(self.values).at[self.index].set(theta_w)

    def modules(self, w) -> dict:
        """The term modules with weights ``w`` (the full vector)."""
        return {i: eqx.combine(self.unravel[k](w[self.slices[k]]), self.static[k]) for k, i in enumerate(self.ids)}

    def log_prior(self, theta_w) -> jax.Array:
        kind = self.prior_kind[self.index]
        a, b = self.prior_a[self.index], self.prior_b[self.index]
        normal = -0.5 * np.log(2 * math.pi * b**2) - 0.5 * ((theta_w - a) / b) ** 2
        laplace = -np.log(2 * b) - jnp.abs(theta_w - a) / b
        return jnp.sum(jnp.where(kind == 0, normal, jnp.where(kind == 1, laplace, 0.0)))

    def gradient_tree(self, grad_w, network: str):
        """A gradient over the estimated weights, as the network's parameter pytree (frozen: 0)."""
        k = self.ids.index(network)
        full = np.zeros_like(self.values)
        full[self.index] = np.asarray(grad_w)
        return self.unravel[k](jnp.asarray(full[self.slices[k]]))
