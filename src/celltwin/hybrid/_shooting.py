"""Multiple shooting: each experiment's time course split into segments with free start states.

With ``K`` segments, the measurement times of an experiment are split into ``K`` contiguous
groups. Segment 0 starts at t = 0 from the model's initial state; segment ``j >= 1`` starts at
its first measurement time from a free state vector (a *node*), which training estimates with
the parameters. Each segment is also integrated to the next node's time, and the mismatch
there (the continuity residual) is penalised, so the segments join into one trajectory as
training goes on. Because no segment integrates over the whole time span, a poor start of an
oscillator's or a switch's parameters does not send the late part of the trajectory far from
the data, which is what makes single shooting get stuck (Bock & Plitt 1984; for neural ODEs,
Turan & Jaschke 2021).

All segments of an experiment are solved as one vmapped solve (one compilation whatever
``K``). With ``K = 1`` there are no nodes and :func:`shooting_terms` is the single-shooting
:meth:`HybridProblem.training_terms`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..simulate import solve_time_course
from ._problem import HybridProblem


@dataclasses.dataclass(frozen=True)
class ShootingLayout:
    """Where each experiment's segments start and which output of which segment is which time.

    Per experiment ``e`` (arrays over its segments ``j`` / output slots ``s``):

    * ``start_times[e][j]``: segment ``j`` starts there (0 for the first segment);
    * ``output_times[e][j, s]``: the times segment ``j`` is saved at (its own measurement
      times, then the next node's time, padded by repeating the last);
    * ``time_segment[e][i]``, ``time_slot[e][i]``: measurement time ``i`` is output
      ``time_slot`` of segment ``time_segment``;
    * ``end_slot[e][j]``: the slot of segment ``j`` at the next node's time (``j < K_e - 1``);
    * ``node_offset[e]``: the row of the experiment's first node in the node array.
    """

    segments: int
    start_times: list[np.ndarray]
    output_times: list[np.ndarray]
    time_segment: list[np.ndarray]
    time_slot: list[np.ndarray]
    end_slot: list[np.ndarray]
    node_offset: list[int]
    n_nodes: int

    def node_times(self, e_i: int) -> np.ndarray:
        return self.start_times[e_i][1:]


def shooting_layout(problem: HybridProblem, segments: int) -> ShootingLayout:
    """Split every experiment's measurement times into ``min(segments, n_times)`` groups."""
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    starts, outputs, seg_of, slot_of, end_slots, offsets = [], [], [], [], [], []
    n_nodes = 0
    for ts in problem.experiment_times:
        groups = np.array_split(np.arange(len(ts)), min(segments, len(ts)))
        width = max(len(g) for g in groups) + 1
        out = np.empty((len(groups), width))
        seg, slot = np.empty(len(ts), dtype=int), np.empty(len(ts), dtype=int)
        for j, g in enumerate(groups):
            times = list(ts[g]) + ([ts[groups[j + 1][0]]] if j + 1 < len(groups) else [])
            out[j] = times + [times[-1]] * (width - len(times))
            seg[g], slot[g] = j, np.arange(len(g))
        starts.append(np.array([0.0] + [ts[g[0]] for g in groups[1:]]))
        outputs.append(out)
        seg_of.append(seg)
        slot_of.append(slot)
        end_slots.append(np.array([len(g) for g in groups[:-1]], dtype=int))
        offsets.append(n_nodes)
        n_nodes += len(groups) - 1
    return ShootingLayout(segments, starts, outputs, seg_of, slot_of, end_slots, offsets, n_nodes)


def shooting_terms(problem: HybridProblem, layout: ShootingLayout, theta, nodes):
    """``(pointwise log-likelihood, mean squared network output, continuity residuals)``.

    ``nodes`` has shape ``(layout.n_nodes, n_states)``: the start states of every segment but
    the first of each experiment. The residuals (same shape) are each segment's end state
    minus the next node.
    """
    table, w = problem.split(theta)
    modules = problem.weights.modules(w)
    runs, residuals = [], []
    for e_i in range(len(problem.experiments)):
        p, x0, env, pre = problem.experiment_start(e_i, table, modules)
        hcm, pw = problem.vector_field(e_i), jnp.concatenate([p, w])
        lo = layout.node_offset[e_i]
        n_seg = len(layout.start_times[e_i])
        x_starts = jnp.concatenate([x0[None], nodes[lo:lo + n_seg - 1]])

        def segment(t0, x_start, out_ts, hcm=hcm, pw=pw):
            return solve_time_course(hcm, pw, x_start, out_ts, t0=t0, settings=problem.settings,
                                     adjoint=problem.adjoint)

        xs_seg, status = jax.vmap(segment)(jnp.asarray(layout.start_times[e_i]), x_starts,
                                           jnp.asarray(layout.output_times[e_i]))
        xs = xs_seg[layout.time_segment[e_i], layout.time_slot[e_i]]
        ends = xs_seg[np.arange(n_seg - 1), layout.end_slot[e_i]]
        residuals.append(ends - x_starts[1:])
        ts = jnp.asarray(problem.experiment_times[e_i])
        values, sigmas, contribution = problem.observe(e_i, ts, xs, p, env, modules, pre)
        runs.append((values, sigmas, jnp.max(status), contribution))
    ll, contribution = problem.terms_of_runs(runs)
    return ll, contribution, jnp.concatenate(residuals)


def initial_nodes(problem: HybridProblem, layout: ShootingLayout, theta, rows: np.ndarray) -> np.ndarray:
    """Start values of the nodes: the simulation at ``theta``, with every state that an
    observable reads directly (formula = the state's id, linear scale) replaced by the mean of
    its measurements at the node's time among ``rows`` (a boolean mask, e.g. the training rows)."""
    nodes = np.zeros((layout.n_nodes, problem.cm.n_states))
    direct = {o.id: problem.cm.state_ids.index(str(o.formula)) for o in problem.observables
              if o.transformation == "lin" and str(o.formula) in problem.cm.state_ids}
    df = problem.measurement_df[rows]
    for e_i, (ts, xs) in enumerate(problem.states(theta)):
        lo = layout.node_offset[e_i]
        exp = df[df["experimentId"] == problem.experiments[e_i].id]
        for j, t in enumerate(layout.node_times(e_i)):
            x = xs[int(np.searchsorted(ts, t))].copy()
            at_t = exp[np.isclose(exp["time"].to_numpy(float), t)]
            for obs_id, values in at_t.groupby("observableId")["measurement"]:
                if obs_id in direct:
                    x[direct[obs_id]] = float(values.mean())
            nodes[lo + j] = x
    return np.nan_to_num(nodes)  # a failed start simulation leaves unobserved node states at 0
