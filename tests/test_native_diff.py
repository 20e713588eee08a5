"""The native code generator's derivatives (sums, products and integer powers by their
rules, the rest by sympy) against sympy's own ``diff``, evaluated at random points."""

from __future__ import annotations

import random

import sympy as sp

from celltwin.simulate._native import _diff

A, B, C, X, T = sp.symbols("a b c x t")


def _expression(rng: random.Random, depth: int) -> sp.Expr:
    """A random expression: sums, products, integer powers, exponentials, piecewise
    functions of time and square roots over the symbols and some numbers."""
    r = rng.random()
    if depth == 0 or r < 0.3:
        return rng.choice([A, B, C, X, X, sp.Integer(2), sp.Rational(1, 3)])
    if r < 0.5:
        return sp.Add(*(_expression(rng, depth - 1) for _ in range(rng.randint(2, 3))))
    if r < 0.7:
        return sp.Mul(*(_expression(rng, depth - 1) for _ in range(rng.randint(2, 3))))
    if r < 0.8:
        return _expression(rng, depth - 1) ** rng.choice([2, -1, 3, -2])
    if r < 0.87:
        return sp.exp(_expression(rng, depth - 1) / 7)
    if r < 0.93:
        return sp.Piecewise((_expression(rng, depth - 1), T < 1), (_expression(rng, depth - 1), True))
    return sp.sqrt(_expression(rng, depth - 1) ** 2 + 1)


def test_derivatives_match_sympy_at_random_points():
    rng = random.Random(0)
    checked = 0
    for _ in range(300):
        e = _expression(rng, 4)
        ours, reference = _diff(e, X), sp.diff(e, X)
        for _ in range(3):
            point = {s: rng.uniform(0.5, 2.0) for s in (A, B, C, X)} | {T: rng.choice([0.5, 2.0])}
            got, want = complex(ours.evalf(subs=point)), complex(reference.evalf(subs=point))
            assert abs(got - want) <= 1e-9 * (1 + abs(want)), (e, got, want)
            checked += 1
    assert checked == 900


def test_mass_action_terms_by_the_power_rule():
    k1, k2 = sp.symbols("k1 k2")
    rate = C * (k1 * A * X**2 - k2 * X / B)
    assert sp.expand(_diff(rate, X) - C * (2 * k1 * A * X - k2 / B)) == 0
    assert _diff(rate, T) == 0
    assert _diff(X**-2, X) == -2 * X**-3
