"""SBML MathML (libsbml ASTNode) to sympy, with function definitions inlined.

Walking the AST, instead of printing an infix string and parsing it back, keeps SBML's
meaning exact (``log`` with a base, ``root``, n-ary relations, ``piecewise``) and lets each
unsupported construct be named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import libsbml
import sympy as sp

from ..errors import SBMLError, UnsupportedFeatureError
from ._model import TIME, is_identifier, symbol

# Function definitions: id -> (argument symbols, body)
FunctionTable = Mapping[str, tuple[tuple[sp.Symbol, ...], sp.Expr]]

_UNARY = {
    libsbml.AST_FUNCTION_EXP: sp.exp,
    libsbml.AST_FUNCTION_LN: sp.log,
    libsbml.AST_FUNCTION_ABS: sp.Abs,
    libsbml.AST_FUNCTION_FLOOR: sp.floor,
    libsbml.AST_FUNCTION_CEILING: sp.ceiling,
    libsbml.AST_FUNCTION_SIN: sp.sin,
    libsbml.AST_FUNCTION_COS: sp.cos,
    libsbml.AST_FUNCTION_TAN: sp.tan,
    libsbml.AST_FUNCTION_SINH: sp.sinh,
    libsbml.AST_FUNCTION_COSH: sp.cosh,
    libsbml.AST_FUNCTION_TANH: sp.tanh,
    libsbml.AST_FUNCTION_ARCSIN: sp.asin,
    libsbml.AST_FUNCTION_ARCCOS: sp.acos,
    libsbml.AST_FUNCTION_ARCTAN: sp.atan,
    libsbml.AST_FUNCTION_SEC: sp.sec,
    libsbml.AST_FUNCTION_CSC: sp.csc,
    libsbml.AST_FUNCTION_COT: sp.cot,
    libsbml.AST_FUNCTION_FACTORIAL: sp.factorial,
}

_RELATIONS = {
    libsbml.AST_RELATIONAL_EQ: sp.Eq,
    libsbml.AST_RELATIONAL_NEQ: sp.Ne,
    libsbml.AST_RELATIONAL_LT: sp.Lt,
    libsbml.AST_RELATIONAL_LEQ: sp.Le,
    libsbml.AST_RELATIONAL_GT: sp.Gt,
    libsbml.AST_RELATIONAL_GEQ: sp.Ge,
}


def ast_to_sympy(node: libsbml.ASTNode, functions: FunctionTable, where: str) -> sp.Expr:
    """Convert one MathML tree to sympy.

    Arguments:
        node: the libsbml AST.
        functions: function definitions to inline.
        where: the SBML element holding the math, for error messages (e.g. ``reaction 'R1'``).

    Raises:
        UnsupportedFeatureError: for ``delay``, ``rateOf``, unknown csymbols and the like.
    """
    if node is None:
        raise UnsupportedFeatureError(f"{where}: the element has no math")
    return _Converter(functions, where).convert(node)


class _Converter:
    def __init__(self, functions: FunctionTable, where: str):
        self.functions = functions
        self.where = where

    def fail(self, what: str) -> UnsupportedFeatureError:
        return UnsupportedFeatureError(f"{self.where}: {what} is not supported")

    def children(self, node) -> list[sp.Expr]:
        return [self.convert(node.getChild(i)) for i in range(node.getNumChildren())]

    def convert(self, node) -> sp.Expr:  # noqa: C901 - a flat dispatch on the node type
        t = node.getType()
        if t == libsbml.AST_INTEGER:
            return sp.Integer(node.getInteger())
        if t in (libsbml.AST_REAL, libsbml.AST_REAL_E):
            value = node.getReal()
            if math.isinf(value):
                return sp.oo if value > 0 else -sp.oo
            if math.isnan(value):
                return sp.nan
            return sp.Float(value)
        if t == libsbml.AST_RATIONAL:
            return sp.Rational(node.getNumerator(), node.getDenominator())
        if t == libsbml.AST_NAME:
            name = node.getName()
            if not is_identifier(name):
                raise SBMLError(f"{self.where}: {name!r} in the math is not an SBML identifier")
            return symbol(name)
        if t == libsbml.AST_NAME_TIME:
            return TIME
        if t == libsbml.AST_NAME_AVOGADRO:
            return sp.Float(6.02214076e23)
        if t == libsbml.AST_CONSTANT_E:
            return sp.E
        if t == libsbml.AST_CONSTANT_PI:
            return sp.pi
        if t == libsbml.AST_CONSTANT_TRUE:
            return sp.true
        if t == libsbml.AST_CONSTANT_FALSE:
            return sp.false
        if t == libsbml.AST_PLUS:
            return sp.Add(*self.children(node))
        if t == libsbml.AST_TIMES:
            return sp.Mul(*self.children(node))
        if t == libsbml.AST_MINUS:
            args = self.children(node)
            return -args[0] if len(args) == 1 else args[0] - sp.Add(*args[1:])
        if t == libsbml.AST_DIVIDE:
            a, b = self.children(node)
            return a / b
        if t in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
            a, b = self.children(node)
            return a**b
        if t == libsbml.AST_FUNCTION_ROOT:
            args = self.children(node)
            if len(args) == 1:
                return sp.sqrt(args[0])
            return args[1] ** (1 / args[0])
        if t == libsbml.AST_FUNCTION_LOG:
            args = self.children(node)
            if len(args) == 1:  # MathML <log/> without <logbase> is base 10
                return sp.log(args[0], 10)
            return sp.log(args[1], args[0])
        if t in _UNARY:
            (a,) = self.children(node)
            return _UNARY[t](a)
        if t == libsbml.AST_FUNCTION_PIECEWISE:
            return self.piecewise(self.children(node))
        if t in _RELATIONS:
            args = self.children(node)
            rel = _RELATIONS[t]
            if len(args) == 2:
                return rel(*args, evaluate=False)
            return sp.And(*[rel(a, b, evaluate=False) for a, b in zip(args, args[1:])])
        if t == libsbml.AST_LOGICAL_AND:
            return sp.And(*self.children(node))
        if t == libsbml.AST_LOGICAL_OR:
            return sp.Or(*self.children(node))
        if t == libsbml.AST_LOGICAL_XOR:
            return sp.Xor(*self.children(node))
        if t == libsbml.AST_LOGICAL_NOT:
            (a,) = self.children(node)
            return sp.Not(a)
        if t == libsbml.AST_FUNCTION:
            return self.call(node)
        if t == getattr(libsbml, "AST_FUNCTION_MAX", None):
            return sp.Max(*self.children(node))
        if t == getattr(libsbml, "AST_FUNCTION_MIN", None):
            return sp.Min(*self.children(node))
        if t == getattr(libsbml, "AST_FUNCTION_REM", None):
            a, b = self.children(node)
            return sp.Mod(a, b)
        if t == getattr(libsbml, "AST_FUNCTION_QUOTIENT", None):
            a, b = self.children(node)
            return sp.floor(a / b)
        if t == libsbml.AST_FUNCTION_DELAY:
            raise self.fail("delay()")
        if t == getattr(libsbml, "AST_FUNCTION_RATE_OF", None):
            raise self.fail("rateOf()")
        name = node.getName() or libsbml.formulaToL3String(node)
        raise self.fail(f"MathML construct {name!r} (AST type {t})")

    def piecewise(self, args: list[sp.Expr]) -> sp.Expr:
        pieces = [(args[i], _as_condition(args[i + 1])) for i in range(0, len(args) - 1, 2)]
        if len(args) % 2:
            pieces.append((args[-1], sp.true))
        else:
            # SBML leaves the value undefined when no piece applies; AMICI and COPASI use 0.
            pieces.append((sp.Integer(0), sp.true))
        return sp.Piecewise(*pieces)

    def call(self, node) -> sp.Expr:
        name = node.getName()
        if name not in self.functions:
            raise self.fail(f"call of unknown function {name!r}")
        params, body = self.functions[name]
        args = self.children(node)
        if len(args) != len(params):
            raise UnsupportedFeatureError(
                f"{self.where}: function {name!r} takes {len(params)} arguments, got {len(args)}"
            )
        return body.xreplace(dict(zip(params, args)))


def _as_condition(expr: sp.Basic) -> sp.Basic:
    if isinstance(expr, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)):
        return expr
    return sp.Ne(expr, 0)


def function_definitions(model: libsbml.Model) -> dict[str, tuple[tuple[sp.Symbol, ...], sp.Expr]]:
    """Read all ``<functionDefinition>``s, inlining earlier ones into later ones."""
    table: dict[str, tuple[tuple[sp.Symbol, ...], sp.Expr]] = {}
    for fd in model.getListOfFunctionDefinitions():
        lam = fd.getMath()
        where = f"functionDefinition {fd.getId()!r}"
        if lam is None or lam.getType() != libsbml.AST_LAMBDA:
            raise UnsupportedFeatureError(f"{where}: math is not a lambda")
        n = lam.getNumChildren()
        params = tuple(symbol(lam.getChild(i).getName()) for i in range(n - 1))
        body = ast_to_sympy(lam.getChild(n - 1), table, where)
        table[fd.getId()] = (params, body)
    return table


def check_math_names(sbml: libsbml.Model, label: str) -> None:
    """Refuse a model whose MathML names anything that is not an SBML identifier.

    Such a name (``<ci> __import__('os').system(...) </ci>``) is no model id, and a tool
    that prints the math as a formula and reads it back with ``sympy.sympify`` (as the
    PEtab library does for some initial assignments) would run it as Python: check every
    ``<ci>`` and function call of the document before anything else reads it.

    Raises:
        SBMLError: naming the element and the offending name.
    """
    elements = sbml.getListOfAllElements()
    for k in range(elements.getSize()):
        element = elements.get(k)
        math_of = getattr(element, "getMath", None)
        if math_of is None or math_of() is None:
            continue
        stack = [math_of()]
        while stack:
            node = stack.pop()
            if node.getType() in (libsbml.AST_NAME, libsbml.AST_FUNCTION) and not is_identifier(node.getName()):
                raise SBMLError(f"{label}: line {element.getLine()}, <{element.getElementName()}>: "
                                f"{node.getName()!r} in its math is not an SBML identifier")
            stack.extend(node.getChild(i) for i in range(node.getNumChildren()))
