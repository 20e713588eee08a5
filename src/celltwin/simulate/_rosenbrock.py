"""Rosenbrock (linearly implicit) solvers for diffrax: Rodas5P and Rodas4.

diffrax's stiff solvers are implicit Runge--Kutta methods (Kvaerno*) that solve a
nonlinear system with Newton iterations in every stage. A Rosenbrock method instead
linearises once per step: one Jacobian ``J = df/dy`` (forward-mode, all columns in one
batched JVP), one LU factorisation of ``I/(h gamma) - J`` and then one pair of triangular
solves per stage (for small systems: one inversion, then one matrix-vector product per
stage, see ``linear_solve``) -- no iterations, no convergence test, no Newton failures. For the small,
stiff ODE models of cell signalling this is much cheaper per step, and the Rodas family
(stiffly accurate, L-stable, embedded error estimate, own dense output) is what Julia's
SciML and Hairer's ``rodas.f`` use for such problems.

The stage equations, in Hairer & Wanner's transformed variables ``u_i`` (see Hairer &
Wanner, *Solving ODEs II*, Sec. IV.7), multiplied through by ``h``:

    (I/gamma - h J) u_i = h f(t0 + c_i h, y0 + sum_j a_ij u_j)
                          + sum_j C_ij u_j + d_i h^2 df/dt(t0, y0),

    y1 = y0 + sum_j b_j u_j,  error estimate = u_s (the last stage).

Writing the right-hand side as ``F = h f`` (diffrax's ``vf_prod`` with the step's
control) makes the method work for any ODE term, including diffrax's time-reversing
wrapper. The dense output is the method's own polynomial,

    y(t0 + theta h) = (1 - theta) y0 + theta (y1 + (1 - theta)(k1 + theta (k2 + theta k3 ...))),

with ``k_m = sum_j H_mj u_j``.

Coefficients: Rodas5P from Steinebach (2023), "Construction of Rosenbrock--Wanner
methods with higher order dense output", and Rodas4 from Hairer & Wanner's ``rodas.f``,
both as tabulated in OrdinaryDiffEq.jl. They are checked by the order tests in
``tests/test_rosenbrock.py``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.flatten_util as jfu
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import jax.tree_util as jtu
import numpy as np
from diffrax._custom_types import RealScalarLike, Y
from diffrax._local_interpolation import AbstractLocalInterpolation
from diffrax._misc import linear_rescale
from diffrax._term import WrapTerm

from ._sparse_lu import SparseLU

__all__ = ["JacobianTerm", "Rodas4", "Rodas5P", "RosenbrockInterpolation"]

LINEAR_SOLVES = ("auto", "lu", "inverse")
# Up to this many states the stage systems are solved with the explicit inverse of
# ``I/gamma - h J`` (one inversion per step, then one matrix-vector product per stage)
# instead of a LU factorisation and two triangular solves per stage: at these sizes the
# cost of a step is the number of XLA operations, not their arithmetic
# (``benchmarks/linear_solve.py``, ``benchmarks/results/linear_solve.tsv``).
INVERSE_MAX_STATES = 64


@dataclasses.dataclass(frozen=True, eq=False)
class _Tableau:
    """Coefficients of a stiffly accurate Rosenbrock method in Hairer's ``u`` form."""

    gamma: float
    a: np.ndarray  # (s, s) strictly lower: stage inputs
    C: np.ndarray  # (s, s) strictly lower: stage couplings
    b: np.ndarray  # (s,): solution weights
    c: np.ndarray  # (s,): stage times
    d: np.ndarray  # (s,): df/dt weights
    H: np.ndarray  # (m, s): dense-output weights


def _stiffly_accurate(gamma, a_rows, C_rows, c, d, H) -> _Tableau:
    """Builds the full tableau of a Rodas-type method.

    ``a_rows`` are the stage inputs of stages 2..q (q = len(a_rows) + 1, the stage whose
    input is at t0 + h); the stages q+1..s each add the previous stage's ``u`` to it (the
    "stiffly accurate" construction), so that ``y1`` is the input of stage s plus ``u_s``
    and ``u_s`` is the error estimate. ``C_rows`` are the couplings of stages 2..s.
    """
    s = len(C_rows) + 1
    a = np.zeros((s, s))
    for i, row in enumerate(a_rows, start=1):
        a[i, : len(row)] = row
    q = len(a_rows)  # 0-based index of the last stage with an explicit input row
    for i in range(q + 1, s):
        a[i] = a[i - 1]
        a[i, i - 1] = 1.0
    b = a[s - 1].copy()
    b[s - 1] = 1.0
    C = np.zeros((s, s))
    for i, row in enumerate(C_rows, start=1):
        C[i, : len(row)] = row
    cc = np.zeros(s)
    cc[1 : len(c) + 1] = c
    cc[len(c) + 1 :] = 1.0
    dd = np.zeros(s)
    dd[: len(d)] = d
    Hm = np.zeros((len(H), s))
    for m, row in enumerate(H):
        Hm[m, : len(row)] = row
    return _Tableau(gamma=float(gamma), a=a, C=C, b=b, c=cc, d=dd, H=Hm)


_RODAS5P = _stiffly_accurate(
    gamma=0.21193756319429014,
    a_rows=[
        [3.0],
        [2.849394379747939, 0.45842242204463923],
        [-6.954028509809101, 2.489845061869568, -10.358996098473584],
        [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641],
        [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
         0.030198172008377946],
    ],
    C_rows=[
        [-14.155112264123755],
        [-17.97296035885952, -2.859693295451294],
        [147.12150275711716, -1.41221402718213, 71.68940251302358],
        [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306],
        [24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
         -0.6610691825249471],
        [30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
         -19.097331116725623, -28.087943162872662],
        [37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
         -40.06618937091002, -54.66780262877968, -9.48861652309627],
    ],
    c=[0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664],
    d=[0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734,
       2.325825639765069],
    H=[
        [25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204,
         0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
        [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796,
         20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372],
        [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643,
         -52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722],
    ],
)

_RODAS4 = _stiffly_accurate(
    gamma=0.25,
    a_rows=[
        [1.544],
        [0.9466785280815826, 0.2557011698983284],
        [3.314825187068521, 2.896124015972201, 0.9986419139977817],
        [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950],
    ],
    C_rows=[
        [-5.6688],
        [-2.430093356833875, -0.2063599157091915],
        [-0.1073529058151375, -9.594562251023355, -20.47028614809616],
        [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160],
        [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
         -6.058818238834054],
    ],
    c=[0.386, 0.21, 0.63],
    d=[0.25, -0.1043, 0.1035, -0.03620000000000023],
    H=[
        [10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
         1.025137723295662],
        [-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
         -6.594389125716872],
    ],
)


class JacobianTerm(diffrax.ODETerm):
    """An ODE term ``dy/dt = f(t, y, args)`` (``y`` a flat array) that also knows its Jacobian.

    ``jacobian(t, y, args)`` returns ``(df/dy, df/dt)``. Rosenbrock solvers use it instead
    of differentiating ``f`` densely, which for large sparse models is most of a step, and
    factorise ``I/gamma - h df/dy`` with ``sparse_lu`` when one is given.
    """

    jacobian_fn: Callable
    sparse_lu: SparseLU | None = eqx.field(static=True, default=None)

    def jacobian(self, t, y, args):
        return self.jacobian_fn(t, y, args)


def _unwrap(terms) -> tuple[JacobianTerm | None, object]:
    """The :class:`JacobianTerm` inside diffrax's direction wrapper (or None), and the direction."""
    inner, direction = terms, 1
    if isinstance(terms, WrapTerm):
        inner, direction = terms.term, terms.direction
    return (inner if isinstance(inner, JacobianTerm) else None), direction


class RosenbrockInterpolation(AbstractLocalInterpolation):
    """Dense output of a Rodas method on one step:
    ``(1 - s) y0 + s (y1 + (1 - s)(k[0] + s (k[1] + s k[2] ...)))``, ``s = (t - t0)/h``.
    """

    # Fields that fill AbstractPath's equinox AbstractVars, as diffrax's own interpolations do;
    # mypy reads an AbstractVar as a class variable.
    t0: RealScalarLike  # type: ignore[misc]
    t1: RealScalarLike  # type: ignore[misc]
    y0: Y
    y1: Y
    k: Y  # the PyTree of y, each leaf with a leading axis (m,)

    def evaluate(self, t0, t1=None, left: bool = True):
        del left
        if t1 is not None:
            return jtu.tree_map(lambda a, b: a - b, self.evaluate(t1), self.evaluate(t0))
        s = linear_rescale(self.t0, t0, self.t1)

        def _eval(y0, y1, k):
            with jax.numpy_dtype_promotion("standard"):
                inner = k[-1]
                for m in range(k.shape[0] - 2, -1, -1):
                    inner = k[m] + s * inner
                return ((1 - s) * y0 + s * (y1 + (1 - s) * inner)).astype(y0.dtype)

        return jtu.tree_map(_eval, self.y0, self.y1, self.k)


class _AbstractRodas(diffrax.AbstractAdaptiveSolver):
    """A stiffly accurate Rosenbrock method with an embedded error estimate.

    Works for ODEs only (``diffrax.ODETerm``), with any PyTree state. One Jacobian, one
    LU factorisation and ``s`` right-hand-side evaluations per step attempt; the
    Jacobian is recomputed in every step (a Rosenbrock-W variant that reuses it would
    need a different tableau).

    Attributes:
        linear_solve: how the ``s`` stage systems with ``I/gamma - h J`` are solved:
            ``"lu"`` (factorise once, two triangular solves per stage), ``"inverse"``
            (invert once, one matrix-vector product per stage) or ``"auto"`` (the
            inverse up to :data:`INVERSE_MAX_STATES` states, else LU). A term with a
            sparse LU (:class:`JacobianTerm`) always uses it.
    """

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., RosenbrockInterpolation]] = RosenbrockInterpolation
    tableau: ClassVar[_Tableau]
    _order: ClassVar[int]
    linear_solve: str = eqx.field(static=True, default="auto")

    def __check_init__(self):
        if self.linear_solve not in LINEAR_SOLVES:
            raise ValueError(f"linear_solve={self.linear_solve!r}: choose one of {', '.join(LINEAR_SOLVES)}")

    def order(self, terms):
        return self._order

    def error_order(self, terms):
        # The estimate u_s is the difference to an embedded method of order p - 1, so it
        # is a local error of order p.
        return self._order

    def init(self, terms, t0, t1, y0, args):
        return None

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)

    @staticmethod
    def _jacobian(inner, direction, F, control, t0, y0, y0_flat, args, h):
        """``dF/dy``, ``h dF/dt`` and ``F`` at ``(t0, y0)``, where ``F = control * f`` (``control = h``);
        from ``inner`` (the model term, if the terms are one) or by dense forward mode."""
        if inner is not None:
            J, dfdt = inner.jacobian(t0 * direction, y0, args)
            return control * J, h * control * direction * dfdt, F(t0, y0_flat)
        n, dtype = y0_flat.shape[0], y0_flat.dtype

        def F_shift(z):  # perturb y by z[:n] and t by z[n]; dense, all columns in one batched pass
            out = F(t0 + z[n], y0_flat + z[:n])
            return out, out

        jac, F0 = jax.jacfwd(F_shift, has_aux=True)(jnp.zeros(n + 1, dtype=dtype))
        return jac[:, :n], h * jac[:, n], F0

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        tab = self.tableau
        s = tab.a.shape[0]
        control = terms.contr(t0, t1)
        h = t1 - t0
        y0_flat, unravel = jfu.ravel_pytree(y0)
        n = y0_flat.shape[0]
        dtype = y0_flat.dtype

        def F(t, y_flat):  # h f(t, y), flat
            out = terms.vf_prod(t, unravel(y_flat), args, control)
            return jfu.ravel_pytree(out)[0].astype(dtype)

        inner, direction = _unwrap(terms)
        hJ, h2ft, F0 = self._jacobian(inner, direction, F, control, t0, y0, y0_flat, args, h)
        W = jnp.eye(n, dtype=dtype) / tab.gamma - hJ
        if inner is not None and inner.sparse_lu is not None:
            factors = inner.sparse_lu.factor(W)
            solve = functools.partial(inner.sparse_lu.solve, factors)
        elif self.linear_solve == "inverse" or (self.linear_solve == "auto" and n <= INVERSE_MAX_STATES):
            W_inv = jnp.linalg.inv(W)
            solve = functools.partial(jnp.matmul, W_inv)
        else:
            lu_piv = jsl.lu_factor(W)
            solve = functools.partial(jsl.lu_solve, lu_piv)

        us = []
        for i in range(s):
            if i == 0:
                Fi = F0
            else:
                yi = y0_flat
                for j in range(i):
                    if tab.a[i, j] != 0.0:
                        yi = yi + tab.a[i, j] * us[j]
                Fi = F(t0 + tab.c[i] * h, yi)
            rhs = Fi
            for j in range(i):
                if tab.C[i, j] != 0.0:
                    rhs = rhs + tab.C[i, j] * us[j]
            if tab.d[i] != 0.0:
                rhs = rhs + tab.d[i] * h2ft
            us.append(solve(rhs))

        U = jnp.stack(us)  # (s, n)
        y1_flat = y0_flat + jnp.asarray(tab.b, dtype) @ U
        k_flat = jnp.asarray(tab.H, dtype) @ U  # (m, n)
        y1 = unravel(y1_flat)
        y_error = unravel(us[-1])
        k = jax.vmap(unravel)(k_flat)
        dense_info = dict(y0=y0, y1=y1, k=k)
        return y1, y_error, dense_info, None, diffrax.RESULTS.successful


class Rodas5P(_AbstractRodas):
    """Rodas5P (Steinebach 2023): 8-stage, order 5 with an embedded order-4 estimate,
    stiffly accurate and L-stable, 4th-order dense output. SciML's recommendation for
    stiff problems at tight tolerances.
    """

    tableau: ClassVar[_Tableau] = _RODAS5P
    _order: ClassVar[int] = 5


class Rodas4(_AbstractRodas):
    """Rodas4 (Hairer & Wanner): 6-stage, order 4 with an embedded order-3 estimate,
    stiffly accurate and L-stable, 3rd-order dense output.
    """

    tableau: ClassVar[_Tableau] = _RODAS4
    _order: ClassVar[int] = 4
