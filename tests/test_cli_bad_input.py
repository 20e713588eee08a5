"""Bad input found early and reported as bad input (exit status 2), never as a bug (exit 1).

* Every command checks where it writes before any compute: an ``--out`` under a read-only
  folder, under a regular file, in a missing folder, or a folder where a file is expected (and
  the other way round) is an error that names the option and the path. "Before any compute"
  is checked by replacing the command's first step (loading the problem, reading the data)
  with a function that fails the test.
* Ordinary bad files (non-UTF-8 YAML, a header-only CSV, an h5ad without genes, a truncated
  checkpoint, ...) are input errors that name the file.
* No message shows a numpy repr (``np.str_('0')``, ``np.float64(1.0)``).

Each case states the expected exit status and the words of the message: the reference.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from celltwin.cli import app
from celltwin.errors import CelltwinInputError, PEtabError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mapk_cascade"
YAML = str(EXAMPLE / "mapk_cascade.yaml")
NUMPY_REPR = re.compile(r"\bnp\.\w+\(")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_input_error(result, *words: str) -> str:
    """Exit status 2, an ``error:`` message holding each of ``words``, no traceback, no numpy
    repr; returns the message."""
    text = result.stderr + result.stdout
    assert result.exit_code == 2, text
    assert "error:" in result.stderr and "internal error" not in result.stderr, text
    for word in words:
        assert word in one_line(result.stderr), (word, result.stderr)
    assert "Traceback" not in text
    assert not NUMPY_REPR.search(text), text
    return result.stderr


def one_line(text: str) -> str:
    """The message with rich's line wrapping undone (long paths wrap on narrow terminals)."""
    return " ".join(text.split())


def no_compute(monkeypatch, *targets: str) -> None:
    """Make each ``module.attribute`` fail the test when called: the command must stop first."""
    import importlib

    for target in targets:
        module, _, name = target.rpartition(".")

        def refuse(*args, _target=target, **kwargs):
            pytest.fail(f"{_target} was called: the output should have been checked before any work")

        monkeypatch.setattr(importlib.import_module(module), name, refuse)


# --- where the outputs go ------------------------------------------------------------------

@pytest.fixture
def file_parent(tmp_path) -> Path:
    """A regular file: a path below it cannot be written, not even by root."""
    path = tmp_path / "file.txt"
    path.write_text("not a folder\n")
    return path


@pytest.fixture
def read_only_folder(tmp_path):
    """An existing folder nobody here can write in: a chmod 0o500 folder, or, where that does
    not stop writes (root), a read-only mount such as /sys; skipped where there is none."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    candidates = [folder, Path("/sys"), Path("/proc")]
    try:
        for candidate in candidates:
            if candidate.is_dir() and not _can_create_in(candidate):
                yield candidate
                break
        else:
            pytest.skip("no read-only folder here (running as root without a read-only mount)")
    finally:
        folder.chmod(0o700)


def _can_create_in(folder: Path) -> bool:
    probe = folder / ".celltwin-test-probe"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


def _file_commands(out: str) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """Per command: its arguments with ``--out out`` (a file), and what must not run."""
    data = str(ROOT / "tests" / "data-does-not-matter.csv")
    return {
        "fit": (["fit", YAML, "--out", out, "-n", "1"], ("celltwin.cli._fit.load_problem",)),
        "sample": (["sample", YAML, "--out", out], ("celltwin.cli._sample.load_problem",)),
        "report": (["report", "posterior.nc", "--out", out], ("celltwin.cli._report.load_posterior",)),
        "simulate": (["simulate", YAML, "--out", out], ("celltwin.cli._simulate.load_problem",)),
        "scenario": (["scenario", YAML, "--posterior", "p.nc", "--knockout", "K1", "--out", out],
                     ("celltwin.cli._scenario.load_problem",)),
        "discover": (["discover", data, "--out", out], ("celltwin.discover.read_time_courses",)),
        "diagnose": (["diagnose", data, "-s", "family", "--out", out + ".json"], ("celltwin.causal.read_predictions",)),
        "bench run": (["bench", "run", "--out", out], ("celltwin.bench.run",)),
        "bench report": (["bench", "report", "results.duckdb", "--out", out],
                         ("celltwin.bench._leaderboard.write_leaderboard",)),
    }


def _folder_commands(out: str) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """Per command: its arguments with ``--out out`` (a folder), and what must not run."""
    return {
        "profile": (["profile", YAML, "--out", out], ("celltwin.cli._profile.load_problem",)),
        "hybrid": (["hybrid", "problem.yaml", "--out", out], ("celltwin.hybrid.sciml.from_petab_sciml",)),
        "screen fit": (["screen", "fit", "screen.h5ad", "--out", out], ("celltwin.perturb.read_screen",)),
        "demo": (["demo", "case.yaml", "--out", out], ("celltwin.twin.read_case",)),
    }


FILE_COMMANDS = list(_file_commands("x"))
FOLDER_COMMANDS = list(_folder_commands("x"))


@pytest.mark.parametrize("command", FILE_COMMANDS + FOLDER_COMMANDS)
def test_out_below_a_regular_file_fails_before_any_work(command, file_parent, monkeypatch):
    out = str(file_parent / "result")
    args, heavy = {**_file_commands(out), **_folder_commands(out)}[command]
    no_compute(monkeypatch, *heavy)
    assert_input_error(invoke(*args), "--out", str(file_parent), "is a file, not a folder")


@pytest.mark.parametrize("command", FILE_COMMANDS + FOLDER_COMMANDS)
def test_out_in_a_read_only_folder_fails_before_any_work(command, read_only_folder, monkeypatch):
    out = str(read_only_folder / "result")
    args, heavy = {**_file_commands(out), **_folder_commands(out)}[command]
    no_compute(monkeypatch, *heavy)
    assert_input_error(invoke(*args), "--out", str(read_only_folder), "cannot write in the folder")


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_out_in_a_missing_folder(command, tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such"
    args, heavy = _file_commands(str(missing / "result"))[command]
    no_compute(monkeypatch, *heavy)
    assert_input_error(invoke(*args), "--out", str(missing), "does not exist")


@pytest.mark.parametrize("command", [c for c in FILE_COMMANDS if c != "diagnose"])
def test_out_naming_a_folder_where_a_file_is_expected(command, tmp_path, monkeypatch):
    args, heavy = _file_commands(str(tmp_path))[command]
    no_compute(monkeypatch, *heavy)
    assert_input_error(invoke(*args), "--out", str(tmp_path), "names a folder; give a file name")


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_out_naming_a_file_where_a_folder_is_expected(command, file_parent, monkeypatch):
    args, heavy = _folder_commands(str(file_parent))[command]
    no_compute(monkeypatch, *heavy)
    assert_input_error(invoke(*args), "--out", str(file_parent), "names a file; give a folder")


@pytest.mark.parametrize("command", ["fit", "scenario"])
def test_plot_is_checked_too(command, tmp_path, file_parent, monkeypatch):
    args, heavy = _file_commands(str(tmp_path / "out.tsv"))[command]
    no_compute(monkeypatch, *heavy)
    assert_input_error(invoke(*args, "--plot", str(file_parent / "plot.png")), "--plot", str(file_parent))


def test_writable_outputs_pass_and_leave_nothing_behind(tmp_path):
    from celltwin.cli._destinations import writable_file, writable_folder

    (tmp_path / "old.tsv").write_text("kept\n")
    assert writable_file(tmp_path / "new.tsv") == tmp_path / "new.tsv"
    assert writable_file(tmp_path / "old.tsv") == tmp_path / "old.tsv"  # replacing a file is fine
    assert writable_folder(tmp_path / "results") == tmp_path / "results"
    assert writable_folder(tmp_path / "a" / "b", parents=True) == tmp_path / "a" / "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.tsv"]  # the probes were removed, nothing created
    assert (tmp_path / "old.tsv").read_text() == "kept\n"
    with pytest.raises(CelltwinInputError, match="does not exist"):
        writable_folder(tmp_path / "a" / "b")  # without parents=True the parent must exist
    with pytest.raises(CelltwinInputError, match=r"must end in \.json or \.html"):
        writable_file(tmp_path / "x.txt", "--out", suffixes=(".json", ".html"))


def test_fit_unwritable_out_in_a_subprocess_is_fast(tmp_path, file_parent):
    """What a user sees: exit status 2 within seconds (no fit ran), the option and the path."""
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "celltwin.cli", "fit", YAML, "--out", str(file_parent / "fits.tsv")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "--out" in proc.stderr and "is a file, not a folder" in proc.stderr
    assert "Importing the model" not in proc.stderr  # stopped before the problem was loaded
    assert time.perf_counter() - started < 60


# --- bad files ---------------------------------------------------------------------------------

@pytest.fixture
def example_copy(tmp_path) -> Path:
    folder = tmp_path / "mapk_cascade"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


@pytest.mark.parametrize("command", ["check", "simulate"])
def test_non_utf8_problem_yaml(command, example_copy, tmp_path):
    path = example_copy / "mapk_cascade.yaml"
    path.write_bytes(b"# r\xe9sum\xe9 (Latin-1)\n" + path.read_bytes())
    extra = ["--out", str(tmp_path / "s.tsv")] if command == "simulate" else []
    assert_input_error(invoke(command, str(path), *extra), str(path), "line 1", "byte 0xe9 is not UTF-8",
                       "save the PEtab problem file as UTF-8")


def test_utf8_problem_yaml_with_byte_order_mark_is_read(example_copy):
    path = example_copy / "mapk_cascade.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = invoke("check", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n_measurements"] == 32  # the example's 32 rows


def test_non_utf8_case_yaml(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_bytes(b"name: EGFR\nproblem: p.yaml\n# \xff\xfe\n")
    assert_input_error(invoke("demo", str(path), "--out", str(tmp_path / "demo")), str(path), "line 3",
                       "byte 0xff is not UTF-8", "case file")


def test_problem_yaml_without_a_list_of_problems(example_copy):
    path = example_copy / "mapk_cascade.yaml"
    path.write_text("format_version: 1\nparameter_file: parameters.tsv\nproblems:\n")
    assert_input_error(invoke("check", str(path)), str(path), "'problems' must be a list")


def test_header_only_csv_to_discover(tmp_path):
    data = tmp_path / "courses.csv"
    data.write_text("t,A,B\n")
    assert_input_error(invoke("discover", str(data), "--out", str(tmp_path / "m.json")), str(data),
                       "no data rows below the header")
    assert not (tmp_path / "m.json").exists()


def test_discover_messages_show_plain_values(tmp_path):
    """Was "condition np.str_('0') has 1 rows": the single time course has no condition label."""
    data = tmp_path / "courses.csv"
    data.write_text("t,A\n0,1\n1,2\n")
    msg = assert_input_error(invoke("discover", str(data), "--out", str(tmp_path / "m.json")), str(data),
                             "the time course has 2 rows; discovery needs at least 5")
    data.write_text("t,A,condition\n" + "".join(f"{t},{t},{c}\n" for c in (7, 8) for t in range(5 if c == 7 else 3)))
    msg = assert_input_error(invoke("discover", str(data), "--out", str(tmp_path / "m.json")),
                             "condition '8' has 3 rows")
    assert "np." not in msg


def test_discover_degree_must_be_positive(tmp_path):
    data = tmp_path / "courses.csv"
    data.write_text("t,A\n" + "".join(f"{t},{t}\n" for t in range(6)))
    result = invoke("discover", str(data), "--library", "polynomial", "--degree", "0", "--out", str(tmp_path / "m.json"))
    assert result.exit_code == 2 and "--degree" in result.stderr and "internal error" not in result.stderr


def test_h5ad_without_genes(tmp_path):
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    data = tmp_path / "screen.h5ad"
    labels = ["control", "A", "B", "A+B"] * 5
    adata = anndata.AnnData(X=np.zeros((len(labels), 0)), var=pd.DataFrame(index=[]),
                            obs=pd.DataFrame({"perturbation": labels}, index=[f"c{i}" for i in range(len(labels))]))
    try:  # pandas >= 3 stores strings as StringArray, which anndata writes only when allowed
        with anndata.settings.override(allow_write_nullable_strings=True):
            adata.write_h5ad(data)
    except AttributeError:  # an anndata without that setting
        adata.write_h5ad(data)
    assert_input_error(invoke("screen", "fit", str(data), "--out", str(tmp_path / "out"), "--steps", "1"),
                       str(data), "no genes")


def _truncated_checkpoint(path: Path) -> None:
    """A checkpoint as the sampler writes it (NumPy .npz with a JSON settings record), cut in
    the middle as a full disk or a copy that stopped would leave it."""
    with open(path, "wb") as fh:
        np.savez(fh, __meta__=np.frombuffer(json.dumps({"problem": "mapk_cascade"}).encode(), dtype=np.uint8),
                 z=np.ones((4, 500)))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_sample_resume_from_a_damaged_checkpoint(damage, tmp_path):
    out = tmp_path / "posterior.nc"
    checkpoint = tmp_path / "posterior.nc.checkpoint.npz"
    if damage == "truncated":
        _truncated_checkpoint(checkpoint)
    else:
        checkpoint.write_bytes(b"" if damage == "empty" else os.urandom(300))
    result = invoke("sample", YAML, "--out", str(out), "--resume", "--chains", "1", "--draws", "5", "--warmup", "5")
    assert_input_error(result, str(checkpoint), "the checkpoint cannot be read", "run again without --resume")
    assert not out.exists()


def test_diagnose_with_fewer_than_three_pairs(tmp_path):
    data = tmp_path / "pairs.csv"
    data.write_text("compound,target,predicted,measured,family\nc1,t1,6,6.5,a\nc2,t1,7,7.2,b\n")
    assert_input_error(invoke("diagnose", str(data), "-s", "family", "--bootstrap", "10", "--permutations", "10"),
                       str(data), "2 pair(s); the diagnosis needs at least 3")


# --- the library's checks of user input ------------------------------------------------------

@pytest.mark.parametrize(("line", "words"), [
    ("solver: {rtol: fine}", ["'solver', setting 'rtol'", "expected a number, got 'fine'"]),
    ("solver: {rtoll: 1.0e-6}", ["'solver'", "unknown setting(s) rtoll"]),
    ("solver: {backend: fast}", ["'solver'", "backend='fast'"]),
    ("solver: {atol: -1.0}", ["'atol'", "positive finite number"]),
    ("sampler: {chains: four}", ["'sampler', setting 'chains'", "expected a whole number"]),
    ("sampler: {chains: 0}", ["'sampler'", "chains must be at least 1"]),
    ("sampler: {method: gibbs}", ["'sampler'", "'gibbs'"]),
    ("evidence_weight: -1", ["'evidence_weight' must be a number >= 0"]),
    ("scenario_times: [1, soon]", ["'scenario_times' must be a list of numbers"]),
])
def test_case_file_settings_are_checked(line, words, tmp_path):
    from celltwin.twin import read_case

    for name in ("p.yaml", "e.tsv"):
        (tmp_path / name).write_text("")
    path = tmp_path / "case.yaml"
    path.write_text(f"name: x\nproblem: p.yaml\nevidence: e.tsv\n{line}\n")
    with pytest.raises(CelltwinInputError) as info:
        read_case(path)
    for word in [str(path), *words]:
        assert word in str(info.value)


def test_case_file_numbers_yaml_reads_as_text_are_numbers(tmp_path):
    """YAML 1.1 reads 1e-6 (no dot) as text; a case file may still write it."""
    from celltwin.twin import read_case

    for name in ("p.yaml", "e.tsv"):
        (tmp_path / name).write_text("")
    path = tmp_path / "case.yaml"
    path.write_text("name: x\nproblem: p.yaml\nevidence: e.tsv\nsolver: {rtol: 1e-6, atol: 1.0e-8}\n")
    assert read_case(path).solver == {"rtol": 1e-6, "atol": 1e-8}


def test_training_fractions_are_an_input_error():
    from celltwin.hybrid import TrainingSettings

    with pytest.raises(CelltwinInputError, match=r"\(0\.6, --validation\).*\(0\.5, --test\)"):
        TrainingSettings(validation_fraction=0.6, test_fraction=0.5)


def test_prior_that_cannot_be_drawn_names_the_parameter_table_row(example_copy):
    """A logNormal prior on a log10-scale parameter (row 3 of the parameter table) has no named
    distribution on the parameter scale: SMC cannot draw from it; the error says where."""
    from celltwin.problem import from_petab

    table = example_copy / "parameters.tsv"
    lines = table.read_text().splitlines()
    lines = [lines[0] + "\tobjectivePriorType\tobjectivePriorParameters"] + [row + "\t\t" for row in lines[1:]]
    lines[2] = lines[2][:-2] + "\tlogNormal\t0;1"
    table.write_text("\n".join(lines) + "\n")
    problem = from_petab(example_copy / "mapk_cascade.yaml")
    with pytest.raises(PEtabError) as info:
        problem.prior_distributions()
    message = str(info.value)
    assert f"{table}, row 3" in message and "'V_deact1'" in message and "objectivePriorType" in message


@pytest.mark.parametrize(("raw", "words"), [
    ({"nn_model_id": "n", "layers": "dense", "forward": []}, "'layers' must be a list"),
    ({"nn_model_id": "n", "layers": [{"layer_type": "Linear"}], "forward": []}, "layers[0] has no layer_id"),
    ({"nn_model_id": "n", "layers": [], "forward": [3]}, "forward[0] must be a mapping"),
    ({"nn_model_id": "n", "layers": [{"layer_id": "l", "layer_type": "Linear", "args": [1, 2]}], "forward": []},
     "layers[0].args must be a mapping"),
])
def test_malformed_network_entries(raw, words):
    from celltwin.hybrid.sciml._errors import SciMLError
    from celltwin.hybrid.sciml._network import parse_network

    with pytest.raises(SciMLError) as info:
        parse_network(raw, "net.yaml")
    assert "net.yaml" in str(info.value) and words in str(info.value)


def _binding_model():
    from celltwin.model import Model

    m = Model("binding")
    for name, amount in (("L", 10.0), ("R", 5.0), ("C", 0.0)):
        m.add_species(name, amount)
    m.add_parameter("kon", 0.01)
    m.add_parameter("koff", 0.1)
    m.add_reaction("bind", "L + R -> C", rate="kon * L * R - koff * C")
    return m


def test_affinity_table_without_rows(tmp_path):
    from celltwin.evidence import read_affinity_table

    path = tmp_path / "evidence.tsv"
    path.write_text("# predicted Kds\nreaction\tvalue\tunit\tsd\n")
    with pytest.raises(CelltwinInputError, match="no rows below the header"):
        read_affinity_table(path, _binding_model())


def test_affinity_table_errors_count_comment_lines(tmp_path):
    """Row errors name the line an editor shows: two comment lines and a blank line come before
    the header (line 4), so the bad value is on line 6."""
    from celltwin.evidence import read_affinity_table

    path = tmp_path / "evidence.tsv"
    path.write_text("# predicted Kds\n# second comment\n\nreaction\tvalue\tunit\tsd\nbind\t10\tnM\t1\n"
                    "bind\tfast\tnM\t1\n")
    with pytest.raises(CelltwinInputError) as info:
        read_affinity_table(path, _binding_model())
    assert f"{path}, line 6, column 'value': 'fast' is not a number" in str(info.value)


@pytest.mark.parametrize(("column", "value", "words"), [
    ("objective", "abc", "row 2, column 'objective': must be a number, got 'abc'"),
    ("k_act1", "fast", "row 2, column 'k_act1': must be a number, got 'fast'"),
])
def test_profile_fits_table_with_a_bad_cell(column, value, words, tmp_path):
    ids = ["k_act1", "V_deact1", "k_act2", "V_deact2", "scale_pK1", "scale_pK2"]
    values = {"objective": "12.5", **{p: "0" for p in ids}, column: value}
    fits = tmp_path / "fits.tsv"
    fits.write_text("\t".join(values) + "\n" + "\t".join(values.values()) + "\n")
    result = invoke("profile", YAML, "--out", str(tmp_path / "profile"), "--fits", str(fits))
    assert_input_error(result, str(fits), words)
    assert not (tmp_path / "profile").exists()
