"""Stepwise search over reaction networks scored by their fit to the trajectories.

Starting from the weak-form search's network, reactions are removed while that lowers the
trajectory BIC, and added where the score test says the residual trajectories ask for them:
for every candidate reaction, the sensitivity of the fitted trajectories to its rate constant
at zero is integrated along the fitted trajectories (one linear ODE for all candidates at
once), projected off what the network's own parameters can already do, and its correlation
with the residuals says how much the RSS would drop. The few best are refitted in full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._data import TimeCourses
from ._mass_action_kernels import network_rhs, pair_indices
from ._reactions import Reaction
from ._trajectory_fit import TrajectoryFit, _Monomials, fit_trajectories


def _states_on(fit: TrajectoryFit, reactions, k: int, t: np.ndarray, n: int) -> np.ndarray | None:
    from scipy.integrate import odeint

    reactants = np.array([r.reactants for r in reactions], dtype=float).reshape(-1, n)
    stoich = np.array([np.subtract(r.products, r.reactants) for r in reactions], dtype=float).reshape(-1, n).T
    rates = fit.rate_constants
    pairs = pair_indices(reactants)

    def numpy_rhs(x, _):
        return stoich @ (rates * np.prod(x[None, :] ** reactants, axis=1))

    rhs: Callable = numpy_rhs
    args: tuple = ()
    if pairs is not None:  # the compiled kernel, as in fit_trajectories
        rhs, args = network_rhs, (np.asarray(rates, dtype=float), *pairs, np.ascontiguousarray(stoich))

    with np.errstate(all="ignore"):
        x, info = odeint(rhs, fit.initial_states[k], t, args=args, rtol=1e-7, atol=1e-10, mxstep=5000,
                         full_output=True)
    return x if info["message"] == "Integration successful." and np.all(np.isfinite(x)) else None


def _projected_sensitivities(data: TimeCourses, reactions: Sequence[Reaction], fit: TrajectoryFit,
                             sd: Sequence[np.ndarray], candidates: Sequence[tuple[tuple[int, ...], tuple[int, ...]]],
                             refine: int) -> np.ndarray | None:
    """Weighted sensitivities of the fitted trajectories to each candidate's rate constant at
    zero (rows: samples, columns: candidates), projected off the span of the network's own
    parameters; ``None`` where the fitted network cannot be solved."""
    n = len(data.species)
    m = len(candidates)
    cand_reactants = np.array([r for r, _ in candidates], dtype=float)
    cand_stoich = np.array([np.subtract(p, r) for r, p in candidates], dtype=float).T  # (n, M)
    reactants = np.array([r.reactants for r in reactions], dtype=float).reshape(-1, n)
    stoich = np.array([np.subtract(r.products, r.reactants) for r in reactions], dtype=float).reshape(-1, n).T
    monomials, candidate_monomials = _Monomials(reactants), _Monomials(cand_reactants)
    blocks = []
    for k, tr in enumerate(data.trajectories):
        t = tr.t
        fine = np.concatenate([np.linspace(t[i], t[i + 1], refine, endpoint=False) for i in range(len(t) - 1)]
                              + [t[-1:]])
        x = _states_on(fit, reactions, k, fine, n)
        if x is None:
            return None
        eye = np.eye(n)
        sens = np.zeros((n, m))
        out = [sens]
        jac_prev, src_prev = None, None
        for i in range(len(fine)):
            _, dmono = monomials(x[i])
            jac = stoich @ (fit.rate_constants[:, None] * dmono)
            src = cand_stoich * candidate_monomials(x[i])[0][None, :]
            if i > 0:  # Crank-Nicolson: A-stable, so fast modes of stiff networks do not blow up
                h = fine[i] - fine[i - 1]
                sens = np.linalg.solve(eye - 0.5 * h * jac,
                                       (eye + 0.5 * h * jac_prev) @ sens + 0.5 * h * (src_prev + src))
                out.append(sens)
            jac_prev, src_prev = jac, src
        at_samples = np.array(out)[::refine]  # (len(t), n, M)
        blocks.append((at_samples / sd[k][:, :, None]).reshape(-1, m))
    a = np.concatenate(blocks)
    q, _ = np.linalg.qr(fit.jacobian)
    return a - q @ (q.T @ a)


def addition_scores(data: TimeCourses, reactions: Sequence[Reaction], fit: TrajectoryFit, sd: Sequence[np.ndarray],
                    candidates: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], *, refine: int = 8
                    ) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate reaction: the drop in weighted RSS that adding it with the best small
    rate constant would give to first order (0 where it would need a negative one), and that
    rate constant."""
    a = _projected_sensitivities(data, reactions, fit, sd, candidates, refine)
    if a is None:
        return np.zeros(len(candidates)), np.zeros(len(candidates))
    return _single_scores(a, fit.residuals)


def _single_scores(a: np.ndarray, residuals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    toward = -residuals @ a  # residuals are model - data
    norm2 = np.einsum("ij,ij->j", a, a)
    ok = (toward > 0) & (norm2 > 1e-12 * max(norm2.max(), 1e-300))
    drop = np.where(ok, toward**2 / np.where(ok, norm2, 1.0), 0.0)
    return drop, np.where(ok, toward / np.where(ok, norm2, 1.0), 0.0)


def pair_scores(data: TimeCourses, reactions: Sequence[Reaction], fit: TrajectoryFit, sd: Sequence[np.ndarray],
                candidates: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], *, refine: int = 8
                ) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """The score test for adding a reversible pair ``R -> P`` and ``P -> R`` at once.

    Either direction alone may barely help (a binding step without its unbinding overshoots),
    while the pair does: the first-order drop is the residual's projection onto the span of the
    two sensitivities, with both rate constants positive (pairs that need a negative one
    score 0). Returns the pairs (indices into ``candidates``, each pair once), their drops and
    their rate constants (pairs, 2).
    """
    pairs = _reverse_pairs(candidates)
    a = _projected_sensitivities(data, reactions, fit, sd, candidates, refine) if pairs else None
    if a is None:
        return pairs, np.zeros(len(pairs)), np.zeros((len(pairs), 2))
    return (pairs, *_pair_scores(a, fit.residuals, pairs))


def _reverse_pairs(candidates) -> list[tuple[int, int]]:
    index = {c: j for j, c in enumerate(candidates)}
    return [(j, index[(p, r)]) for j, (r, p) in enumerate(candidates) if index.get((p, r), -1) > j]


def _pair_scores(a: np.ndarray, residuals: np.ndarray, pairs) -> tuple[np.ndarray, np.ndarray]:
    first, second = (np.array(v) for v in zip(*pairs))
    toward = -residuals @ a
    g11, g22 = np.einsum("ij,ij->j", a, a)[first], np.einsum("ij,ij->j", a, a)[second]
    g12 = np.einsum("ij,ij->j", a[:, first], a[:, second])
    b1, b2 = toward[first], toward[second]
    det = g11 * g22 - g12**2
    ok = det > 1e-10 * np.maximum(g11 * g22, 1e-300)
    safe = np.where(ok, det, 1.0)
    k1, k2 = (g22 * b1 - g12 * b2) / safe, (g11 * b2 - g12 * b1) / safe
    ok &= (k1 > 0) & (k2 > 0)
    drop = np.where(ok, k1 * b1 + k2 * b2, 0.0)
    return drop, np.where(ok[:, None], np.column_stack([k1, k2]), 0.0)


def _least_certain(fit: TrajectoryFit, count: int) -> list[int]:
    """Indices of the reactions with the largest standard errors of their log rate constants."""
    m = len(fit.rate_constants)
    if m == 0:
        return []
    dof = max(fit.n_observations - fit.jacobian.shape[1], 1)
    cov = np.linalg.pinv(fit.jacobian.T @ fit.jacobian) * fit.rss / dof
    return [int(j) for j in np.argsort(np.diag(cov)[:m])[::-1][:count]]


def stepwise_search(data: TimeCourses, reactions: Sequence[Reaction], sd: Sequence[np.ndarray],
                    candidates: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], *, n_try: int = 6, n_pairs: int = 3,
                    n_remove: int = 2, n_swap: int = 2, gamma: float = 0.5, max_steps: int = 16
                    ) -> tuple[list[Reaction], TrajectoryFit, list[str]]:
    """Greedy moves on the extended BIC of the trajectory fit (:meth:`TrajectoryFit.bic` with
    ``gamma``, over the number of candidate reactions), the first that lowers it is made:

    1. remove one of the ``n_remove`` least certain reactions (largest standard error of the
       log rate constant);
    2. add the best of the ``n_try`` candidates with the largest :func:`addition_scores`, or
       of the ``n_pairs`` reversible pairs with the largest :func:`pair_scores`;
    3. swap: remove one of the ``n_remove + 1`` least certain reactions and add the best of the ``n_swap``
       candidates that the network without it asks for most;
    4. swap a reversible pair of the network for one of the ``n_pairs`` pairs that the network
       without it asks for most.

    Returns:
        The network (rate constants from the trajectory fit), its fit, and the moves made.
    """
    species = data.species

    def refit(net, start: TrajectoryFit | None):
        fit = fit_trajectories(data, net, sd, initial_states=None if start is None else start.initial_states,
                               max_nfev=30 if start is None else 12)
        return fit, (fit.bic(len(candidates), gamma) if fit.success else np.inf)

    def with_rates(net, fit):
        return [Reaction(r.reactants, r.products, float(k)) for r, k in zip(net, fit.rate_constants)]

    def additions(net, fit, count, n_pair):
        """The ``count`` best single additions and ``n_pair`` best reversible pairs by the score
        test, each refitted: ``[(bic, network, fit, added reactions)]``."""
        present = {(r.reactants, r.products) for r in net}
        pool = [c for c in candidates if c not in present]
        a = _projected_sensitivities(data, net, fit, sd, pool, 8)
        if a is None:
            return []
        drop, rate = _single_scores(a, fit.residuals)
        tries = [[Reaction(*pool[j], float(max(rate[j], 1e-6)))] for j in np.argsort(drop)[::-1][:count]
                 if drop[j] > 0]
        pairs = _reverse_pairs(pool) if n_pair else []
        if pairs:
            pair_drop, pair_rate = _pair_scores(a, fit.residuals, pairs)
            tries += [[Reaction(*pool[pairs[j][0]], float(max(pair_rate[j, 0], 1e-6))),
                       Reaction(*pool[pairs[j][1]], float(max(pair_rate[j, 1], 1e-6)))]
                      for j in np.argsort(pair_drop)[::-1][:n_pair] if pair_drop[j] > 0]
        out = []
        for added in tries:
            f, b = refit(net + added, fit)
            out.append((b, net + added, f, added))
        return out

    net = list(reactions)
    fit, bic = refit(net, None)
    net = with_rates(net, fit)
    moves: list[str] = []
    for _ in range(max_steps):
        move = None
        for j in _least_certain(fit, n_remove):
            f, b = refit(net[:j] + net[j + 1:], fit)
            if b < bic and (move is None or b < move[0]):
                move = (b, net[:j] + net[j + 1:], f, f"- {net[j].text(species)}")
        if move is None:
            for b, larger, f, added in additions(net, fit, n_try, n_pairs):
                if b < bic and (move is None or b < move[0]):
                    move = (b, larger, f, "+ " + ", ".join(r.text(species) for r in added))
        if move is None:
            for j in _least_certain(fit, n_remove + 1):
                smaller = net[:j] + net[j + 1:]
                f, _ = refit(smaller, fit)
                for b, larger, g, added in additions(with_rates(smaller, f), f, n_swap, 0):
                    back = (added[0].reactants, added[0].products) == (net[j].reactants, net[j].products)
                    if not back and b < bic and (move is None or b < move[0]):
                        move = (b, larger, g, f"{net[j].text(species)} => {added[0].text(species)}")
                if move is not None:
                    break
        if move is None and n_pairs:
            # a reversible pair for another: D + E <-> 2 E stands in for D <-> E, and neither
            # direction can be swapped alone without the fit getting worse first
            keys = [(r.reactants, r.products) for r in net]
            for j, i in _reverse_pairs(keys):
                smaller = [r for k, r in enumerate(net) if k not in (i, j)]
                f, _ = refit(smaller, fit)
                for b, larger, g, added in additions(with_rates(smaller, f), f, 0, n_pairs):
                    if b < bic and (move is None or b < move[0]):
                        move = (b, larger, g, f"{net[j].text(species)}, {net[i].text(species)} => "
                                              + ", ".join(r.text(species) for r in added))
                if move is not None:
                    break
        if move is None:
            break
        bic, net, fit, text = move
        net = with_rates(net, fit)
        moves.append(text)
    return net, fit, moves
