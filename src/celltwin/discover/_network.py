"""Discovery of a mass-action reaction network: every candidate reaction's flux enters the
equations of its reactants and products with its stoichiometry, so one rate constant is shared
by several equations and the search is over reactions, not over free per-species terms."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import CelltwinInputError
from ._data import TimeCourses
from ._reactions import Reaction, _complexes, equations_of
from ._trajectory_fit import fit_trajectories, noise_scales
from ._trajectory_search import _least_certain, stepwise_search
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
    discretisation error, not the data. ``weighting="noise"`` divides each weak-form row by its
    own noise instead (:func:`~celltwin.discover.noise_scales` propagated through the weak form).

    With ``trajectories`` the weak-form networks are only starting points, refined by fits to
    the trajectories (:func:`~celltwin.discover.stepwise_search`: ``n_try`` single additions and
    ``n_pairs`` reversible pairs shortlisted per step, extended BIC with ``gamma``), from each
    of the ``n_starts`` best starts; the network with the lowest criterion is kept. ``kicks``
    > 0 then perturbs it (drops the less certain half of its reactions, or the more certain
    half) and searches again while that lowers the criterion (off by default: it gained less
    than a second start for about the same time, measured).
    """

    order: int = 2
    max_reactions: int = 12
    beam: int = 40
    rows_per_sample: float = 0.2
    min_share: float = 0.0
    trajectories: bool = True
    weighting: str = "level"
    n_try: int = 6
    n_pairs: int = 3
    n_starts: int = 2
    kicks: int = 0
    gamma: float = 0.5


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
        base = np.array(beam, dtype=int).reshape(len(beam), k - 1)
        grown = np.concatenate([np.repeat(base, m, axis=0), np.tile(np.arange(m), len(beam))[:, None]], axis=1)
        grown = np.sort(grown, axis=1)
        grown = grown[np.all(np.diff(grown, axis=1) > 0, axis=1)]  # drop those that repeat a reaction
        if not len(grown):
            break
        subsets = np.unique(grown, axis=0)
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


def _weak_form_path(data: TimeCourses, derivative: AbstractDerivativeEstimate, search: ReactionSearch,
                    sd: list[np.ndarray] | None) -> tuple[list[list[Reaction]], list[float]]:
    """The weak-form search's best network of each size and its BIC.

    ``sd``: per-sample noise scales; each weak-form row is then divided by its own noise
    (generalised least squares); without, each species' rows by the RMS of its values.
    """
    species = data.species
    candidates = _candidates(len(species), search.order)
    reactants = sorted({r for r, _ in candidates})
    features_of = term_function([monomial(species, r) for r in reactants], species)
    a_rows, b_rows, sd_rows = [], [], []
    for k, traj in enumerate(data.trajectories):
        a, b = derivative.rows(traj.t, traj.states, features_of)
        a_rows.append(a)
        b_rows.append(b)
        if sd is not None:
            # the target rows are linear in the samples (b = L x), so their noise is sqrt(L^2 sd^2)
            _, op = derivative.rows(traj.t, np.eye(len(traj.t)), lambda x: np.ones((len(x), 1)))
            sd_rows.append(np.sqrt(op**2 @ sd[k] ** 2))
    fluxes, targets = np.concatenate(a_rows), np.concatenate(b_rows)
    if sd is not None:
        level = np.concatenate(sd_rows)  # (rows, species)
        level = np.maximum(level, 0.05 * np.median(level, axis=0))  # a species at zero is not infinitely sure
    else:
        level = np.sqrt(np.mean(np.concatenate([tr.states for tr in data.trajectories]) ** 2, axis=0))
        level = np.where(level > 0, level, 1.0)[None, :]
    col_of = {r: j for j, r in enumerate(reactants)}
    change = np.array([np.subtract(p, r) for r, p in candidates], dtype=float)  # (m, n_sp)
    # design: rows (species i, window w), column c = change[c, i] * flux_{reactant(c)}(w) / level_wi
    flux_cols = fluxes[:, [col_of[r] for r, _ in candidates]]  # (w, m)
    design = (change.T[:, None, :] * flux_cols[None, :, :] / level.T[:, :, None]).reshape(-1, len(candidates))
    target = (targets / level).T.reshape(-1)
    scale = np.sqrt(np.mean(design**2, axis=0))
    usable = scale > 0
    design, scale = design[:, usable], scale[usable]
    kept = [c for c, u in zip(candidates, usable) if u]
    design = design / scale
    path = _grow(design.T @ design, design.T @ target, float(target @ target), search)
    n = max(len(target) * search.rows_per_sample, 2.0)
    norm = float(np.linalg.norm(target)) or 1.0
    bic = [float(n * np.log(rss / len(target)) + len(idx) * np.log(n))
           if len(idx) == 0 or np.min(rates * np.linalg.norm(design[:, idx], axis=0)) >= search.min_share * norm
           else np.inf for idx, rates, rss in path]
    networks = [[Reaction(kept[j][0], kept[j][1], float(k / scale[j])) for j, k in zip(idx, rates)]
                for idx, rates, _ in path]
    return networks, bic


def discover_reactions(data: TimeCourses, *, derivative: AbstractDerivativeEstimate = NETWORK_WEAK_FORM,
                       search: ReactionSearch = ReactionSearch()) -> tuple[list[Reaction], dict]:
    """Find a sparse mass-action network that explains the time courses.

    With ``search.trajectories`` (the default), the weak-form search proposes starting
    networks (its BIC's choice of size and the sizes next to it, rows weighted by species
    level and by estimated noise), each is fitted to the trajectories by solving it, and a
    :func:`~celltwin.discover.stepwise_search` from the best of them (extended BIC of the
    trajectory fit) removes, adds and swaps reactions.

    Returns:
        The reactions (with rate constants) and the search's record: ``"sizes"`` (number of
        reactions on the weak-form path), ``"bic"`` (its criterion per size), and with
        ``search.trajectories`` ``"start"`` (the starting network) and ``"moves"``.

    Raises:
        CelltwinInputError: a trajectory is too short for the derivative estimate.
    """
    for traj in data.trajectories:
        if len(traj.t) < derivative.min_samples():
            raise CelltwinInputError(f"condition {traj.condition!r} has {len(traj.t)} samples; "
                                     f"{type(derivative).__name__} needs at least {derivative.min_samples()}")
    sd = noise_scales(data)
    networks, bic = _weak_form_path(data, derivative, search, sd if search.weighting == "noise" else None)
    record = {"sizes": [len(r) for r in networks], "bic": bic}
    pick = int(np.argmin(bic))
    if not search.trajectories:
        return networks[pick], record
    # hundreds of small dense solves: BLAS threads only add overhead (see fit_trajectories)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _search_trajectories(data, derivative, search, sd, networks, bic, record)


def _search_trajectories(data, derivative, search, sd, networks, bic, record):
    """Start networks from both weightings of the weak form, the best by trajectory fit, then
    the stepwise search."""
    pick = int(np.argmin(bic))
    candidates = _candidates(len(data.species), search.order)
    starts = {}
    for weighted in (False, True):
        if weighted != (search.weighting == "noise"):
            networks, bic = _weak_form_path(data, derivative, search, sd if weighted else None)
            pick = int(np.argmin(bic))
        for net in networks[max(pick - 1, 0): pick + 2]:
            starts.setdefault(frozenset((r.reactants, r.products) for r in net), net)
    fits = [(fit_trajectories(data, net, sd), net) for net in starts.values()]
    scored = sorted((f.bic(len(candidates), search.gamma) if f.success else np.inf, k) for k, (f, _) in enumerate(fits))

    def search_from(net):
        found, fit, moves = stepwise_search(data, net, sd, candidates, n_try=search.n_try, n_pairs=search.n_pairs,
                                            gamma=search.gamma)
        return fit.bic(len(candidates), search.gamma) if fit.success else np.inf, found, fit, moves

    best = None
    for _, k in scored[: search.n_starts]:
        result = (*search_from(fits[k][1]), fits[k][1])
        if best is None or result[0] < best[0]:
            best = result
    for _ in range(search.kicks):
        _, found, fit, _, _ = best
        if len(found) < 2:
            break
        order = _least_certain(fit, len(found))
        half = len(found) // 2
        tried = [search_from([r for j, r in enumerate(found) if j not in drop])
                 for drop in (set(order[:half]), set(order[half:]))]
        better = min(tried, key=lambda r: r[0])
        if better[0] >= best[0]:
            break
        best = (*better, best[4])
    trajectory_bic, reactions, _, moves, start = best
    record.update(start=[r.text(data.species) for r in start], moves=moves, trajectory_bic=trajectory_bic)
    return reactions, record


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
    if "moves" in record:
        settings["trajectory_search"] = ", ".join(record["moves"]) or "no change"
    return Discovery(data.species, tuple(terms), coef, (coef != 0).astype(float), settings, tuple(reactions))
