"""The malformed-input corpus (tests/bad_input_cases.py) through the command line, in-process.

Every case must end with its exit status (2: bad input) and a message on stderr that contains
its words (the file, and row/line and column in tables), without a traceback, without running
code from the input, and without writing its outputs. A case marked ``pending`` (its fix is on
its way) is a strict xfail: it fails loudly once fixed, so that the mark and docs/bad_input.md
are updated.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from bad_input_cases import CASES, COMMANDS, KINDS, Inputs
from conftest import shared_data_path
from typer.testing import CliRunner

from celltwin.cli import app

ROOT = Path(__file__).resolve().parents[1]
# rich draws usage errors in a box: its borders and line breaks are not part of the message
_BOX = re.compile(r"[\u2500-\u257f]+")
# numpy / pandas reprs are no way to show a user a value
_REPR = re.compile(r"np\.\w+\(|dtype[:=]|Name: \w+, dtype")


def _one_line(text: str) -> str:
    return " ".join(_BOX.sub(" ", text).split())


@pytest.fixture(scope="module")
def input_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad_input_cache")


def _files(folder: Path) -> set[Path]:
    """The files below ``folder``; a bench store's ``.lock`` file is kept by design (bench/_lock.py)."""
    return {p for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock"}


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.pending)] if case.pending else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case, tmp_path, input_cache, monkeypatch):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    io = Inputs(inputs, input_cache, shared_data_path())
    args = [*case.command.split(), *(str(a) for a in case.build(io))]
    before = _files(inputs)
    monkeypatch.chdir(tmp_path)  # a payload that escapes would write here
    result = CliRunner().invoke(app, args)
    shown = f"celltwin {' '.join(args)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.exit_code == case.exit_code, shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    message = _one_line(result.stderr)
    assert "error" in message.lower(), shown
    for word in case.words:
        assert word in message, f"{word!r} missing from the message\n{shown}"
    assert not _REPR.search(message), f"a numpy or pandas repr in the message\n{shown}"
    assert not (tmp_path / "pwned").exists(), "a formula ran code"
    written = _files(inputs) - before
    assert not written, f"bad input, yet files were written: {sorted(map(str, written))}"


def test_corpus_covers_every_command_and_kind():
    """At least 150 cases; every command of `celltwin --help` and every kind of defect has one."""
    assert len(CASES) >= 150
    assert {c.command for c in CASES} == set(COMMANDS)
    assert {c.kind for c in CASES} == set(KINDS)
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "two cases with the same command, file and defect"
    for case in CASES:
        assert case.words and case.exit_code == 2
        assert case.pending is None or case.pending.startswith("issue 22 item ")


def test_docs_table_is_up_to_date():
    """docs/bad_input.md is what tools/bad_input_table.py prints from the corpus."""
    printed = subprocess.run([sys.executable, str(ROOT / "tools" / "bad_input_table.py")], capture_output=True,
                             text=True, check=True).stdout
    assert (ROOT / "docs" / "bad_input.md").read_text(encoding="utf-8") == printed, (
        "docs/bad_input.md is out of date: run `python tools/bad_input_table.py > docs/bad_input.md`")
