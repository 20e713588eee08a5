"""Stepwise search over reaction networks scored by their fit to the trajectories.

Starting from the weak-form search's network, reactions are removed while that lowers the
trajectory BIC, and added where the score test says the residual trajectories ask for them:
for every candidate reaction, the sensitivity of the fitted trajectories to its rate constant
at zero is integrated along the fitted trajectories (one linear ODE for all candidates at
once), projected off what the network's own parameters can already do, and its correlation
with the residuals says how much the RSS would drop. The few best are refitted in full.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._data import TimeCourses
from ._reactions import Reaction
from ._trajectory_fit import TrajectoryFit, _Monomials, fit_trajectories


def _states_on(fit: TrajectoryFit, reactions, k: int, t: np.ndarray, n: int) -> np.ndarray | None:
    from scipy.integrate import odeint

    reactants = np.array([r.reactants for r in reactions], dtype=float).reshape(-1, n)
    stoich = np.array([np.subtract(r.products, r.reactants) for r in reactions], dtype=float).reshape(-1, n).T
    rates = fit.rate_constants

    def rhs(x, _):
        return stoich @ (rates * np.prod(x[None, :] ** reactants, axis=1))

    with np.errstate(all="ignore"):
        x, info = odeint(rhs, fit.initial_states[k], t, rtol=1e-7, atol=1e-10, mxstep=5000, full_output=True)
    return x if info["message"] == "Integration successful." and np.all(np.isfinite(x)) else None


def addition_scores(data: TimeCourses, reactions: Sequence[Reaction], fit: TrajectoryFit, sd: Sequence[np.ndarray],
                    candidates: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], *, refine: int = 8
                    ) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate reaction: the drop in weighted RSS that adding it with the best small
    rate constant would give to first order (0 where it would need a negative one), and that
    rate constant."""
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
            return np.zeros(m), np.zeros(m)
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
    a = a - q @ (q.T @ a)
    toward = -fit.residuals @ a  # residuals are model - data
    norm2 = np.einsum("ij,ij->j", a, a)
    ok = (toward > 0) & (norm2 > 1e-12 * max(norm2.max(), 1e-300))
    drop = np.where(ok, toward**2 / np.where(ok, norm2, 1.0), 0.0)
    return drop, np.where(ok, toward / np.where(ok, norm2, 1.0), 0.0)


def _least_certain(fit: TrajectoryFit, count: int) -> list[int]:
    """Indices of the reactions with the largest standard errors of their log rate constants."""
    m = len(fit.rate_constants)
    if m == 0:
        return []
    dof = max(fit.n_observations - fit.jacobian.shape[1], 1)
    cov = np.linalg.pinv(fit.jacobian.T @ fit.jacobian) * fit.rss / dof
    return [int(j) for j in np.argsort(np.diag(cov)[:m])[::-1][:count]]


def stepwise_search(data: TimeCourses, reactions: Sequence[Reaction], sd: Sequence[np.ndarray],
                    candidates: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], *, n_try: int = 6, n_remove: int = 2,
                    n_swap: int = 2, gamma: float = 0.5, max_steps: int = 16
                    ) -> tuple[list[Reaction], TrajectoryFit, list[str]]:
    """Greedy moves on the extended BIC of the trajectory fit (:meth:`TrajectoryFit.bic` with
    ``gamma``, over the number of candidate reactions), the first that lowers it is made:

    1. remove one of the ``n_remove`` least certain reactions (largest standard error of the
       log rate constant);
    2. add the best of the ``n_try`` candidates with the largest :func:`addition_scores`;
    3. swap: remove one of the ``n_remove + 1`` least certain reactions and add the best of the ``n_swap``
       candidates that the network without it asks for most.

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

    def additions(net, fit, count):
        present = {(r.reactants, r.products) for r in net}
        pool = [c for c in candidates if c not in present]
        drop, rate = addition_scores(data, net, fit, sd, pool)
        out = []
        for j in np.argsort(drop)[::-1][:count]:
            if drop[j] <= 0:
                break
            larger = net + [Reaction(pool[j][0], pool[j][1], float(max(rate[j], 1e-6)))]
            f, b = refit(larger, fit)
            out.append((b, larger, f))
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
            for b, larger, f in additions(net, fit, n_try):
                if b < bic and (move is None or b < move[0]):
                    move = (b, larger, f, f"+ {larger[-1].text(species)}")
        if move is None:
            for j in _least_certain(fit, n_remove + 1):
                smaller = net[:j] + net[j + 1:]
                f, _ = refit(smaller, fit)
                for b, larger, g in additions(with_rates(smaller, f), f, n_swap):
                    back = (larger[-1].reactants, larger[-1].products) == (net[j].reactants, net[j].products)
                    if not back and b < bic and (move is None or b < move[0]):
                        move = (b, larger, g, f"{net[j].text(species)} => {larger[-1].text(species)}")
                if move is not None:
                    break
        if move is None:
            break
        bic, net, fit, text = move
        net = with_rates(net, fit)
        moves.append(text)
    return net, fit, moves
