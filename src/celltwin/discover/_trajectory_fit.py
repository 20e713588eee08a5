"""Fitting a mass-action network to the trajectories themselves (ODE least squares).

The weak form compares integrals of the data with integrals of the candidate fluxes; where a
network is sampled sparsely (a binding transient between two samples) or a species is near
zero most of the time, those integrals are biased, and networks that fit the integrals equally
well can predict very different trajectories. Solving each candidate network and comparing it
with the samples settles that, at the price of an ODE solve per residual evaluation: the
rate constants (in log space, so they stay positive) and every trajectory's initial state are
fitted by ``scipy.optimize.least_squares`` with forward sensitivities for the Jacobian.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from ._data import TimeCourses
from ._mass_action_kernels import pair_indices, sensitivity_jacobian, sensitivity_rhs
from ._reactions import Reaction

_LOG_K_BOUNDS = (np.log(1e-6), np.log(1e3))
_FASTEST = 50.0
"""Largest rate (per unit time, at the data's typical level) a fit may give a reaction, in units
of the inverse of the shortest sampling interval: a faster process equilibrates between two
samples, cannot be told from a somewhat slower one, and makes the ODE stiff enough that a fit
takes minutes instead of a second."""


def _log_rate_caps(data: TimeCourses, reactants: np.ndarray) -> np.ndarray:
    dt = min(float(np.min(np.diff(tr.t))) for tr in data.trajectories)
    level = float(np.sqrt(np.mean(np.concatenate([tr.states for tr in data.trajectories]) ** 2))) or 1.0
    molecules = reactants.sum(axis=1)
    return np.minimum(np.log(_FASTEST / dt) - (molecules - 1) * np.log(level), _LOG_K_BOUNDS[1])


@dataclasses.dataclass(frozen=True)
class TrajectoryFit:
    """A network fitted to the samples: rate constants, initial states per trajectory and the
    weighted residual sum of squares (residuals divided by the noise scales)."""

    rate_constants: np.ndarray
    initial_states: tuple[np.ndarray, ...]
    rss: float
    n_observations: int
    success: bool
    residuals: np.ndarray
    jacobian: np.ndarray

    def bic(self, n_candidates: int = 0, gamma: float = 0.5) -> float:
        """The extended BIC ``n log(RSS / n) + k log n + 2 gamma log C(n_candidates, k)``, ``k``
        the number of reactions (every network compared fits the same initial states).

        The last term (Chen and Chen 2008) charges for having picked the ``k`` among many
        candidates: the best of 700 useless reactions lowers the RSS by far more than the
        ``log n`` that the plain BIC asks for.
        """
        from math import lgamma

        n, k = self.n_observations, len(self.rate_constants)
        m = max(n_candidates, k)
        log_choose = lgamma(m + 1) - lgamma(k + 1) - lgamma(m - k + 1)
        return float(n * np.log(max(self.rss, 1e-300) / n) + k * np.log(n) + 2 * gamma * log_choose)


class _Monomials:
    """``x -> (prod_i x_i^R_ri (m,), its derivatives (m, n))`` for fixed reactant complexes ``R``."""

    def __init__(self, reactants: np.ndarray):
        self.reactants = np.asarray(reactants, dtype=float)
        m, n = self.reactants.shape
        self.rows = np.arange(m)
        # the common case, complexes of at most two molecules: two index lookups, no products
        self.pairs = None
        if m and self.reactants.sum(axis=1).max() <= 2:
            first, second = np.full(m, n), np.full(m, n)  # index n is the constant 1
            for r, row in enumerate(self.reactants.astype(int)):
                mols = [i for i in range(n) for _ in range(row[i])]
                first[r], second[r] = (mols + [n, n])[:2]
            self.pairs = first, second

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(x)
        if self.pairs is not None:
            first, second = self.pairs
            xa = np.append(x, 1.0)
            deriv = np.zeros((len(first), n + 1))
            deriv[self.rows, first] += xa[second]
            deriv[self.rows, second] += xa[first]  # a separate statement, so A^2 gets 2 A
            return xa[first] * xa[second], deriv[:, :n]
        reactants = self.reactants
        powers = x[None, :] ** reactants  # (m, n); 0^0 = 1
        # factor i of the derivative by x_i: R_ri x_i^(R_ri - 1), the other factors as they are
        stacked = np.broadcast_to(powers, (n, *powers.shape)).copy()
        d_own = np.where(reactants > 0, reactants * x[None, :] ** np.maximum(reactants - 1, 0), 0.0)
        idx = np.arange(n)
        stacked[idx, :, idx] = d_own.T
        return np.prod(powers, axis=1), np.prod(stacked, axis=2).T


def _numpy_sensitivity_system(rates, reactants, stoich):
    """The right-hand side of states and sensitivities and its approximate Jacobian for any
    reactant complexes (the compiled kernels take complexes of at most two molecules)."""
    n, m = stoich.shape
    p = m + n
    monomials = _Monomials(reactants)

    def rhs(z, _):
        x = z[:n]
        s = z[n:].reshape(n, p)
        mono, dmono = monomials(x)
        flux = rates * mono
        jac = stoich @ (rates[:, None] * dmono)
        ds = jac @ s
        ds[:, :m] += stoich * flux[None, :]
        return np.concatenate([stoich @ flux, ds.ravel()])

    def jac(z, _):
        # x, then the sensitivities raveled row-major (species i, parameter c): d ds[i, c] / d s[j, c] = J[i, j];
        # their dependence on x is left out (an approximate Jacobian is enough for the Newton steps)
        _, dmono = monomials(z[:n])
        j_x = stoich @ (rates[:, None] * dmono)
        out = np.zeros((n * (1 + p), n * (1 + p)))
        out[:n, :n] = j_x
        out[n:, n:] = np.kron(j_x, np.eye(p))
        return out

    return rhs, jac


def _solve_with_sensitivities(rates, x0, t, reactants, change):
    """States (len(t), n) and their derivatives by log rate constants and by x0,
    (len(t), n, m + n); ``None`` where the solver fails."""
    from scipy.integrate import odeint

    n, m = len(x0), len(rates)
    p = m + n
    stoich = np.ascontiguousarray(change.T, dtype=float)  # (n, m)
    z0 = np.concatenate([x0, np.hstack([np.zeros((n, m)), np.eye(n)]).ravel()])
    pairs = pair_indices(reactants)
    rhs: Callable
    jac: Callable
    args: tuple = ()
    if pairs is not None:  # compiled kernels: the same arithmetic without NumPy's per-call overhead
        rhs, jac, args = sensitivity_rhs, sensitivity_jacobian, (np.asarray(rates, dtype=float), *pairs, stoich)
    else:
        rhs, jac = _numpy_sensitivity_system(rates, reactants, stoich)
    # odeint calls LSODA with one Python call per right-hand side, not per step as solve_ivp does
    with np.errstate(all="ignore"):
        z, info = odeint(rhs, z0, t, args=args, Dfun=jac, rtol=1e-6, atol=1e-9, mxstep=5000, full_output=True)
    if info["message"] != "Integration successful." or not np.all(np.isfinite(z)):
        return None
    return z[:, :n], z[:, n:].reshape(len(t), n, p)


def noise_scales(data: TimeCourses, predicted: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Per-sample noise standard deviations ``sqrt(a_i^2 + (b_i y)^2)`` for every trajectory.

    ``a_i`` (absolute) and ``b_i`` (relative) are fitted per species by maximum likelihood to
    the residuals ``observed - predicted`` (the predictions of a fitted network), or, without
    predictions, to the local residuals of each sample against the line through its
    neighbours. Either kind of noise, or a mix, is thereby weighted correctly: with relative
    noise a species' residual variance grows with its level, and rows where it is small
    carry more information.
    """
    from scipy.optimize import minimize

    n_sp = len(data.species)
    resid, level, factor = [], [], []
    for k, tr in enumerate(data.trajectories):
        if predicted is not None:
            resid.append(tr.states - predicted[k])
            level.append(np.abs(predicted[k]))
            factor.append(np.ones_like(tr.states))
        else:
            t, x = tr.t, tr.states
            a = ((t[2:] - t[1:-1]) / (t[2:] - t[:-2]))[:, None]
            resid.append(x[1:-1] - (a * x[:-2] + (1 - a) * x[2:]))
            level.append(np.abs(x[1:-1]))
            factor.append(np.broadcast_to(1 + a**2 + (1 - a) ** 2, x[1:-1].shape))  # variance of the combination
    resid, level, factor = (np.concatenate(v) for v in (resid, level, factor))
    out = np.zeros((n_sp, 2))
    for i in range(n_sp):
        r2, y2, f = resid[:, i] ** 2, level[:, i] ** 2, factor[:, i]
        scale = np.sqrt(np.mean(r2)) or 1.0
        y_rms = np.sqrt(np.mean(y2)) or 1.0

        def nll(q):
            var = f * ((np.exp(q[0]) * scale) ** 2 + (np.exp(q[1]) * scale / y_rms) ** 2 * y2) + 1e-300
            return float(np.sum(np.log(var) + r2 / var))

        q = minimize(nll, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-6}).x
        out[i] = np.exp(q[0]) * scale, np.exp(q[1]) * scale / y_rms
    # a floor: a species measured without any scatter would otherwise get infinite weight
    floor = 1e-6 * np.array([np.sqrt(np.mean(np.concatenate([tr.states[:, i] for tr in data.trajectories]) ** 2))
                             or 1.0 for i in range(n_sp)])
    levels = [tr.states for tr in data.trajectories] if predicted is None else predicted
    return [np.sqrt(out[:, 0] ** 2 + floor**2 + (out[:, 1] * np.abs(y)) ** 2) for y in levels]


def fit_trajectories(data: TimeCourses, reactions: Sequence[Reaction], sd: Sequence[np.ndarray], *,
                     initial_states: Sequence[np.ndarray] | None = None, max_nfev: int = 30) -> TrajectoryFit:
    """Least-squares fit of the network's rate constants and initial states to the samples,
    residuals divided by ``sd`` (per sample, as :func:`noise_scales` gives), starting from the
    reactions' rate constants and ``initial_states`` (default: the first samples)."""
    from scipy.optimize import least_squares

    trajs = data.trajectories
    n, m, runs = len(data.species), len(reactions), len(trajs)
    reactants = np.array([r.reactants for r in reactions], dtype=float).reshape(m, n)
    change = np.array([np.subtract(r.products, r.reactants) for r in reactions], dtype=float).reshape(m, n)
    starts = [np.maximum(tr.states[0], 0.0) for tr in trajs] if initial_states is None else list(initial_states)
    caps = _log_rate_caps(data, reactants)
    k0 = np.clip(np.log(np.maximum([r.rate_constant for r in reactions], 1e-6)), _LOG_K_BOUNDS[0], caps)
    theta0 = np.concatenate([k0, *starts])
    n_obs = sum(tr.states.size for tr in trajs)
    penalty = 1e3

    def split(theta):
        return np.exp(theta[:m]), [theta[m + k * n: m + (k + 1) * n] for k in range(runs)]

    cache: dict[bytes, object] = {}

    def evaluate(theta):
        key = theta.tobytes()
        if key not in cache:
            cache.clear()
            rates, x0s = split(theta)
            res, jac = np.empty(n_obs), np.zeros((n_obs, len(theta)))
            row = 0
            for k, tr in enumerate(trajs):
                size = tr.states.size
                out = _solve_with_sensitivities(rates, x0s[k], tr.t, reactants, change)
                if out is None:
                    res[row:row + size] = penalty
                else:
                    x, s = out
                    w = 1.0 / sd[k]
                    res[row:row + size] = ((x - tr.states) * w).ravel()
                    sw = s * w[:, :, None]
                    jac[row:row + size, :m] = sw[:, :, :m].reshape(size, m)
                    jac[row:row + size, m + k * n: m + (k + 1) * n] = sw[:, :, m:].reshape(size, n)
                row += size
            cache[key] = (res, jac)
        return cache[key]

    lower = np.concatenate([np.full(m, _LOG_K_BOUNDS[0]), np.zeros(n * runs)])
    upper = np.concatenate([caps, np.full(n * runs, np.inf)])
    theta0 = np.clip(theta0, lower, upper)
    # small dense problems: BLAS threads only add overhead (on a loaded machine each SVD inside
    # least_squares took 0.3 s with threads, microseconds without)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        sol = least_squares(lambda th: evaluate(th)[0], theta0, jac=lambda th: evaluate(th)[1],
                            bounds=(lower, upper), method="trf", max_nfev=max_nfev, x_scale="jac")
    res, jac = evaluate(sol.x)
    rates, x0s = split(sol.x)
    ok = bool(np.all(res != penalty))
    return TrajectoryFit(rates, tuple(x0s), float(res @ res), n_obs, ok, res, jac)
