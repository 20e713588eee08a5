"""Best-subset selection: the best support of every size, the size chosen by an information criterion."""

from __future__ import annotations

import dataclasses
import itertools
from math import comb

import numpy as np

from .base import AbstractSparseOptimizer, SparseFit, least_squares


def _solve_many(gram, moment, subsets):
    """Least squares on every subset (rows of ``subsets``, k columns each) from the normal equations."""
    g = gram[subsets[:, :, None], subsets[:, None, :]]
    m = moment[subsets]
    k = subsets.shape[1]
    g = g + 1e-10 * np.trace(gram) / len(gram) * np.eye(k)
    coef = np.linalg.solve(g, m[..., None])[..., 0]
    return coef, np.einsum("sk,sk->s", coef, m)  # explained sum of squares b'A c


@dataclasses.dataclass(frozen=True)
class BestSubset(AbstractSparseOptimizer):
    """For every size ``k`` up to ``max_terms`` the support with the smallest residual (all
    subsets while there are at most ``exhaustive`` of them, else a beam of the ``beam`` best
    supports of size ``k - 1`` extended by one term), then the size minimising
    ``n log(RSS / n) + penalty_per_term * k`` with ``n`` the number of rows.

    Terms whose ``nonnegative`` flag is set may only take coefficients >= 0 (supports that
    need a negative one are skipped): in kinetic equations a term that does not vanish when
    the species is absent cannot consume it. ``penalty`` factors multiply a term's cost.
    """

    max_terms: int = 6
    criterion: str = "bic"
    rows_per_sample: float = 1.0
    floor: float = 0.0
    exhaustive: int = 50_000
    beam: int = 300
    sign_constrained = True

    def path(self, features, target, nonnegative):
        """``[(support indices, coefficients, rss)]``, the best support of each size 0..max_terms."""
        n, p = features.shape
        gram, moment = features.T @ features, features.T @ target
        total = float(target @ target)
        out = [(np.zeros(0, int), np.zeros(0), total)]
        previous = None
        for k in range(1, min(self.max_terms, p) + 1):
            if comb(p, k) <= self.exhaustive:
                subsets = np.array(list(itertools.combinations(range(p), k)), dtype=int)
            else:
                grown = {tuple(sorted((*s, j))) for s in previous for j in range(p) if j not in s}
                subsets = np.array(sorted(grown), dtype=int)
            coef, explained = _solve_many(gram, moment, subsets)
            ok = ~np.any((coef < 0) & nonnegative[subsets], axis=1)
            if not ok.any():
                break
            subsets, coef, rss = subsets[ok], coef[ok], total - explained[ok]
            order = np.argsort(rss)
            previous = subsets[order[: self.beam]]
            best = order[0]
            out.append((subsets[best], coef[best], max(float(rss[best]), 1e-300)))
        return out

    def fit_normalized(self, features, target, penalty, rng, nonnegative=None):
        n, p = features.shape
        nonnegative = np.zeros(p, bool) if nonnegative is None else np.asarray(nonnegative, bool)
        path = self.path(features, target, nonnegative)
        n_eff = max(n * self.rows_per_sample, 2.0)
        scores = []
        for support, _, rss in path:
            k = len(support)
            cost = float(np.sum(penalty[support])) if k else 0.0
            if self.criterion == "bic":
                extra = np.log(n_eff) * cost
            elif self.criterion == "aicc":
                extra = 2 * cost + (2 * k * (k + 1) / (n_eff - k - 1) if n_eff > k + 1 else np.inf)
            else:
                raise ValueError(f"BestSubset: unknown criterion {self.criterion!r} (bic or aicc)")
            scores.append(n_eff * np.log(max(rss, self.floor**2 * float(target @ target)) / n) + extra)
        support_idx = path[int(np.argmin(scores))][0]
        support = np.zeros(p, bool)
        support[support_idx] = True
        return SparseFit(least_squares(features, target, support), support.astype(float))
