"""Formulas from users' files, parsed by a grammar into sympy: never evaluated as Python.

A PEtab table, a SciML hybridization table or a case file is written by a stranger, and
``sympy.sympify`` evaluates its argument as Python (attribute chains in a formula reach
``os.system``). This module reads the formula language of PEtab (and of SBML's infix
formulas) with a tokenizer and a recursive-descent parser that only knows numbers,
identifiers, operators and a fixed table of functions; anything else is a
:class:`~celltwin.errors.CelltwinInputError` that names the place and the character.

The grammar, loosest binding first::

    formula    := or
    or         := and ('||' and)*
    and        := comparison ('&&' comparison)*
    comparison := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
    sum        := product (('+' | '-') product)*
    product    := unary (('*' | '/') unary)*
    unary      := ('+' | '-' | '!') unary | power
    power      := atom (('^' | '**') unary)?              (right-associative: 2^3^2 = 2^9)
    atom       := number | name | name '(' formula (',' formula)* ')' | '(' formula ')'

It is PEtab's grammar (the same precedences as ``petab.v1.math.sympify_petab``, the
reference the tests compare with) with three differences, which is why we do not call
that parser: integer literals stay sympy Integers (``x^2`` is ``x**2``, not ``x**2.0``,
so integer powers stay defined for slightly negative concentrations and keep their
exact derivatives), ``**`` is accepted beside ``^`` (the Python model DSL uses it), and
``&&`` binds tighter than ``||`` (as in SBML's infix syntax and C). Identifiers are
real symbols, except ``time`` (the model time), ``true``, ``false`` and ``inf``;
``nan`` is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import sympy as sp

from ..errors import CelltwinInputError

MAX_LENGTH = 100_000
"""Longest formula accepted (characters): a formula is a line of a table, not a program."""
MAX_DEPTH = 100
"""Deepest nesting of parentheses, calls and prefix operators accepted."""

_TOKENS = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|&&|\|\||==|!=|<=|>=|[-+*/^(),<>!])"
)
# Values that are conditions (a sympy Symbol is also a Boolean, so name the kinds).
_LOGICAL = (sp.logic.boolalg.BooleanAtom, sp.logic.boolalg.BooleanFunction, sp.core.relational.Relational)
_RELATIONS = {"<": sp.StrictLessThan, "<=": sp.LessThan, ">": sp.StrictGreaterThan,
              ">=": sp.GreaterThan, "==": sp.Equality, "!=": sp.Unequality}


def _log(*args):
    return sp.log(args[0]) if len(args) == 1 else sp.log(args[0], args[1])


def _piecewise(*args):
    """``piecewise(value1, condition1, ..., [otherwise])``; with no ``otherwise`` the
    value where no condition holds is NaN, as sympy leaves it."""
    pieces = [(args[i], _condition(args[i + 1])) for i in range(0, len(args) - 1, 2)]
    if len(args) % 2:
        pieces.append((args[-1], sp.true))
    return sp.Piecewise(*pieces)


# name -> (sympy builder, fewest arguments, most arguments or None for any number)
FUNCTIONS: dict[str, tuple[Callable, int, int | None]] = {
    "exp": (sp.exp, 1, 1), "ln": (sp.log, 1, 1), "log": (_log, 1, 2),
    "log10": (lambda x: sp.log(x, 10), 1, 1), "log2": (lambda x: sp.log(x, 2), 1, 1),
    "sqrt": (sp.sqrt, 1, 1), "abs": (sp.Abs, 1, 1), "sign": (sp.sign, 1, 1),
    "floor": (sp.floor, 1, 1), "ceil": (sp.ceiling, 1, 1), "pow": (sp.Pow, 2, 2),
    "min": (sp.Min, 1, None), "max": (sp.Max, 1, None), "piecewise": (_piecewise, 2, None),
    "sin": (sp.sin, 1, 1), "cos": (sp.cos, 1, 1), "tan": (sp.tan, 1, 1),
    "sec": (sp.sec, 1, 1), "csc": (sp.csc, 1, 1), "cot": (sp.cot, 1, 1),
    "sinh": (sp.sinh, 1, 1), "cosh": (sp.cosh, 1, 1), "tanh": (sp.tanh, 1, 1),
    "arcsin": (sp.asin, 1, 1), "arccos": (sp.acos, 1, 1), "arctan": (sp.atan, 1, 1),
}
"""The functions a formula may call (PEtab's table, less the rarely used reciprocal
hyperbolic and inverse functions, plus SBML's ``floor`` and ``ceil``)."""


def parse_formula(text: str, *, where: str = "formula", time: sp.Symbol | None = None) -> sp.Expr:
    """Read ``text`` as a PEtab/SBML formula into a sympy expression.

    Arguments:
        text: the formula, e.g. ``"scale * (A + B)^2 + offset"``.
        where: the place it comes from (file, row, column), for error messages.
        time: the symbol that stands for ``time``; default ``Symbol("time", real=True)``.

    Returns:
        A numeric sympy expression over real symbols (a condition such as ``a > b`` reads
        as 1 where it holds and 0 elsewhere).

    Raises:
        CelltwinInputError: the text is not a formula of this grammar.

    >>> parse_formula("k1 * A^2 / (Km + A)")
    A**2*k1/(A + Km)
    >>> parse_formula("x.__class__", where="observables.tsv, row 2, column 'observableFormula'")
    Traceback (most recent call last):
    ...
    celltwin.errors.CelltwinInputError: observables.tsv, row 2, column 'observableFormula': cannot read the formula 'x.__class__': unexpected character '.' at character 2
    """
    if not isinstance(text, str):
        raise CelltwinInputError(f"{where}: a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise CelltwinInputError(f"{where}: the formula is {len(text)} characters long; at most {MAX_LENGTH} are read")
    parser = _Parser(text, where, time if time is not None else sp.Symbol("time", real=True))
    try:
        return _number(parser.formula())
    except CelltwinInputError:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        # sympy's own complaints about a well-formed but meaningless formula (1/0 stays
        # zoo, but e.g. a relation between conditions raises TypeError)
        raise CelltwinInputError(f"{parser.prefix}: {type(exc).__name__}: {exc}") from None


def _condition(value: sp.Basic) -> sp.Basic:
    """A condition from a value: booleans stay, a number means 'is not zero' (PEtab)."""
    if isinstance(value, _LOGICAL):
        return value
    return sp.Ne(value, 0)


def _number(value: sp.Basic) -> sp.Expr:
    """A value from a condition: 1 where it holds, 0 elsewhere (PEtab)."""
    if value is sp.true:
        return sp.Integer(1)
    if value is sp.false:
        return sp.Integer(0)
    if isinstance(value, _LOGICAL):
        return sp.Piecewise((sp.Integer(1), value), (sp.Integer(0), True))
    return value


class _Parser:
    def __init__(self, text: str, where: str, time: sp.Symbol):
        self.text = text
        shown = text if len(text) <= 80 else text[:77] + "..."
        self.prefix = f"{where}: cannot read the formula {shown!r}"
        self.time = time
        self.tokens = self._tokenize()
        self.i = 0
        self.depth = 0

    # --- tokens ------------------------------------------------------------------------
    def _tokenize(self) -> list[tuple[str, str, int]]:
        tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(self.text):
            match = _TOKENS.match(self.text, pos)
            if match is None:
                raise self.error(f"unexpected character {self.text[pos]!r}", pos)
            kind = match.lastgroup
            if kind is not None and kind != "space":  # every token pattern is a named group
                tokens.append((kind, match.group(), pos))
            pos = match.end()
        tokens.append(("end", "", len(self.text)))
        return tokens

    def error(self, message: str, pos: int) -> CelltwinInputError:
        return CelltwinInputError(f"{self.prefix}: {message} at character {pos + 1}")

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self, *ops: str) -> str | None:
        kind, value, _ = self.tokens[self.i]
        if kind == "op" and value in ops:
            self.i += 1
            return value
        return None

    def expect(self, op: str) -> None:
        if self.take(op) is None:
            kind, value, pos = self.peek()
            found = "the end of the formula" if kind == "end" else repr(value)
            raise self.error(f"expected {op!r}, found {found}", pos)

    def nested(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels", self.peek()[2])

    # --- grammar -----------------------------------------------------------------------
    def formula(self) -> sp.Basic:
        value = self.disjunction()
        kind, token, pos = self.peek()
        if kind != "end":
            raise self.error(f"unexpected {token!r}", pos)
        return value

    def disjunction(self) -> sp.Basic:
        value = self.conjunction()
        while self.take("||"):
            value = sp.Or(_condition(value), _condition(self.conjunction()))
        return value

    def conjunction(self) -> sp.Basic:
        value = self.comparison()
        while self.take("&&"):
            value = sp.And(_condition(value), _condition(self.comparison()))
        return value

    def comparison(self) -> sp.Basic:
        value = self.sum()
        op = self.take(*_RELATIONS)
        if op is None:
            return value
        value = _RELATIONS[op](_number(value), _number(self.sum()))
        kind, token, pos = self.peek()
        if token in _RELATIONS:
            raise self.error(f"chained comparison {token!r} (write a < b && b < c)", pos)
        return value

    def sum(self) -> sp.Basic:
        value = self.product()
        while op := self.take("+", "-"):
            right = _number(self.product())
            value = _number(value) + right if op == "+" else _number(value) - right
        return value

    def product(self) -> sp.Basic:
        value = self.unary()
        while op := self.take("*", "/"):
            right = _number(self.unary())
            value = _number(value) * right if op == "*" else _number(value) / right
        return value

    def unary(self) -> sp.Basic:
        op = self.take("+", "-", "!")
        if op is None:
            return self.power()
        self.nested()
        operand = self.unary()
        self.depth -= 1
        if op == "!":
            return sp.Not(_condition(operand))
        return -_number(operand) if op == "-" else _number(operand)

    def power(self) -> sp.Basic:
        base = self.atom()
        pos = self.peek()[2]
        if self.take("^", "**") is None:
            return base
        self.nested()
        exponent = _number(self.unary())
        self.depth -= 1
        return self._power(_number(base), exponent, pos)

    def _power(self, base: sp.Expr, exponent: sp.Expr, pos: int) -> sp.Expr:
        if base.is_number and exponent.is_number:
            # sympy would evaluate e.g. 9^9^9 exactly, a number of 370 million digits:
            # numbers are raised in floating point, and too large a result is refused.
            try:
                value = math.pow(float(base), float(exponent))
            except (OverflowError, ValueError, TypeError):
                raise self.error("a power of numbers out of floating-point range", pos) from None
            if base.is_Integer and exponent.is_Integer and exponent >= 0 and abs(value) < 2**53:
                return sp.Integer(int(base) ** int(exponent))
            return sp.Float(value)
        return sp.Pow(base, exponent)

    def atom(self) -> sp.Basic:
        kind, token, pos = self.peek()
        if kind == "number":
            self.i += 1
            return sp.Integer(int(token)) if token.isdigit() else sp.Float(token)
        if kind == "name":
            self.i += 1
            if self.take("("):
                return self.call(token, pos)
            return self.name(token, pos)
        if self.take("("):
            self.nested()
            value = self.disjunction()
            self.expect(")")
            self.depth -= 1
            return value
        found = "the end of the formula" if kind == "end" else repr(token)
        raise self.error(f"expected a number, a name or '(', found {found}", pos)

    def name(self, token: str, pos: int) -> sp.Basic:
        lowered = token.lower()
        if token == "time":
            return self.time
        if lowered == "true":
            return sp.true
        if lowered == "false":
            return sp.false
        if lowered == "inf":
            return sp.oo
        if lowered == "nan":
            raise self.error("'nan' is not a value a formula may use", pos)
        return sp.Symbol(token, real=True)

    def call(self, name: str, pos: int) -> sp.Basic:
        if name not in FUNCTIONS:
            raise self.error(f"unknown function {name!r} (known: {', '.join(sorted(FUNCTIONS))})", pos)
        build, fewest, most = FUNCTIONS[name]
        self.nested()
        args = [self.disjunction()]
        while self.take(","):
            args.append(self.disjunction())
        self.expect(")")
        self.depth -= 1
        if len(args) < fewest or (most is not None and len(args) > most):
            wanted = str(fewest) if fewest == most else f"{fewest} or more" if most is None else f"{fewest} to {most}"
            raise self.error(f"{name}() takes {wanted} argument(s), got {len(args)}", pos)
        if name != "piecewise":
            args = [_number(a) for a in args]
        else:
            args = [a if i % 2 else _number(a) for i, a in enumerate(args)]
        return build(*args)
