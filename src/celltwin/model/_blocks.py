"""Independent blocks of a model's state: parts of the network that never influence each other.

A model can hold copies of one network that do not interact, e.g. the GPCR example's copy of
the G-protein cycle at the reference dose, which turns a relative measurement into an exact
ratio. Each such block can be solved on its own; the problem layer solves a block that is the
same in every simulation condition once instead of once per condition
(:mod:`celltwin.problem._shared_blocks`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import sympy as sp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._compile import CompiledModel
from ._model import Model, symbol


def independent_blocks(cm: CompiledModel) -> list[np.ndarray] | None:
    """The state indices of each block of states that influence only each other, or None
    where the model cannot be split this way (events, compartments that change, rate rules).

    Two states are in one block if one appears in the other's right-hand side (after
    assignment rules are substituted) or if both take part in one reaction (as reactant,
    product or modifier): a reaction whose rate depends on neither still moves both.
    """
    m = cm.model
    if m.events or m.rate_rules or any(c in m.state_ids() for c in m.compartments):
        return None
    index = {s: i for i, s in enumerate(cm.state_ids)}
    rows, cols = ([int(i) for i in a] for a in np.nonzero(cm.jacobian_sparsity))  # d f_i / d x_j can be nonzero
    for r in m.reactions.values():
        first, *rest = sorted(index[s] for s in {*r.reactants, *r.products, *r.modifiers} if s in index) or [0]
        rows += [first] * len(rest)
        cols += rest
    n = len(cm.state_ids)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    return [np.flatnonzero(labels == k) for k in range(count)]


def restricted(model: Model, state_ids: set[str]) -> Model:
    """The part of ``model`` that moves the states ``state_ids`` (a union of blocks of
    :func:`independent_blocks`): the other species, the reactions that move them and the
    rules that read them are left out (with the parameters those rules define); the other
    parameters and compartments stay, so the parameter vector is the same. Initial
    assignments of species are dropped (the caller takes the initial state from the whole
    model)."""
    dropped = {s for s in model.state_ids() if s not in state_ids}
    rules = dict(model.assignment_rules)
    while True:  # rules that read a dropped id, directly or through another rule
        gone = {k for k, v in rules.items() if {s.name for s in v.free_symbols} & dropped}
        if not gone:
            break
        dropped |= gone
        rules = {k: v for k, v in rules.items() if k not in gone}
    reactions = {rid: r for rid, r in model.reactions.items()
                 if not ({*r.reactants, *r.products, *r.modifiers} & dropped)}
    return dataclasses.replace(
        model, name=f"{model.name}_part", species={k: v for k, v in model.species.items() if k not in dropped},
        parameters={k: v for k, v in model.parameters.items() if k not in dropped},
        reactions=reactions, assignment_rules=rules,
        initial_assignments={k: v for k, v in model.initial_assignments.items() if k not in model.species})


def parameters_read(cm: CompiledModel, exprs: list[sp.Expr]) -> set[int]:
    """Indices into ``cm.parameter_ids`` of the parameters the expressions read."""
    wanted = {symbol(p): i for i, p in enumerate(cm.parameter_ids)}
    return {wanted[s] for e in exprs for s in cm.resolve(e).free_symbols if s in wanted}
