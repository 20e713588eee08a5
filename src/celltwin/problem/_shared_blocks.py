"""A part of the state that is the same in every condition of a group, solved once.

Where a model's state splits into blocks that do not influence each other
(:func:`celltwin.model.independent_blocks`) and a block's parameters, initial values and
start time are the same in all conditions of a group, that block's time course is the same
in all of them: it is solved once, at the union of the group's output times, and the rest of
the state per condition. The results are the same as solving the whole model per condition
(up to the solver's tolerances: each part takes its own steps).

Why: the GPCR example carries a copy of its network at the reference dose (an exact ratio
for relative data); solved in each of its nine conditions, the copy was about half of each
gradient (``benchmarks/shared_blocks.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..model import CompiledModel, compile_model, independent_blocks, parameters_read, restricted
from ._tables import GroupArrays


@dataclasses.dataclass(frozen=True, eq=False)
class SharedBlock:
    """How one group of conditions is solved in two parts."""

    shared: CompiledModel  # the part solved once for the group
    rest: CompiledModel  # the part solved per condition
    shared_index: np.ndarray  # their states' positions in the whole model's state vector
    rest_index: np.ndarray
    ts: np.ndarray  # the shared part's output times: all the group's, sorted, distinct
    slots: np.ndarray  # (n_ctx, T): each condition's output times as positions in ``ts``


def _same_in_every_row(a: np.ndarray) -> bool:
    return bool(np.all(a == a[:1]))


def could_share(cm: CompiledModel, g: GroupArrays) -> bool:
    """Whether group ``g`` is of a kind that :func:`shared_block` may split (several
    conditions, one start time, no pre-equilibration, events, steady-state outputs or
    discontinuities in time)."""
    return not (len(g.contexts) < 2 or g.preequilibrate or g.steady_state_output or g.event_order
                or cm.jump_time_exprs or not _same_in_every_row(g.t0) or not np.all(np.isfinite(g.ts)))


def shared_blocks(cm: CompiledModel, groups) -> list[SharedBlock | None]:
    """:func:`shared_block` of every group, the model's blocks found once."""
    if not any(could_share(cm, g) for g in groups):
        return [None] * len(groups)
    blocks = independent_blocks(cm)
    return [shared_block(cm, g, blocks) for g in groups]


def shared_block(cm: CompiledModel, g: GroupArrays, blocks: list | None) -> SharedBlock | None:
    """The split of group ``g``'s solves, or None where nothing is shared.

    ``blocks``: the model's independent blocks (:func:`celltwin.model.independent_blocks`).
    """
    if not could_share(cm, g) or blocks is None or len(blocks) < 2:
        return None
    model = cm.model
    shared: list[int] = []
    for block in blocks:
        ids = {cm.state_ids[i] for i in block}
        reactions = [r for r in model.reactions.values() if {*r.reactants, *r.products, *r.modifiers} & ids]
        if not reactions:  # constant states: nothing to save
            continue
        volumes = {model.species[s].compartment for s in ids if s in model.species}
        read = parameters_read(cm, [r.rate for r in reactions] + [cm.x0_exprs[i] for i in block])
        read |= {cm.parameter_ids.index(c) for c in volumes if c in cm.parameter_ids}
        refs = g.p_refs[:, sorted(read)]
        mask = g.x0_mask[:, block]
        if _same_in_every_row(refs) and _same_in_every_row(mask) and _same_in_every_row(
                np.where(mask, g.x0_refs[:, block], -1)):
            shared += list(block)
    rest = sorted(set(range(cm.n_states)) - set(shared))
    if not shared or not rest:
        return None
    parts = []
    for index in (sorted(shared), rest):
        part = compile_model(restricted(model, {cm.state_ids[i] for i in index}))
        if part.parameter_ids != cm.parameter_ids or part.state_ids != tuple(cm.state_ids[i] for i in index):
            return None  # (a rule that reads the other part defined a parameter)
        parts.append(part)
    ts = np.unique(g.ts)
    return SharedBlock(parts[0], parts[1], np.array(sorted(shared)), np.array(rest), ts,
                       np.searchsorted(ts, g.ts))
