"""Simulated Perturb-seq screens with a known regulatory network, guides and batch effects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CelltwinInputError
from ._screen import CONTROL, Screen


@dataclass(frozen=True)
class SimulatedScreen:
    """A simulated screen and the truth behind it.

    Attributes:
        screen: the cells (raw counts).
        network: ``(genes, genes)`` true weights, ``W[i, j]``: gene j -> gene i.
        baseline: true unperturbed log expression per ``SCALE`` counts.
        amplitude: per target gene, the activation strength of its reference guide.
        efficiency: per guide, its true efficiency.
        batch_effects: ``(batches, genes)`` true log offsets.
        medium_effects: ``(media, genes)`` true input vectors of the media ``m0, m1, ...`` to the
            latent dynamics (row 0, the reference medium, is zero).
    """

    screen: Screen
    network: np.ndarray
    baseline: np.ndarray
    amplitude: dict[str, float]
    efficiency: dict[str, float]
    batch_effects: np.ndarray
    medium_effects: np.ndarray | None = None

    def true_change(self, targets, *, medium: str | None = None, time: float = np.inf) -> np.ndarray:
        """True change of the log expression when ``targets`` are activated, relative to control
        cells of the same medium: at the new steady state, or ``time`` after activation."""
        gi = {g: i for i, g in enumerate(self.screen.genes)}
        drive = np.zeros(len(gi))
        for t in targets:
            drive[gi[t]] += self.amplitude[t]
        base = np.zeros(len(gi))
        if medium is not None:
            if self.medium_effects is None:
                raise ValueError(f"medium {medium!r}: this screen has one medium")
            base = self.medium_effects[int(medium.lstrip("m"))]
        start = _steady(self.network, base[None, :])[0]
        if np.isfinite(time):
            end = _integrate(self.network, start[None, :], (base + drive)[None, :], np.array([time]))[0]
        else:
            end = _steady(self.network, (base + drive)[None, :])[0]
        return end - start


def _steady(w, drive, iterations: int = 200):
    d = drive.copy()
    for _ in range(iterations):
        d = 0.5 * d + 0.5 * (np.tanh(d) @ w.T + drive)
    return d


def _integrate(w, start, drive, time, steps: int = 200):
    """Rows of ``start`` carried for their ``time`` along ``dd/dt = W tanh(d) - d + drive`` (RK4);
    rows with infinite time go to their steady state."""
    finite = np.isfinite(time)
    h = (np.where(finite, time, 0.0) / steps)[:, None]

    def f(d):
        return np.tanh(d) @ w.T - d + drive

    d = start.copy()
    for _ in range(steps):
        k1 = f(d)
        k2 = f(d + 0.5 * h * k1)
        k3 = f(d + 0.5 * h * k2)
        k4 = f(d + h * k3)
        d = d + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.where(finite[:, None], d, _steady(w, drive))


def random_network(n_genes: int, rng, *, edge_probability: float = 0.15, weight_range=(0.5, 1.0)) -> np.ndarray:
    """A random acyclic network: gene order shuffled, edges only from earlier to later genes."""
    order = rng.permutation(n_genes)
    w = np.zeros((n_genes, n_genes))
    for a in range(n_genes):
        for b in range(a + 1, n_genes):
            if rng.random() < edge_probability:
                w[order[b], order[a]] = rng.choice([-1.0, 1.0]) * rng.uniform(*weight_range)
    return w


def simulate_screen(seed: int = 0, *, n_genes: int = 20, n_targets: int = 10, n_doubles: int = 6,
                    guides_per_target: int = 2, n_batches: int = 4, cells_per_condition: int = 60,
                    controls_per_batch: int = 60, controls_in_every_batch: bool = True,
                    batch_sd: float = 0.3, cell_sd: float = 0.4, depth: float = 10000.0,
                    dispersion: float = 20.0, edge_probability: float = 0.15, n_media: int = 1,
                    medium_sd: float = 0.7, times: tuple[float, ...] | None = None) -> SimulatedScreen:
    """Simulate a CRISPRa screen of a sparse regulatory network observed as UMI counts.

    Each cell sits at the steady state of ``0 = W tanh(d) - d + drive + e_c`` (``e_c``: its own
    basal-rate noise, sd ``cell_sd``), where ``drive`` activates each perturbed target gene by its
    amplitude times the guide's efficiency. Counts are negative binomial with mean
    ``library * exp(baseline + d + batch effect) / SCALE``. Perturbed cells are spread evenly over
    the batches; controls are in every batch or, with ``controls_in_every_batch=False``, all in
    batch 0.

    With ``n_media > 1``, cells of every condition (controls included) are spread evenly over
    media ``m0, m1, ...``; each medium ``k > 0`` adds its own input vector (normal, sd
    ``medium_sd``, per gene) to the drive, so its cells sit at another steady state and respond
    to perturbations through the same network. With ``times``, perturbed cells are observed at
    those times after activation (spread evenly): each starts at its control steady state and
    follows the dynamics for that time; controls stay at their steady state (time ``inf``).
    The extra draws use their own random stream, so the default screen is unchanged.
    """
    if n_targets > n_genes:
        raise CelltwinInputError("n_targets must be <= n_genes (targets are measured genes)")
    rng = np.random.default_rng(seed)
    genes = tuple(f"g{i:02d}" for i in range(n_genes))
    w = random_network(n_genes, rng, edge_probability=edge_probability)
    baseline = rng.uniform(np.log(5.0), np.log(100.0), n_genes)
    targets = [genes[i] for i in sorted(rng.choice(n_genes, n_targets, replace=False))]
    amplitude = {t: float(rng.uniform(1.0, 2.0)) for t in targets}
    efficiency = {}
    for t in targets:
        for k in range(guides_per_target):
            efficiency[f"{t}_sg{k}"] = 1.0 if k == 0 else float(rng.uniform(0.3, 0.8))
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < n_doubles:
        a, b = sorted(rng.choice(len(targets), 2, replace=False))
        pairs.add((targets[a], targets[b]))
    conditions = [()] + [(t,) for t in targets] + sorted(pairs)
    batch_effects = rng.normal(0.0, batch_sd, (n_batches, n_genes))
    gi = {g: i for i, g in enumerate(genes)}

    extra = np.random.default_rng([seed, 7])
    medium_effects = np.zeros((n_media, n_genes))
    medium_effects[1:] = extra.normal(0.0, medium_sd, (n_media - 1, n_genes))

    rows_guides: list[tuple[str, ...]] = []
    rows_batch, rows_medium, rows_time = [], [], []
    for cond in conditions:
        if not cond:
            for k in range(n_batches):
                if controls_in_every_batch or k == 0:
                    n = controls_per_batch if controls_in_every_batch else controls_per_batch * n_batches
                    rows_guides += [()] * n
                    rows_batch += [k] * n
                    rows_medium += [i % n_media for i in range(n)]
                    rows_time += [np.inf] * n
            continue
        for c in range(cells_per_condition):
            rows_guides.append(tuple(f"{t}_sg{rng.integers(guides_per_target)}" for t in cond))
            rows_batch.append(c % n_batches)
            rows_medium.append((c // n_batches) % n_media)
            rows_time.append(np.inf if times is None else times[(c // (n_batches * n_media)) % len(times)])
    n_cells = len(rows_guides)
    drive = np.zeros((n_cells, n_genes))
    for c, gs in enumerate(rows_guides):
        for g in gs:
            t = g.rsplit("_sg", 1)[0]
            drive[c, gi[t]] += amplitude[t] * efficiency[g]
    basal = rng.normal(0.0, cell_sd, drive.shape) + medium_effects[np.asarray(rows_medium)]
    if times is None:
        d = _steady(w, drive + basal)
    else:
        d = _integrate(w, _steady(w, basal), drive + basal, np.asarray(rows_time, dtype=np.float64))
    batch = np.asarray(rows_batch)
    library = depth * rng.lognormal(0.0, 0.3, n_cells)
    mean = library[:, None] / 1e4 * np.exp(baseline + d + batch_effects[batch])
    counts = rng.negative_binomial(dispersion, dispersion / (dispersion + mean)).astype(np.float64)
    guide_target = {g: g.rsplit("_sg", 1)[0] for g in efficiency}
    labels = np.asarray(["+".join(sorted(guide_target[g] for g in gs)) if gs else CONTROL for gs in rows_guides],
                        dtype=object)
    screen = Screen(counts, "counts", genes, labels, tuple(rows_guides), guide_target, batch,
                    tuple(f"b{k}" for k in range(n_batches)), library, source=f"simulated screen (seed {seed})",
                    medium=None if n_media == 1 else np.asarray([f"m{k}" for k in rows_medium], dtype=object),
                    time=None if times is None else np.asarray(rows_time, dtype=np.float64))
    return SimulatedScreen(screen, w, baseline, amplitude, efficiency, batch_effects,
                           None if n_media == 1 else medium_effects)
