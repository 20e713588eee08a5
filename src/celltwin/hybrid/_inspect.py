"""A trained neural term's input -> output map, for symbolic recovery (sparse regression onto a
library) or plotting."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from ._problem import HybridProblem


def neural_term_map(problem: HybridProblem, theta, network_id: str) -> Callable[[np.ndarray], np.ndarray]:
    """``f(X) -> Y``: the network's outputs (columns in the order of ``term.outputs``) for a batch
    of inputs ``X`` of shape ``(n, n_inputs)`` (its vector arguments, concatenated in order).

    Also returns, as attributes ``f.input_names`` and ``f.output_names``, the expressions that
    feed each input column and the ids of the outputs.
    """
    if network_id not in problem.terms:
        raise CelltwinInputError(f"no neural term {network_id!r} (have {', '.join(problem.terms)})")
    term = problem.terms[network_id]
    if not all(isinstance(a, tuple) for a in term.inputs):
        raise CelltwinInputError(f"neural term {network_id!r} has array inputs; its map is not a function of scalars")
    module = problem.network(jnp.asarray(theta), network_id)
    sizes = [len(a) for a in term.inputs]
    out_ids = list(term.outputs)

    def one(x):
        args, k = [], 0
        for n in sizes:
            args.append(x[k:k + n])
            k += n
        out = module(*args)
        out = out if isinstance(out, tuple) else (out,)
        return jnp.stack([jnp.ravel(out[term.outputs[i][0]])[term.outputs[i][1]] for i in out_ids])

    batched = jax.jit(jax.vmap(one))

    def f(X):
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != sum(sizes):
            raise CelltwinInputError(f"neural term {network_id!r} takes {sum(sizes)} inputs, got {X.shape[1]} columns")
        return np.asarray(batched(jnp.asarray(X)))

    # The function carries its column names (documented above) as attributes.
    f.input_names = [str(e) for a in term.inputs for e in a]  # type: ignore[attr-defined]
    f.output_names = out_ids  # type: ignore[attr-defined]
    return f
