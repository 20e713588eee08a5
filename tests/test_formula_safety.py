"""No formula from a user's file reaches Python evaluation (issue 22, item 1).

* The formula grammar agrees with the PEtab library's ANTLR grammar
  (``petab.v1.math.sympify_petab``, the independent reference) on random valid formulas.
* Random text and known code-injection payloads never make Python compile anything (an
  audit hook sees every ``compile`` Python does, and ``sympify``/``eval``/``exec`` of a
  string all compile it), and each is either a formula or a clear input error.
* End to end: payloads in every formula-bearing field of a PEtab problem, a PEtab SciML
  problem and an SBML model give exit status 2, never run, and name file, row and column.
* The native backend loads generated code only from a folder that is the user's alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from celltwin.cli import main
from celltwin.errors import CelltwinInputError, SBMLError
from celltwin.model import from_sbml, parse_formula

from .conftest import require_shared

REPO = Path(__file__).resolve().parent.parent
MAPK = REPO / "examples" / "mapk_cascade"

# --- an audit hook that records what Python compiles while a block runs -------------------
_RECORDING: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if _RECORDING and event == "compile":
        source = args[0]
        _RECORDING[-1].append(source.decode(errors="replace") if isinstance(source, bytes) else repr(source))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it is idle outside `compiled()`


@contextlib.contextmanager
def compiled():
    """Yields the list of sources Python compiles inside the block."""
    sources: list[str] = []
    _RECORDING.append(sources)
    try:
        yield sources
    finally:
        _RECORDING.pop()


def test_the_audit_hook_sees_sympify_eval_and_exec():
    """The guard can fail: each way of running a string as Python is seen."""
    for run in (lambda: sp.sympify("x + 1"), lambda: eval("1 + 1"), lambda: exec("y = 2")):  # noqa: S307
        with compiled() as sources:
            run()
        assert sources, run


# --- payloads -----------------------------------------------------------------------------
PAYLOADS = [
    "__import__('os').system('touch CANARY')",
    "x.__reduce_ex__(2)[0].__globals__['__builtins__']['__import__']('os').system('touch CANARY')",
    "Symbol('x').__class__.__mro__[-1].__subclasses__()",
    "().__class__.__base__.__subclasses__()",
    "(lambda: __import__('os'))()",
    "lambda: 0",
    "exec('import os')",
    "eval('1')",
    "open('/etc/passwd').read()",
    "getattr(x, '__class__')",
    "x if True else y",
    "[c for c in range(3)]",
    "{1: 2}",
    "x; import os",
    "import os",
    "f'{x}'",
    "b'x'",
    "'text'",
    "1j",
    "0x10",
    "1_000",
    "x[0]",
    "x.y",
    "a = 1",
    "(a := 1)",
    "~x",
    "x % 2",
    "x // 2",
    "x << 1",
    "x | y",
    "x & y",
    "not x",
    "x and y",
    "x or y",
    "x is y",
    "x in y",
    "x # comment",
    "x\\\ny",
    "$x",
    "`x`",
    "@x",
    "\x00",
    "ｅｘｐ(1)",  # full-width letters
    "Integer(1)",
    "S('x')",
    "sympify('x')",
    "Function('f')(x)",
    "scale * * K1p",
    "k1, 1",
    "(" * 500 + "x" + ")" * 500,
    "9^9^9",
    "x" * 200_000,
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payload_is_refused_without_compiling_anything(payload):
    with compiled() as sources, pytest.raises(CelltwinInputError, match="observables.tsv, row 2"):
        parse_formula(payload, where="observables.tsv, row 2, column 'observableFormula'")
    assert sources == []


# --- random text --------------------------------------------------------------------------
_ALLOWED_NODES = (sp.Symbol, sp.Number, sp.NumberSymbol, sp.Add, sp.Mul, sp.Pow, sp.Piecewise,
                  sp.core.relational.Relational, sp.logic.boolalg.BooleanAtom,
                  sp.logic.boolalg.BooleanFunction, sp.core.numbers.Infinity,
                  sp.core.numbers.NegativeInfinity, sp.core.numbers.ComplexInfinity,
                  sp.core.numbers.NaN, sp.functions.elementary.piecewise.ExprCondPair,
                  sp.exp, sp.log, sp.Abs, sp.sign, sp.floor, sp.ceiling, sp.Min, sp.Max, sp.sin,
                  sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.asin, sp.acos,
                  sp.atan)

_PYTHONISH = ["x", "y", "k1", "_a", "__class__", "__import__", "os", "(", ")", "[", "]", ".", ",", "'",
              '"', ":", ";", "=", "==", "+", "-", "*", "**", "/", "//", "^", "%", "!", "&&", "||", "&",
              "|", "<", ">", "lambda", "import", "exp", "log", "piecewise", "min", "1", "2.5", "1e-3",
              "true", "inf", "nan", "time", "\n", " ", "\t", "#", "\\", "{", "}", "@", "~"]


def _check_random(text: str) -> None:
    with compiled() as sources:
        try:
            expr = parse_formula(text, where="random.tsv, row 2, column 'x'")
        except CelltwinInputError as exc:
            assert "random.tsv, row 2, column 'x'" in str(exc)
            expr = None
    assert sources == [], text
    if expr is not None:
        for node in sp.preorder_traversal(expr):
            assert isinstance(node, _ALLOWED_NODES), (text, type(node))
            if isinstance(node, sp.Symbol):
                assert node.name.isidentifier(), (text, node.name)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PYTHONISH), max_size=25).map("".join))
def test_random_token_strings_never_reach_python(text):
    _check_random(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_random_text_never_reaches_python(text):
    _check_random(text)


# --- valid formulas against the PEtab library's grammar ------------------------------------
_VALUES = {"a": 0.7, "b": 1.3, "c": 2.1}
_leaf = st.sampled_from(["a", "b", "c", "1", "2", "3", "0.5", "2.5e-1", "1.5E1"])


def _grow(inner):
    unary = st.tuples(st.sampled_from(["-", "+"]), inner).map("".join)
    binary = st.tuples(inner, st.sampled_from([" + ", " - ", " * ", " / ", "^"]), inner).map("".join)
    call1 = st.tuples(st.sampled_from(["exp", "sqrt", "ln", "log10", "abs", "log"]), inner).map(
        lambda t: f"{t[0]}({t[1]})")
    call2 = st.tuples(st.sampled_from(["min", "max", "pow"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})")
    piece = st.tuples(inner, inner, st.sampled_from(["<", ">", "<=", ">=", "==", "!="]), inner, inner).map(
        lambda t: f"piecewise({t[0]}, {t[1]} {t[2]} {t[3]}, {t[4]})")
    paren = inner.map(lambda e: f"({e})")
    return st.one_of(unary, binary, call1, call2, piece, paren)


_formulas = st.recursive(_leaf, _grow, max_leaves=8)


def _value(expr: sp.Basic) -> complex:
    return complex(sp.N(expr.xreplace({sp.Symbol(k, real=True): sp.Float(v) for k, v in _VALUES.items()}), 30))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_formulas)
def test_valid_formulas_read_as_the_petab_grammar_reads_them(text):
    from petab.v1.math import sympify_petab

    try:
        reference = _value(sympify_petab(text))
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, AssertionError):
        assume(False)  # what the reference cannot evaluate is no comparison
    assume(all(map(lambda v: abs(v) < 1e12 and v == v, (reference.real, reference.imag))))
    try:
        ours = _value(parse_formula(text))
    except CelltwinInputError as exc:
        # By design a power of numbers beyond floating-point range is refused even where a
        # later ln would bring it back (ln(2^2^15)): sympy would hold it exactly, 9^9^9 too.
        assert "a power of numbers out of floating-point range" in str(exc), (text, str(exc))
        assume(False)
    assert abs(ours - reference) <= 1e-8 * max(1.0, abs(reference)), (text, ours, reference)


@pytest.mark.parametrize(("text", "expected"), [
    ("-2^2", -4), ("2^3^2", 512), ("2^-1", 0.5), ("2**3", 8), ("1 - 2 - 3", -4), ("8 / 4 / 2", 1),
    ("piecewise(1, 2 > 3, 0)", 0), ("piecewise(1, 2 < 3 && 1 > 0, 0)", 1), ("true + true", 2),
    ("(1 < 2) * 5", 5), ("log(8, 2)", 3), ("log2(8) + log10(100) + ln(1)", 5), ("min(3, 1, 2)", 1),
])
def test_precedence_and_functions_by_hand(text, expected):
    assert float(parse_formula(text)) == pytest.approx(expected, rel=1e-14)


def test_integer_literals_stay_integers_and_time_is_the_given_symbol():
    t = sp.Symbol("T", real=True)
    expr = parse_formula("x^2 + time", time=t)
    x = sp.Symbol("x", real=True)
    assert expr == x**2 + t  # not x**2.0: exact exponents for the solvers and derivatives


# --- end to end: payloads in PEtab, PEtab SciML and SBML files ------------------------------
def _run(argv, canary: Path):
    with compiled() as sources:
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code
    assert not any("CANARY" in s for s in sources), "a payload was compiled"
    assert not canary.exists(), "a payload ran"
    return code


def _payload(canary: Path) -> str:
    return f"x.__reduce_ex__(2)[0].__globals__['os'].system('touch {canary}') + 0*CANARY"


_PETAB_FIELDS = [
    ("observables.tsv", "observableFormula"),
    ("observables.tsv", "noiseFormula"),
    ("measurements.tsv", "noiseParameters"),
    ("measurements.tsv", "observableParameters"),
    ("parameters.tsv", "nominalValue"),
    ("conditions.tsv", "L"),
]


@pytest.mark.parametrize(("table", "column"), _PETAB_FIELDS)
def test_payload_in_a_petab_field_is_an_input_error(tmp_path, capsys, table, column):
    shutil.copytree(MAPK, tmp_path / "p")
    canary = tmp_path / "CANARY"
    path = tmp_path / "p" / table
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if column not in df.columns:
        df[column] = ""
    df.loc[0, column] = _payload(canary)
    df.to_csv(path, sep="\t", index=False)
    yaml = tmp_path / "p" / "mapk_cascade.yaml"
    assert _run(["check", yaml], canary) == 2  # the PEtab library's linter first
    capsys.readouterr()
    for argv in (["check", "--no-lint", yaml], ["simulate", yaml, "--out", tmp_path / "sim.tsv"]):
        assert _run(argv, canary) == 2
        err = capsys.readouterr().err
        assert table in err, err
    assert not (tmp_path / "sim.tsv").exists()


def test_payload_in_the_observable_formula_names_row_and_column(tmp_path, capsys):
    shutil.copytree(MAPK, tmp_path / "p")
    canary = tmp_path / "CANARY"
    path = tmp_path / "p" / "observables.tsv"
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    df.loc[1, "observableFormula"] = _payload(canary)
    df.to_csv(path, sep="\t", index=False)
    assert _run(["check", "--no-lint", tmp_path / "p" / "mapk_cascade.yaml"], canary) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "observables.tsv, row 3" in err and "observableFormula" in err and "character 2" in err, err


def test_payload_in_a_sciml_hybridization_target_is_an_input_error(tmp_path, capsys):
    source = require_shared("petab-sciml-test-suite", "sciml_problem_import", "001", "petab")
    shutil.copytree(source, tmp_path / "p")
    canary = tmp_path / "CANARY"
    path = tmp_path / "p" / "hybridization.tsv"
    df = pd.read_csv(path, sep="\t", dtype=str)
    df.loc[2, "targetValue"] = _payload(canary)
    df.to_csv(path, sep="\t", index=False)
    assert _run(["hybrid", tmp_path / "p" / "problem.yaml", "--out", tmp_path / "out"], canary) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "hybridization.tsv" in err and "row 4" in err, err


def test_sbml_math_naming_no_identifier_is_refused_before_any_tool_reads_it(tmp_path, capsys):
    shutil.copytree(MAPK, tmp_path / "p")
    canary = tmp_path / "CANARY"
    sbml = tmp_path / "p" / "model.xml"
    text = sbml.read_text().replace("<ci> K1_total </ci>", f"<ci> {_payload(canary)} </ci>", 1)
    assert "CANARY" in text
    sbml.write_text(text)
    assert _run(["check", tmp_path / "p" / "mapk_cascade.yaml"], canary) == 2
    assert "not an SBML identifier" in capsys.readouterr().err
    with pytest.raises(SBMLError, match=r"line \d+, <initialAssignment>"):
        from_sbml(str(sbml))


# --- the native backend's code cache --------------------------------------------------------
def _private_cache_dir():
    from celltwin._config import private_cache_dir

    return private_cache_dir


def test_a_cache_folder_others_can_write_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv("CELLTWIN_TEST_CACHE", str(folder))
    with pytest.warns(RuntimeWarning, match="can be written by other users"):
        used = _private_cache_dir()("test", "CELLTWIN_TEST_CACHE")
    assert used != folder and stat.S_IMODE(os.stat(used).st_mode) == 0o700
    shutil.rmtree(used)


def test_a_symlinked_cache_folder_is_not_used(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    monkeypatch.setenv("CELLTWIN_TEST_CACHE", str(tmp_path / "link"))
    with pytest.warns(RuntimeWarning, match="symbolic link"):
        used = _private_cache_dir()("test", "CELLTWIN_TEST_CACHE")
    assert used not in (tmp_path / "link", tmp_path / "elsewhere")
    shutil.rmtree(used)


def test_a_new_cache_folder_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLTWIN_TEST_CACHE", str(tmp_path / "a" / "cache"))
    used = _private_cache_dir()("test", "CELLTWIN_TEST_CACHE")
    assert used == tmp_path / "a" / "cache" and stat.S_IMODE(os.stat(used).st_mode) == 0o700


@pytest.mark.parametrize(("table", "column", "old"), [
    ("observables.tsv", "observableId", "pK1"),
    ("conditions.tsv", "conditionId", "low_dose"),
    ("parameters.tsv", "parameterId", "k_act1"),
])
def test_payload_as_an_id_is_an_input_error(tmp_path, capsys, table, column, old):
    """Ids become symbol names: one that is no PEtab id is refused where it is defined."""
    shutil.copytree(MAPK, tmp_path / "p")
    canary = tmp_path / "CANARY"
    payload = f"{old}');__import__('os').system('touch {canary}');('"
    for name in ("observables.tsv", "conditions.tsv", "parameters.tsv", "measurements.tsv"):
        path = tmp_path / "p" / name
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        path.write_text(df.replace({old: payload}).to_csv(sep="\t", index=False))
    yaml = tmp_path / "p" / "mapk_cascade.yaml"
    for argv in (["check", yaml], ["simulate", yaml, "--out", tmp_path / "sim.tsv"]):
        assert _run(argv, canary) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"{table}, row 2, column '{column}'" in err and "is not a PEtab id" in err, err


def test_payload_as_an_id_of_a_sciml_problem_is_an_input_error(tmp_path, capsys):
    source = require_shared("petab-sciml-test-suite", "sciml_problem_import", "001", "petab")
    shutil.copytree(source, tmp_path / "p")
    canary = tmp_path / "CANARY"
    payload = f"prey_o');__import__('os').system('touch {canary}');('"
    for name in ("observables.tsv", "measurements.tsv"):
        path = tmp_path / "p" / name
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        path.write_text(df.replace({"prey_o": payload}).to_csv(sep="\t", index=False))
    assert _run(["hybrid", tmp_path / "p" / "problem.yaml", "--out", tmp_path / "out"], canary) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "row 2, column 'observableId'" in err and "is not a PEtab id" in err, err
