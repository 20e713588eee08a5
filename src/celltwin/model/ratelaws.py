"""Common rate laws for :meth:`Model.add_reaction`.

Each returns a function ``(model, reaction) -> sympy expression`` giving the rate in
amount per time, i.e. the concentration rate multiplied by the size of the compartment of
the reaction's first reactant (or first product, for a source reaction).

>>> from celltwin.model import Model
>>> m = Model()
>>> _ = m.add_species("S", 1.0); _ = m.add_species("P")
>>> _ = m.add_parameter("Vmax", 2.0); _ = m.add_parameter("Km", 0.5)
>>> m.add_reaction("conv", "S -> P", rate=michaelis_menten("Vmax", "Km")).rate
S*Vmax*default/(Km + S)
"""

from __future__ import annotations

import sympy as sp

from ..errors import CelltwinInputError
from ._model import Model, Reaction, as_expr, symbol


def _volume(model: Model, reaction: Reaction) -> sp.Expr:
    participants = [*reaction.reactants, *reaction.products]
    if not participants:
        raise CelltwinInputError(f"reaction {reaction.id!r} has no species to place it in a compartment")
    return symbol(model.species[participants[0]].compartment)


def _one_substrate(reaction: Reaction, substrate: str | None, law: str) -> sp.Symbol:
    if substrate is not None:
        return symbol(substrate)
    if len(reaction.reactants) != 1:
        raise CelltwinInputError(f"reaction {reaction.id!r}: {law} needs substrate= when there is not exactly one reactant")
    return symbol(next(iter(reaction.reactants)))


def mass_action(forward: str | float, reverse: str | float | None = None):
    """Mass action: ``kf * prod(reactants**stoich) [- kr * prod(products**stoich)]``."""

    def law(model: Model, reaction: Reaction) -> sp.Expr:
        rate = as_expr(forward) * sp.Mul(*[symbol(s) ** _int(n) for s, n in reaction.reactants.items()])
        if reverse is not None:
            rate -= as_expr(reverse) * sp.Mul(*[symbol(s) ** _int(n) for s, n in reaction.products.items()])
        return _volume(model, reaction) * rate

    return law


def michaelis_menten(vmax: str | float, km: str | float, substrate: str | None = None):
    """Michaelis-Menten: ``Vmax * S / (Km + S)``."""

    def law(model: Model, reaction: Reaction) -> sp.Expr:
        s = _one_substrate(reaction, substrate, "michaelis_menten")
        return _volume(model, reaction) * as_expr(vmax) * s / (as_expr(km) + s)

    return law


def hill(vmax: str | float, k: str | float, n: str | float, activator: str | None = None):
    """Hill activation: ``Vmax * A**n / (K**n + A**n)``."""

    def law(model: Model, reaction: Reaction) -> sp.Expr:
        a = _one_substrate(reaction, activator, "hill")
        nn = as_expr(n)
        return _volume(model, reaction) * as_expr(vmax) * a**nn / (as_expr(k) ** nn + a**nn)

    return law


def _int(n: float) -> sp.Expr:
    return sp.Integer(int(n)) if float(n).is_integer() else sp.Float(n)
