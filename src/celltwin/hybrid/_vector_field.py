"""The right-hand side of a hybrid model: a compiled mechanistic model composed with the
neural terms inside it (as diffrax composes terms), not a compiled model with patched fields.

Its parameter vector is ``pe = [model parameters, full network weight vector]``. At every
``(t, x)`` the neural terms set some model parameters (a rate, a flux) from their outputs;
the mechanistic right-hand side is then evaluated with those parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..model import CompiledModel


@dataclasses.dataclass(frozen=True, eq=False)
class HybridVectorField:
    """``dx/dt = f_model(t, x, g(t, x, p, w))`` with ``g`` the neural terms' parameter update.

    It offers what the ODE solver (:func:`celltwin.simulate.solve_time_course`) reads of a
    right-hand side: ``n_states``, ``events``, ``derived``, ``rhs``, ``jacobian``,
    ``jacobian_sparsity``. Its Jacobian is dense, by forward-mode differentiation through
    the networks.

    Attributes:
        mechanistic: the compiled mechanistic model.
        neural_parameters: ``(t, x, p, w) -> p`` with the parameters the networks set
            replaced by their values at ``(t, x)`` (``p`` unchanged where none does).
    """

    mechanistic: CompiledModel
    neural_parameters: Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]
    events: tuple = ()

    @property
    def n_states(self) -> int:
        return self.mechanistic.n_states

    @property
    def jacobian_sparsity(self) -> np.ndarray:
        return np.ones((self.n_states, self.n_states), dtype=bool)

    @property
    def n_jacobian_colours(self) -> int:
        return self.n_states

    def derived(self, pe):
        # The model's own parameter-only quantities depend on what the networks set, so they
        # are computed inside rhs, at every evaluation.
        return ()

    def rhs(self, t, x, pe, derived):
        cm = self.mechanistic
        n_p = cm.n_parameters
        p = self.neural_parameters(t, x, pe[:n_p], pe[n_p:])
        return cm.rhs(t, x, p, cm.derived(p))

    def jacobian(self, t, x, pe, derived):
        """``(df/dx, df/dt)``, as the Rosenbrock solvers need them."""
        dfdx = jax.jacfwd(lambda y: self.rhs(t, y, pe, derived))(x)
        dfdt = jax.jvp(lambda s: self.rhs(s, x, pe, derived), (t,), (jnp.ones_like(t),))[1]
        return dfdx, dfdt
