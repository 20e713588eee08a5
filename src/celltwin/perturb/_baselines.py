"""Baselines for held-out perturbations, as the literature defines them.

All work on observed mean changes of log-normalised expression from the controls of the same
context (``delta``), keyed by ``(context, targets)``; a screen without contexts uses context
``""``. Each baseline is built from the training changes only and called with the held-out
unit's ``(context, targets)``.

* **no change**: the perturbed cells look like controls.
* **mean**: the mean change over the training perturbations (Csendes et al. 2025; Wenteler et
  al. 2024): what any perturbation does on average.
* **additive**: the sum of the observed single changes of each target (Ahlmann-Eltze et al. 2025).
* **linear**: the linear model of Ahlmann-Eltze et al. 2025, ``Y ~ G W P^T + b`` with gene
  embeddings ``G`` from the PCA of the training changes, perturbation embeddings ``P`` (a
  combination's embedding is the sum of its targets' single embeddings), ``b`` the mean over
  training perturbations and a ridge-penalised ``W``.
* **context mean**: across contexts (cell types), the mean change of the same targets over the
  training contexts. Changes are taken from each context's own controls, so a cell-type offset
  plus the additive effect predicts exactly this change.
* **nearest context**: the change of the same targets in the training context whose controls
  are closest (Euclidean distance of the control means) to the held-out context's controls.
"""

from __future__ import annotations

import numpy as np

from ..errors import CelltwinInputError

Key = tuple[str, tuple[str, ...]]


def _n_genes(deltas: dict[Key, np.ndarray]) -> int:
    return len(next(iter(deltas.values())))


def no_change_baseline(deltas: dict[Key, np.ndarray]):
    """Predicts zero change."""
    zeros = np.zeros(_n_genes(deltas))
    return lambda context, targets: zeros


def mean_baseline(deltas: dict[Key, np.ndarray]):
    """The mean change over all training perturbations (singles and combinations, every context).

    >>> import numpy as np
    >>> mean_baseline({("", ("A",)): np.array([1.0, 0.0]), ("", ("B",)): np.array([0.0, 2.0])})("", ("C",))
    array([0.5, 1. ])
    """
    mean = np.mean(list(deltas.values()), axis=0)
    return lambda context, targets: mean


def _target_singles(deltas: dict[Key, np.ndarray]) -> dict[str, np.ndarray]:
    # per target, its single change averaged over the training contexts that perturbed it alone
    by_target: dict[str, list[np.ndarray]] = {}
    for (_, targets), d in deltas.items():
        if len(targets) == 1:
            by_target.setdefault(targets[0], []).append(d)
    return {t: np.mean(v, axis=0) for t, v in by_target.items()}


def additive_baseline(deltas: dict[Key, np.ndarray]):
    """The sum of the single changes of each target, in the unit's own context.

    >>> import numpy as np
    >>> f = additive_baseline({("", ("A",)): np.array([1.0, 0.0]), ("", ("B",)): np.array([0.5, 2.0])})
    >>> f("", ("A", "B"))
    array([1.5, 2. ])
    """
    def predict(context, targets):
        missing = [t for t in targets if (context, (t,)) not in deltas]
        if missing:
            raise CelltwinInputError(f"additive baseline: no single perturbation of {', '.join(missing)} "
                                     f"in training{' in ' + context if context else ''}")
        return np.sum([deltas[(context, (t,))] for t in targets], axis=0)

    return predict


def context_mean_baseline(deltas: dict[Key, np.ndarray]):
    """The mean change of the same targets over the training contexts."""
    def predict(context, targets):
        found = [d for (c, t), d in deltas.items() if t == tuple(targets) and c != context]
        if not found:
            raise CelltwinInputError(f"context-mean baseline: {'+'.join(targets)} not perturbed in another context")
        return np.mean(found, axis=0)

    return predict


def nearest_context_baseline(deltas: dict[Key, np.ndarray], control_means: dict[str, np.ndarray]):
    """The change of the same targets in the training context with the closest control mean."""
    def predict(context, targets):
        options = [c for (c, t) in deltas if t == tuple(targets) and c != context]
        if not options:
            raise CelltwinInputError(f"nearest-context baseline: {'+'.join(targets)} not perturbed in "
                                     "another context")
        distance = {c: float(np.sum((control_means[c] - control_means[context]) ** 2)) for c in options}
        return deltas[(min(options, key=distance.get), tuple(targets))]

    return predict


class LinearBaseline:
    """The linear model of Ahlmann-Eltze et al. 2025 (Nature Methods 22: 1657), on changes.

    ``Y ~ G W P^T + b``: ``Y`` (genes x training conditions) the training changes, ``b`` their
    mean over conditions, ``G`` the top ``components`` principal directions of ``Y - b`` (gene
    embedding), ``p_t = G^T (y_t - b)`` a target's embedding from its single change (averaged
    over contexts), a condition's embedding the sum of its targets', and
    ``W = argmin ||Y - b - G W P^T||^2 + ridge ||W||^2``. Conditions with a target that was
    never perturbed alone in training are left out of the fit. Defaults ``components=10``,
    ``ridge=0.1`` as in the paper.
    """

    def __init__(self, deltas: dict[Key, np.ndarray], *, components: int = 10, ridge: float = 0.1):
        singles = _target_singles(deltas)
        keys = [k for k in deltas if all(t in singles for t in k[1])]
        if not keys:
            raise CelltwinInputError("linear baseline: no training condition whose targets were perturbed alone")
        y = np.stack([deltas[k] for k in keys], axis=1)
        self.offset = y.mean(1)
        centred = y - self.offset[:, None]
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        k = int(min(components, np.sum(s > 1e-12 * max(s.max(), 1e-300))))
        self.gene_embedding = u[:, :k]
        self.target_embedding = {t: self.gene_embedding.T @ (d - self.offset) for t, d in singles.items()}
        p = np.stack([self._embed(targets) for _, targets in keys])  # (conditions, k)
        g_y = self.gene_embedding.T @ centred  # (k, conditions): G has orthonormal columns
        self.weights = g_y @ p @ np.linalg.inv(p.T @ p + ridge * np.eye(k))

    def _embed(self, targets) -> np.ndarray:
        missing = [t for t in targets if t not in self.target_embedding]
        if missing:
            raise CelltwinInputError(f"linear baseline: {', '.join(missing)} not perturbed alone in training")
        return np.sum([self.target_embedding[t] for t in targets], axis=0)

    def __call__(self, context, targets) -> np.ndarray:
        return self.offset + self.gene_embedding @ (self.weights @ self._embed(targets))
