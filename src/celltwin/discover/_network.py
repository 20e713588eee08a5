"""Discovery of a mass-action reaction network: every candidate reaction's flux enters the
equations of its reactants and products with its stoichiometry, so one rate constant is shared
by several equations and the search is over reactions, not over free per-species terms."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import CelltwinInputError
from ._data import TimeCourses
from ._reactions import Reaction, _complexes, equations_of
from .differentiation import AbstractDerivativeEstimate, WeakForm
from .library import term_function
from .library.base import monomial


@dataclasses.dataclass(frozen=True)
class ReactionSearch:
    """Settings of the search over candidate reactions.

    Every reaction ``R -> P`` between complexes of at most ``order`` molecules is a candidate.
    For each number of reactions up to ``max_reactions`` a beam of the ``beam`` best networks
    (smallest weighted residual, rate constants >= 0) is grown one reaction at a time; the
    size is chosen by the Bayesian information criterion ``n log(RSS / n) + k log n`` with
    ``n = rows_per_sample`` x the number of regression rows (weak-form rows overlap, so they
    carry less information than their count says). Each species' rows are divided by the
    root-mean-square of its values, so residuals are relative to each species' level.
    Networks with a reaction that carries less than ``min_share`` of the signal (its fitted
    contribution's norm over the target's) are not chosen: such reactions fit the weak form's
    discretisation error, not the data.
    """

    order: int = 2
    max_reactions: int = 12
    beam: int = 40
    rows_per_sample: float = 0.2
    min_share: float = 0.0


NETWORK_WEAK_FORM = WeakForm(width=9, refine=8)
"""Narrow windows on a spline-refined grid: binding transients last a few samples, and a
41-sample window would smear them out (measured on the network benchmark)."""


def _candidates(n: int, order: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    cx = _complexes(n, order)
    return [(r, p) for r in cx for p in cx if r != p]


def _grow(gram, moment, total, search: ReactionSearch):
    """The best network of each size: ``[(indices, rates, rss)]`` for sizes 0, 1, ..."""
    m = len(gram)
    eye_scale = 1e-10 * np.trace(gram) / max(m, 1)
    out = [(np.zeros(0, int), np.zeros(0), total)]
    beam = [np.zeros(0, int)]
    for k in range(1, search.max_reactions + 1):
        grown = {tuple(sorted((*s, j))) for s in beam for j in range(m) if j not in s}
        if not grown:
            break
        subsets = np.array(sorted(grown), dtype=int)
        g = gram[subsets[:, :, None], subsets[:, None, :]] + eye_scale * np.eye(k)
        mo = moment[subsets]
        rates = np.linalg.solve(g, mo[..., None])[..., 0]
        ok = np.all(rates > 0, axis=1)
        if not ok.any():
            break
        subsets, rates = subsets[ok], rates[ok]
        rss = total - np.einsum("sk,sk->s", rates, mo[ok])
        order = np.argsort(rss)
        beam = [subsets[i] for i in order[: search.beam]]
        best = order[0]
        out.append((subsets[best], rates[best], max(float(rss[best]), 1e-300)))
    return out


def discover_reactions(data: TimeCourses, *, derivative: AbstractDerivativeEstimate = NETWORK_WEAK_FORM,
                       search: ReactionSearch = ReactionSearch()) -> tuple[list[Reaction], dict]:
    """Find a sparse mass-action network that explains the time courses.

    Returns:
        The reactions (with rate constants) and the search's record: ``"sizes"`` (number of
        reactions on the path), ``"bic"`` (criterion per size).

    Raises:
        CelltwinInputError: a trajectory is too short for the derivative estimate.
    """
    species = data.species
    n_sp = len(species)
    candidates = _candidates(n_sp, search.order)
    reactants = sorted({r for r, _ in candidates})
    rate_terms = [monomial(species, r) for r in reactants]
    features_of = term_function(rate_terms, species)
    a_rows, b_rows = [], []
    for traj in data.trajectories:
        if len(traj.t) < derivative.min_samples():
            raise CelltwinInputError(f"condition {traj.condition!r} has {len(traj.t)} samples; "
                                     f"{type(derivative).__name__} needs at least {derivative.min_samples()}")
        a, b = derivative.rows(traj.t, traj.states, features_of)
        a_rows.append(a)
        b_rows.append(b)
    fluxes, targets = np.concatenate(a_rows), np.concatenate(b_rows)
    level = np.sqrt(np.mean(np.concatenate([tr.states for tr in data.trajectories]) ** 2, axis=0))
    level = np.where(level > 0, level, 1.0)
    col_of = {r: j for j, r in enumerate(reactants)}
    change = np.array([np.subtract(p, r) for r, p in candidates], dtype=float)  # (m, n_sp)
    # design: rows (species i, window w), column c = change[c, i] * flux_{reactant(c)}(w) / level_i
    flux_cols = fluxes[:, [col_of[r] for r, _ in candidates]]  # (w, m)
    design = (change.T[:, None, :] * flux_cols[None, :, :] / level[:, None, None]).reshape(-1, len(candidates))
    target = (targets / level).T.reshape(-1)
    scale = np.sqrt(np.mean(design**2, axis=0))
    usable = scale > 0
    design, scale = design[:, usable], scale[usable]
    kept = [c for c, u in zip(candidates, usable) if u]
    design = design / scale
    path = _grow(design.T @ design, design.T @ target, float(target @ target), search)
    n = max(len(target) * search.rows_per_sample, 2.0)
    norm = float(np.linalg.norm(target)) or 1.0
    bic = [n * np.log(rss / len(target)) + len(idx) * np.log(n)
           if len(idx) == 0 or np.min(rates * np.linalg.norm(design[:, idx], axis=0)) >= search.min_share * norm
           else np.inf for idx, rates, rss in path]
    idx, rates, _ = path[int(np.argmin(bic))]
    reactions = [Reaction(kept[j][0], kept[j][1], float(k / scale[j])) for j, k in zip(idx, rates)]
    return reactions, {"sizes": [len(p[0]) for p in path], "bic": [float(v) for v in bic]}


def discover_network(data: TimeCourses, *, derivative: AbstractDerivativeEstimate = NETWORK_WEAK_FORM,
                     search: ReactionSearch = ReactionSearch()):
    """:func:`discover_reactions` as a :class:`~celltwin.discover.Discovery` over the mass-action
    terms, with the reactions attached (``Discovery.reactions``)."""
    from ._discover import Discovery
    from .library import MassActionLibrary

    reactions, record = discover_reactions(data, derivative=derivative, search=search)
    terms = MassActionLibrary(order=search.order).terms(data.species)
    index = {t.name: j for j, t in enumerate(terms)}
    coef = np.zeros((len(data.species), len(terms)))
    for i, (s, eq) in enumerate(equations_of(data.species, reactions).items()):
        for name, c in eq.items():
            coef[i, index[name]] = c
    settings = {"derivative": repr(derivative), "optimizer": repr(search), "library": "mass-action reactions",
                "bic_by_size": ", ".join(f"{k}: {v:.1f}" for k, v in zip(record["sizes"], record["bic"]))}
    return Discovery(data.species, tuple(terms), coef, (coef != 0).astype(float), settings, tuple(reactions))
