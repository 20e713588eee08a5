"""The mass-action split of reaction rates (``_monomials``): the fast distribution of
``V*(kf*A*B - kr*C)`` gives what sympy's ``expand_mul`` gives, on every rate of the
benchmark models."""

from __future__ import annotations

import sympy as sp
from conftest import require_shared

from celltwin.model import Model
from celltwin.model._compile import _Compiler, _distributed, _monomial_terms, _monomials
from celltwin.petab import read_petab


def _canonical(terms):
    return sorted((sp.srepr(c), sp.srepr(ct), tuple(sorted(f))) for c, ct, f in terms)


def _check_rates(model: Model) -> int:
    compiler = _Compiler(model)
    x_index = {s: i for i, s in enumerate(compiler.x_syms)}
    distributed = 0
    for r in model.reactions.values():
        rate = compiler.resolve(r.rate, r.id)
        fast = _distributed(rate, x_index)
        if fast is None:
            continue
        distributed += 1
        reference = _monomial_terms(sp.expand_mul(rate), x_index)
        assert reference is not None, (model.name, r.id, rate)
        assert _canonical(fast) == _canonical(reference), (model.name, r.id, rate)
        # the same rate again: coefficients times state products sum to it
        total = sum(c * ct * sp.Mul(*(compiler.x_syms[i] for i in f)) for c, ct, f in fast)
        assert sp.expand(total - rate) == 0
    return distributed


def test_distributed_rates_equal_sympys_expansion_on_the_benchmark_models():
    folder = require_shared("petab-benchmark")
    distributed = 0
    for yaml in sorted(p for p in folder.glob("*/*.yaml") if p.name == "problem.yaml" or p.stem == p.parent.name):
        distributed += _check_rates(read_petab(yaml).model())
    assert distributed >= 700  # 780 rates of the 15 models, most of them Chen 2009's


def test_forms_that_are_not_a_product_with_one_sum():
    m = Model("forms")
    for s in ("A", "B", "C"):
        m.add_species(s, 1.0)
    for k in ("V", "kf", "kr", "K"):
        m.add_parameter(k, 1.0)
    compiler = _Compiler(m)
    x_index = {s: i for i, s in enumerate(compiler.x_syms)}
    A, B, C = compiler.x_syms
    V, kf, kr, K = (compiler.p_syms[compiler.parameter_ids.index(k)] for k in ("V", "kf", "kr", "K"))
    assert _distributed(V * (kf * A * B - kr * C), x_index) is not None
    assert _distributed(V * (kf * A + kr) * (B + C), x_index) is None  # two sums: sympy expands it
    assert _monomials(V * (kf * A + kr) * (B + C), x_index) is not None
    assert _distributed(V * A / (K + A), x_index) is None  # Michaelis-Menten: a general rate
    assert _monomials(V * A / (K + A), x_index) is None
    assert _distributed(V * (kf * A * B / (K + C) - kr * C), x_index) is None
    # a sum in a factor: expand_mul distributes it too, so it is left to expand_mul
    assert _distributed(V * (kf * (K + kr) * A - kr * C), x_index) is None
    assert _monomials(V * (kf * (K + kr) * A - kr * C), x_index) is not None
