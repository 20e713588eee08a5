"""The malformed-input corpus: every ``celltwin`` command, fed small valid inputs with ONE defect.

Each :class:`BadInput` names the command, the file (or option) that holds the defect, the kind
of defect (a row of ``docs/bad_input.md``), what is wrong, the exit status the command must give
(2: bad input) and words its message must contain: the file name, and the row / line and column
where the defect sits in a table. ``build`` writes the inputs into a fresh folder (through
:class:`Inputs`, which knows a valid input for every command), applies the defect and returns
the command line. ``tests/test_bad_input_corpus.py`` runs the cases in-process;
``tools/bad_input_table.py`` prints the table of ``docs/bad_input.md`` from them.

The valid inputs are small and the base options cheap (one start, one epoch, a few draws), so a
defect that slips through validation shows as a wrong exit status after seconds, not minutes.
Importing this module is light: the builders import what they need when they run.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mapk_cascade"
SCIML_CASE = ("petab-sciml-test-suite", "sciml_problem_import", "001", "petab")

# Bytes that are no text in any encoding (NUL, control bytes, invalid UTF-8 sequences).
GARBAGE = bytes(range(256)) * 8
# Latin-1 text: valid in every 8-bit encoding, invalid as UTF-8 (0xe9 starts a 3-byte sequence).
LATIN1 = "# dosé\n".encode("latin-1")

# Rows of the table in docs/bad_input.md, in this order.
KINDS = (
    "missing file",
    "empty file",
    "binary garbage",
    "non-UTF-8 bytes",
    "wrong delimiter",
    "missing column or field",
    "header only (no rows)",
    "duplicated id",
    "unknown id referenced",
    "non-numeric value",
    "NaN or infinite value",
    "value out of range",
    "formula syntax error",
    "unknown function in formula",
    "code injection in formula",
    "YAML syntax error",
    "YAML of the wrong type",
    "wrong format_version",
    "missing referenced file",
    "wrong kind of file",
    "inconsistent inputs",
    "bad option value",
    "output path problem",
)

# Columns of that table: every command of `celltwin --help` (groups by subcommand).
COMMANDS = ("check", "simulate", "fit", "profile", "sample", "report", "scenario", "demo", "quickstart",
            "diagnose", "discover", "screen fit", "bench run", "bench report", "bench tasks", "hybrid",
            "affinity predict")


@dataclasses.dataclass(frozen=True)
class BadInput:
    """One malformed input and what the command must say about it.

    Attributes:
        command: the command as typed after ``celltwin`` (``"screen fit"``).
        file: the file or option that holds the defect (``"measurements.tsv"``, ``"--out"``).
        kind: one of :data:`KINDS`.
        defect: what is wrong, in words.
        build: writes the inputs with :class:`Inputs` and returns the arguments after the command.
        words: the error message must contain each (file name; row/line and column in tables).
        exit_code: 2 for bad input.
        pending: why the case still fails, while its fix is on its way (``"issue 22 item N: ..."``);
            the test runs it as a strict xfail, so the mark goes once the fix is in.
    """

    command: str
    file: str
    kind: str
    defect: str
    build: Callable[[Inputs], list[str]]
    words: tuple[str, ...]
    exit_code: int = 2
    pending: str | None = None

    def __post_init__(self):
        assert self.kind in KINDS, self.kind
        assert self.command in COMMANDS, self.command

    @property
    def id(self) -> str:
        text = f"{self.command}-{self.file}-{self.defect}"
        return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in text)[:120]


# --- editing helpers: each changes one thing and fails loudly if the base input changed -------

def replace_text(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def set_cell(path: Path, line: int, column: str, value: str, sep: str = "\t") -> None:
    """Set the cell at file line ``line`` (the header is line 1) of ``column``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(sep)
    fields = lines[line - 1].split(sep)
    fields[header.index(column)] = value
    lines[line - 1] = sep.join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def drop_column(path: Path, column: str, sep: str = "\t") -> None:
    lines = [line.split(sep) for line in path.read_text(encoding="utf-8").splitlines()]
    k = lines[0].index(column)
    path.write_text("\n".join(sep.join(f[:k] + f[k + 1:]) for f in lines) + "\n", encoding="utf-8")


def copy_line(path: Path, line: int) -> None:
    """Append a copy of file line ``line``: a duplicated id."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[line - 1]]) + "\n", encoding="utf-8")


def keep_lines(path: Path, n: int) -> None:
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[:n]) + "\n", encoding="utf-8")


def resep(path: Path, old: str, new: str) -> None:
    replace_text(path, old, new, count=-1)


# --- valid inputs ----------------------------------------------------------------------------

def _copy_tree(source: Path, target: Path) -> Path:
    # copyfile, not copy2: the shared data are read-only and the copies must be editable
    shutil.copytree(source, target, copy_function=shutil.copyfile,
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


class Inputs:
    """Valid inputs for every command, written on first use into ``folder``.

    ``cache`` is a folder shared by all cases of a session: inputs that take a while to make
    (the AnnData screen, the result store, the posterior) are made there once and copied.
    """

    def __init__(self, folder: Path, cache: Path, shared: Path):
        self.folder, self.cache, self.shared = Path(folder), Path(cache), Path(shared)
        self._made: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        return self.folder / name

    def _once(self, name: str, make: Callable[[Path], Path]) -> Path:
        if name not in self._made:
            self._made[name] = make(self.folder / name)
        return self._made[name]

    def _cached(self, name: str, make: Callable[[Path], None]) -> Path:
        """A copy of the cached file ``name`` (made with ``make(path)`` the first time)."""
        cached = self.cache / name
        if not cached.exists():
            tmp = self.cache / f".{name}.partial"
            make(tmp)
            tmp.replace(cached)
        target = self.folder / name
        if not target.exists():
            shutil.copyfile(cached, target)
        return target

    # PEtab: the bundled two-tier kinase cascade
    def petab(self) -> Path:
        return self._once("mapk_cascade", lambda p: _copy_tree(EXAMPLE, p))

    def problem(self) -> Path:
        return self.petab() / "mapk_cascade.yaml"

    def fits(self) -> Path:
        """A `celltwin fit` table of the cascade (two starts, parameters on their scales)."""
        def make(path: Path) -> Path:
            import math

            import pandas as pd

            params = pd.read_csv(self.petab() / "parameters.tsv", sep="\t")
            est = params[params["estimate"] == 1]
            theta = {p: math.log10(v) for p, v in zip(est["parameterId"], est["nominalValue"])}
            rows = [{"start": k, "objective": 10.0 + k, "llh": -10.0 - k, "log_prior": 0.0, "status": "converged",
                     "message": "", "iterations": 5, "evaluations": 7, "time_s": 0.1, **theta} for k in range(2)]
            pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
            return path
        return self._once("fits.tsv", make)

    def posterior(self) -> Path:
        """A NetCDF posterior of the cascade (2 chains x 3 draws at the nominal values)."""
        def make(path: Path) -> None:
            import math

            import arviz as az
            import numpy as np
            import pandas as pd

            params = pd.read_csv(EXAMPLE / "parameters.tsv", sep="\t")
            est = params[params["estimate"] == 1]
            rng = np.random.default_rng(0)
            draws = {p: math.log10(v) + 0.01 * rng.standard_normal((2, 3))
                     for p, v in zip(est["parameterId"], est["nominalValue"])}
            az.from_dict(posterior=draws).to_netcdf(str(path))
        return self._cached("posterior.nc", make)

    # PEtab SciML: the test suite's Lotka-Volterra problem with one network
    def sciml(self) -> Path:
        def make(path: Path) -> Path:
            source = self.shared.joinpath(*SCIML_CASE)
            if not source.is_dir():
                import pytest

                pytest.skip(f"PEtab SciML test suite not found at {source}: set CELLTWIN_SHARED_DATA")
            return _copy_tree(source, path)
        return self._once("sciml", make)

    def sciml_problem(self) -> Path:
        return self.sciml() / "problem.yaml"

    # a twin case (tests/test_twin.py's binding model) with a tiny sampler
    def case(self) -> Path:
        def make(path: Path) -> Path:
            from test_twin import write_case

            path.mkdir()
            write_case(path, sampler="{method: ensemble, chains: 4, warmup: 2, draws: 2, seed: 1}")
            return path
        return self._once("twin", make) / "case.yaml"

    # diagnose: predictions of an affinity predictor with a stratum column
    def predictions(self) -> Path:
        def make(path: Path) -> Path:
            import numpy as np
            import pandas as pd
            from test_causal_diagnostics import simpson_data

            x, y, labels = simpson_data(0, n_per=10)
            pd.DataFrame({"compound": [f"c{i}" for i in range(len(x))], "target": "AKT1",
                          "predicted": np.round(10 ** (9 - x), 6), "measured": np.round(10 ** (9 - y), 6),
                          "unit": "nM", "family": labels}).to_csv(path, index=False)
            return path
        return self._once("predictions.csv", make)

    # discover: A -> B at rate 0.5, 21 time points
    def time_courses(self) -> Path:
        def make(path: Path) -> Path:
            import numpy as np
            import pandas as pd

            t = np.linspace(0.0, 10.0, 21)
            a = 2.0 * np.exp(-0.5 * t)
            pd.DataFrame({"t": t, "A": np.round(a, 8), "B": np.round(2.0 - a, 8)}).to_csv(path, index=False)
            return path
        return self._once("timecourses.csv", make)

    def knowledge(self) -> Path:
        def make(path: Path) -> Path:
            path.write_text("source\ttarget\tconfidence\nA\tB\t0.9\n", encoding="utf-8")
            return path
        return self._once("edges.tsv", make)

    # screen fit: a small simulated CRISPRa screen (8 genes, 4 targets, 2 doubles)
    def screen(self) -> Path:
        def make(path: Path) -> None:
            from test_perturb_screen_cli import _write_h5ad

            from celltwin.perturb import simulate_screen

            sim = simulate_screen(1, n_genes=8, n_targets=4, n_doubles=2, guides_per_target=1, n_batches=2,
                                  cells_per_condition=10, controls_per_batch=10)
            _write_h5ad(path, sim)
        return self._cached("screen.h5ad", make)

    # bench: a result store with the rows of tests/test_bench_leaderboard.py
    def store(self) -> Path:
        def make(path: Path) -> None:
            from test_bench_leaderboard import fake_rows

            from celltwin.bench import ResultStore

            store = ResultStore(path)
            store.create()
            for row in fake_rows():
                store.write(row)
        return self._cached("results.duckdb", make)

    def duckdb(self, name: str, sql: Sequence[str]) -> Path:
        """A DuckDB file made by running ``sql`` (not a result store)."""
        import duckdb

        path = self.path(name)
        with duckdb.connect(str(path)) as con:
            for statement in sql:
                con.execute(statement)
        return path

    # affinity predict: a two-chain complex of a few residues, as PDB or mmCIF
    def structure(self, suffix: str = ".pdb") -> Path:
        def make(path: Path) -> Path:
            atoms = two_strands()
            path.write_text(pdb_text(atoms) if suffix == ".pdb" else mmcif_text(atoms), encoding="utf-8")
            return path
        return self._once(f"complex{suffix}", make)

    # affinity predict --ligand: chain A of that complex with a small ligand LIG in chain L
    def ligand_complex(self, suffix: str = ".pdb") -> Path:
        def make(path: Path) -> Path:
            atoms = [a for a in two_strands() if a[0] == "A"] + ligand_atoms()
            path.write_text(pdb_text(atoms) if suffix == ".pdb" else mmcif_text(atoms), encoding="utf-8")
            return path
        return self._once(f"ligand{suffix}", make)

    def file_in_the_way(self) -> Path:
        """A regular file, to be used as if it were a folder."""
        path = self.path("plain_file")
        path.write_text("not a folder\n", encoding="utf-8")
        return path


# --- a small protein complex ------------------------------------------------------------------

def two_strands() -> list[tuple]:
    """Atoms ``(chain, residue number, residue name, atom name, element, x, y, z)`` of two
    antiparallel four-residue strands 4.8 A apart (backbone and CB): a complex with a
    protein-protein interface for PRODIGY that is predicted in a moment."""
    atoms = []
    for chain, residues, y, step in (("A", ("LYS", "ALA", "GLU", "SER"), 0.0, 1),
                                     ("B", ("ASP", "LEU", "ARG", "THR"), 4.8, -1)):
        for i, name in enumerate(residues):
            x = 3.3 * (i if step > 0 else len(residues) - 1 - i)
            side = -1.5 if chain == "A" else 1.5
            for atom, element, dx, dy, dz in (("N", "N", -1.2 * step, 0.0, 0.0), ("CA", "C", 0.0, 0.0, 0.0),
                                              ("C", "C", 1.2 * step, 0.0, 0.0), ("O", "O", 1.2 * step, 0.0, 1.2),
                                              ("CB", "C", 0.0, side, -0.5)):
                atoms.append((chain, i + 1, name, atom, element, x + dx, y + dy, dz))
    return atoms


def ligand_atoms() -> list[tuple]:
    """A four-atom ligand LIG (C, N, O, Cl) in chain L, 4-6 A above chain A's strand: PRODIGY-LIG
    finds contacts of every element class."""
    return [("L", 1, "LIG", atom, element, x, 0.0, 4.5) for atom, element, x in
            (("C1", "C", 3.0), ("N1", "N", 4.4), ("O1", "O", 5.6), ("CL1", "CL", 1.5))]


def pdb_text(atoms: list[tuple]) -> str:
    lines = ["HEADER    TWO STRANDS"]
    for serial, (chain, number, residue, atom, element, x, y, z) in enumerate(atoms, start=1):
        record = "HETATM" if residue == "LIG" else "ATOM  "
        lines.append(f"{record}{serial:5d} {atom:<4s} {residue} {chain}{number:4d}    {x:8.3f}{y:8.3f}{z:8.3f}"
                     f"  1.00 20.00          {element:>2s}")
    return "\n".join([*lines, "END"]) + "\n"


MMCIF_COLUMNS = ("group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id",
                 "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy", "B_iso_or_equiv", "auth_seq_id", "auth_asym_id",
                 "pdbx_PDB_model_num")


def mmcif_text(atoms: list[tuple]) -> str:
    lines = ["data_complex", "#", "loop_", *(f"_atom_site.{c}" for c in MMCIF_COLUMNS)]
    for serial, (chain, number, residue, atom, element, x, y, z) in enumerate(atoms, start=1):
        record = "HETATM" if residue == "LIG" else "ATOM"
        lines.append(f"{record} {serial} {element} {atom} . {residue} {chain} {number} ? {x:.3f} {y:.3f} {z:.3f} 1.00 "
                     f"20.00 {number} {chain} 1")
    return "\n".join([*lines, "#"]) + "\n"


# --- PEtab problems: one defect in one file of examples/mapk_cascade -------------------------

@dataclasses.dataclass(frozen=True)
class PetabDefect:
    file: str
    kind: str
    defect: str
    edit: Callable[[Path], None]  # given the problem folder
    words: tuple[str, ...]
    pending: str | None = None
    only: tuple[str, ...] | None = None  # the commands the defect applies to (None: all)


def _remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def _bytes(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def _prepend_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / name
        path.write_bytes(data + path.read_bytes())
    return edit


def _text(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text, encoding="utf-8")


def _replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda folder: replace_text(folder / name, old, new)


def _cell(name: str, line: int, column: str, value: str) -> Callable[[Path], None]:
    return lambda folder: set_cell(folder / name, line, column, value)


def _drop(name: str, column: str) -> Callable[[Path], None]:
    return lambda folder: drop_column(folder / name, column)


def _append(name: str, line: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    return edit


def _copy_line(name: str, line: int) -> Callable[[Path], None]:
    return lambda folder: copy_line(folder / name, line)


def _latin1(name: str, old: str, new: str) -> Callable[[Path], None]:
    """Replace ``old`` by ``new`` and write the file in Latin-1: valid text, but not UTF-8."""
    def edit(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_text(encoding="utf-8").replace(old, new).encode("latin-1"))
    return edit


def _as_csv(name: str) -> Callable[[Path], None]:
    return lambda folder: resep(folder / name, "\t", ",")


YAML = "mapk_cascade.yaml"
OBS, MEAS, PAR, COND, SBML = "observables.tsv", "measurements.tsv", "parameters.tsv", "conditions.tsv", "model.xml"

PETAB_DEFECTS = (
    # the problem YAML
    PetabDefect(YAML, "missing file", "the problem file does not exist", _remove(YAML), (YAML, "not found")),
    PetabDefect(YAML, "empty file", "zero bytes", _bytes(YAML, b""), (YAML,)),
    PetabDefect(YAML, "binary garbage", "bytes that are no text", _bytes(YAML, GARBAGE), (YAML,)),
    PetabDefect(YAML, "non-UTF-8 bytes", "a Latin-1 comment", _prepend_bytes(YAML, LATIN1), (YAML, "UTF-8")),
    PetabDefect(YAML, "YAML syntax error", "an unclosed bracket", _replace(YAML, "[model.xml]", "[model.xml"),
                (YAML, "YAML")),
    PetabDefect(YAML, "YAML of the wrong type", "a list instead of a mapping", _text(YAML, "- parameters.tsv\n"),
                (YAML, "mapping")),
    PetabDefect(YAML, "YAML of the wrong type", "'problems' is a mapping, not a list",
                _replace(YAML, "- sbml_files:", "  sbml_files:"), (YAML, "problems")),
    PetabDefect(YAML, "wrong format_version", "format_version 2.0.0",
                _replace(YAML, "format_version: 1", "format_version: 2.0.0"), (YAML, "format_version")),
    PetabDefect(YAML, "missing column or field", "no sbml_files", _replace(YAML, "- sbml_files: [model.xml]\n  ", "- "),
                (YAML, "sbml_files")),
    PetabDefect(OBS, "missing referenced file", "the observable table named by the YAML does not exist",
                _remove(OBS), (OBS, "not found")),
    PetabDefect(YAML, "missing referenced file", "parameter_file names a folder",
                _replace(YAML, "parameter_file: parameters.tsv", "parameter_file: ."), (YAML, "parameter")),
    # the SBML model
    PetabDefect(SBML, "empty file", "zero bytes", _bytes(SBML, b""), (SBML,)),
    PetabDefect(SBML, "binary garbage", "bytes that are no XML", _bytes(SBML, GARBAGE), (SBML, "SBML")),
    PetabDefect(SBML, "wrong kind of file", "the YAML file where the SBML should be",
                lambda f: shutil.copyfile(f / YAML, f / SBML), (SBML, "SBML")),
    PetabDefect(SBML, "unknown id referenced", "a rate law uses an undefined parameter",
                _replace(SBML, "<ci> k_act1 </ci>", "<ci> k_nowhere </ci>"), (SBML, "k_nowhere")),
    PetabDefect(SBML, "code injection in formula", "a MathML function name that is Python code",
                _replace(SBML, "<ci> k_act1 </ci>", "<ci> __import__ </ci>"), (SBML, "__import__")),
    # the measurement table
    PetabDefect(MEAS, "empty file", "zero bytes", _bytes(MEAS, b""), (MEAS, "empty")),
    PetabDefect(MEAS, "binary garbage", "bytes that are no text", _bytes(MEAS, GARBAGE), (MEAS,)),
    PetabDefect(MEAS, "wrong delimiter", "commas instead of tabs", _as_csv(MEAS), (MEAS, "observableId")),
    PetabDefect(MEAS, "missing column or field", "no 'time' column", _drop(MEAS, "time"), (MEAS, "time")),
    PetabDefect(MEAS, "header only (no rows)", "the header and no measurement", lambda f: keep_lines(f / MEAS, 1),
                (MEAS,)),
    PetabDefect(MEAS, "unknown id referenced", "an observableId the observable table lacks",
                _cell(MEAS, 3, "observableId", "pKX"), (MEAS, "row 3", "observableId", "pKX")),
    PetabDefect(MEAS, "unknown id referenced", "a simulationConditionId the condition table lacks",
                _cell(MEAS, 4, "simulationConditionId", "mid_dose"), (MEAS, "row 4", "simulationConditionId",
                                                                       "mid_dose")),
    PetabDefect(MEAS, "non-numeric value", "measurement 'abc'", _cell(MEAS, 6, "measurement", "abc"),
                (MEAS, "row 6", "measurement")),
    PetabDefect(MEAS, "non-numeric value", "time 'later'", _cell(MEAS, 5, "time", "later"), (MEAS, "row 5", "time")),
    PetabDefect(MEAS, "NaN or infinite value", "measurement inf", _cell(MEAS, 6, "measurement", "inf"),
                (MEAS, "row 6", "measurement")),
    PetabDefect(MEAS, "NaN or infinite value", "measurement nan", _cell(MEAS, 7, "measurement", "nan"),
                (MEAS, "row 7", "measurement")),
    PetabDefect(MEAS, "value out of range", "time -1", _cell(MEAS, 5, "time", "-1"), (MEAS, "row 5", "time")),
    # the observable table
    PetabDefect(OBS, "missing column or field", "no 'observableFormula' column", _drop(OBS, "observableFormula"),
                (OBS, "observableFormula")),
    PetabDefect(OBS, "duplicated id", "observableId pK1 twice", _copy_line(OBS, 2), (OBS, "pK1")),
    PetabDefect(OBS, "formula syntax error", "'scale_pK1 * * K1p'", _cell(OBS, 2, "observableFormula", "scale_pK1 * * K1p"),
                (OBS, "row 2", "observableFormula")),
    PetabDefect(OBS, "formula syntax error", "a trailing ', 1'", _cell(OBS, 2, "observableFormula", "scale_pK1 * K1p, 1"),
                (OBS, "row 2", "observableFormula")),
    PetabDefect(OBS, "formula syntax error", "an unclosed parenthesis", _cell(OBS, 3, "noiseFormula", "(sigma_pK2"),
                (OBS, "row 3", "noiseFormula")),
    PetabDefect(OBS, "unknown function in formula", "foo(K1p)", _cell(OBS, 2, "observableFormula", "foo(K1p)"),
                (OBS, "row 2", "observableFormula", "foo")),
    PetabDefect(OBS, "unknown id referenced", "a species that does not exist", _cell(OBS, 2, "observableFormula", "K9p"),
                (OBS, "K9p")),
    PetabDefect(OBS, "code injection in formula", "an attribute chain to os.system",
                _cell(OBS, 2, "observableFormula",
                      "K1p.__class__.__init__.__globals__['os'].system('touch pwned')"),
                (OBS, "row 2", "observableFormula")),
    PetabDefect(OBS, "code injection in formula", "__import__ in noiseFormula",
                _cell(OBS, 3, "noiseFormula", "__import__('os').system('touch pwned')"), (OBS, "row 3", "noiseFormula")),
    PetabDefect(OBS, "code injection in formula", "a lambda", _cell(OBS, 2, "observableFormula", "(lambda: K1p)()"),
                (OBS, "row 2", "observableFormula")),
    PetabDefect(OBS, "value out of range", "a negative noise level", _cell(OBS, 2, "noiseFormula", "-sigma_pK1"),
                (OBS, "row 2", "noiseFormula")),
    PetabDefect(OBS, "unknown id referenced", "noiseDistribution 'cauchy'", _cell(OBS, 2, "noiseDistribution", "cauchy"),
                (OBS, "noiseDistribution", "cauchy")),
    PetabDefect(OBS, "unknown id referenced", "observableTransformation 'sqrt'",
                _cell(OBS, 2, "observableTransformation", "sqrt"), (OBS, "observableTransformation", "sqrt")),
    # the parameter table
    PetabDefect(PAR, "missing column or field", "no 'upperBound' column", _drop(PAR, "upperBound"),
                (PAR, "upperBound")),
    PetabDefect(PAR, "duplicated id", "parameterId k_act1 twice", _copy_line(PAR, 2), (PAR, "k_act1")),
    PetabDefect(PAR, "unknown id referenced", "a row for a parameter used nowhere",
                _append(PAR, "k_ghost\tlog10\t0.01\t100.0\t1.0\t1"),
                (PAR, "k_ghost"), only=("check",)),  # not linted, an unused parameter changes no result
    PetabDefect(PAR, "non-numeric value", "nominalValue 'abc'", _cell(PAR, 3, "nominalValue", "abc"),
                (PAR, "row 3", "nominalValue")),
    PetabDefect(PAR, "NaN or infinite value", "nominalValue inf", _cell(PAR, 3, "nominalValue", "inf"),
                (PAR, "row 3", "nominalValue")),
    PetabDefect(PAR, "value out of range", "nominalValue above upperBound", _cell(PAR, 2, "nominalValue", "500"),
                (PAR, "row 2", "nominalValue")),
    PetabDefect(PAR, "value out of range", "lowerBound above upperBound", _cell(PAR, 4, "lowerBound", "1000"),
                (PAR, "row 4", "lowerBound")),
    PetabDefect(PAR, "value out of range", "a log10 parameter with lowerBound 0", _cell(PAR, 4, "lowerBound", "0"),
                (PAR, "row 4", "lowerBound")),
    PetabDefect(PAR, "value out of range", "a negative noise level (nominal value of sigma)",
                _cell(PAR, 12, "nominalValue", "-0.05"), (PAR, "sigma_pK1")),
    PetabDefect(PAR, "unknown id referenced", "parameterScale 'ln'", _cell(PAR, 2, "parameterScale", "ln"),
                (PAR, "row 2", "parameterScale")),
    PetabDefect(PAR, "value out of range", "estimate 2", _cell(PAR, 2, "estimate", "2"), (PAR, "row 2", "estimate")),
    # the condition table
    PetabDefect(COND, "missing column or field", "no 'conditionId' column", _drop(COND, "conditionId"),
                (COND, "conditionId")),
    PetabDefect(COND, "duplicated id", "conditionId low_dose twice", _copy_line(COND, 2), (COND, "low_dose")),
    PetabDefect(COND, "unknown id referenced", "a column that is no model entity",
                _replace(COND, "conditionName\tL", "conditionName\tLx"), (COND, "Lx")),
    PetabDefect(COND, "non-numeric value", "L = '0.2x'", _cell(COND, 2, "L", "0.2x"), (COND, "row 2", "L")),
    PetabDefect(COND, "binary garbage", "bytes that are no text", _bytes(COND, GARBAGE), (COND,)),
    PetabDefect(COND, "non-UTF-8 bytes", "a Latin-1 conditionName", _latin1(COND, "L = 0.2", "dosé"), (COND,)),
)


def _petab_case(command: str, base: Callable[[Inputs, Path], list], d: PetabDefect) -> BadInput:
    def build(io: Inputs) -> list:
        problem = io.problem()
        args = base(io, problem)  # before the edit: base inputs may read the valid problem
        d.edit(problem.parent)
        return args
    return BadInput(command, d.file, d.kind, d.defect, build, d.words, pending=d.pending)


def _pick(*keys: str) -> list[PetabDefect]:
    """The PETAB_DEFECTS named ``"file: defect"`` (each must exist exactly once)."""
    by_key = {f"{d.file}: {d.defect}": d for d in PETAB_DEFECTS}
    assert len(by_key) == len(PETAB_DEFECTS), "PETAB_DEFECTS: two entries with the same file and defect"
    return [by_key[k] for k in keys]


PETAB_BASE: dict[str, Callable[[Inputs, Path], list]] = {
    "check": lambda io, y: [y],
    "simulate": lambda io, y: [y, "--out", io.path("sim.tsv")],
    "fit": lambda io, y: [y, "--starts", 1, "--max-iterations", 1, "--workers", 1, "--out", io.path("fits_out.tsv")],
    "profile": lambda io, y: [y, "--fits", io.fits(), "--parameters", "k_act1", "--workers", 1,
                              "--out", io.path("profiles")],
    "sample": lambda io, y: [y, "--method", "ensemble", "--chains", 12, "--draws", 2, "--warmup", 0, "--block", 2,
                             "--no-predictive", "--out", io.path("post.nc")],
    "quickstart": lambda io, y: [y, "--max-iter", 1],
    "scenario": lambda io, y: [y, "--posterior", io.posterior(), "--knockout", "K1", "--draws", 2,
                               "--out", io.path("scenarios.tsv")],
}

# Every PEtab defect through `check` (linted) and `simulate` (not linted: celltwin's own
# import checks); a different handful through each other command that reads a PEtab problem.
PETAB_SELECTION = {
    "check": list(PETAB_DEFECTS),
    "simulate": list(PETAB_DEFECTS),
    "fit": _pick(f"{YAML}: the problem file does not exist", f"{MEAS}: an observableId the observable table lacks",
                 f"{OBS}: an attribute chain to os.system", f"{PAR}: lowerBound above upperBound",
                 f"{COND}: L = '0.2x'"),
    "profile": _pick(f"{YAML}: an unclosed bracket", f"{MEAS}: measurement 'abc'", f"{OBS}: foo(K1p)",
                     f"{PAR}: parameterId k_act1 twice", f"{SBML}: bytes that are no XML"),
    "sample": _pick(f"{YAML}: format_version 2.0.0", f"{OBS}: no 'observableFormula' column",
                    f"{MEAS}: commas instead of tabs", f"{PAR}: parameterScale 'ln'",
                    f"{OBS}: __import__ in noiseFormula"),
    "quickstart": _pick(f"{YAML}: a list instead of a mapping",
                        f"{OBS}: the observable table named by the YAML does not exist",
                        f"{OBS}: 'scale_pK1 * * K1p'", f"{MEAS}: a simulationConditionId the condition table lacks",
                        f"{SBML}: a rate law uses an undefined parameter"),
    "scenario": _pick(f"{SBML}: zero bytes", f"{OBS}: a lambda", f"{PAR}: nominalValue 'abc'",
                      f"{COND}: a column that is no model entity", f"{MEAS}: the header and no measurement"),
}


def petab_cases() -> list[BadInput]:
    return [_petab_case(command, PETAB_BASE[command], d)
            for command, defects in PETAB_SELECTION.items() for d in defects if d.only is None or command in d.only]


# --- helpers for the command-specific cases --------------------------------------------------

def _write(io: Inputs, name: str, content: str | bytes) -> Path:
    path = io.path(name)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _under_a_file(io: Inputs, name: str) -> Path:
    """``name`` inside a regular file: its parent cannot be a folder."""
    return io.file_in_the_way() / name


def _folder(io: Inputs, name: str) -> Path:
    path = io.path(name)
    path.mkdir()
    return path


UNWRITABLE = Path("/proc")  # a folder that exists and that not even root can create files in


def _with(base: Callable[[Inputs], list], *extra) -> Callable[[Inputs], list]:
    """``base`` plus options; callables among them get ``io`` (a later option overrides)."""
    return lambda io: [*base(io), *(e(io) if callable(e) else e for e in extra)]


# --- simulate: the parameter-values file, the output ------------------------------------------

def _simulate(io: Inputs) -> list:
    return [io.problem(), "--out", io.path("sim.tsv")]


def _values(content: str | bytes) -> Callable[[Inputs], list]:
    return _with(_simulate, "--parameters", lambda io: _write(io, "values.tsv", content))


CHECK = [
    BadInput("check", "--format", "bad option value", "--format xml", lambda io: [io.problem(), "--format", "xml"],
             ("--format", "xml")),
]

SIMULATE = [
    BadInput("simulate", "--parameters", "missing file", "the values file does not exist",
             _with(_simulate, "--parameters", lambda io: io.path("none.tsv")), ("none.tsv", "not found")),
    BadInput("simulate", "--parameters", "empty file", "zero bytes", _values(""), ("values.tsv", "empty")),
    BadInput("simulate", "--parameters", "binary garbage", "bytes that are no text", _values(GARBAGE),
             ("values.tsv",)),
    BadInput("simulate", "--parameters", "missing column or field", "no 'parameterId' column",
             _values("id\tvalue\nk_act1\t1\n"), ("values.tsv", "parameterId")),
    BadInput("simulate", "--parameters", "unknown id referenced", "a parameter the problem lacks",
             _values("parameterId\tvalue\nk_nowhere\t1\n"), ("values.tsv", "row 2", "parameterId", "k_nowhere")),
    BadInput("simulate", "--parameters", "duplicated id", "k_act1 twice",
             _values("parameterId\tvalue\nk_act1\t1\nk_act1\t2\n"), ("values.tsv", "row 3", "k_act1")),
    BadInput("simulate", "--parameters", "non-numeric value", "value 'fast'",
             _values("parameterId\tvalue\nk_act1\tfast\n"), ("values.tsv", "row 2", "value")),
    BadInput("simulate", "--parameters", "NaN or infinite value", "value inf",
             _values("parameterId\tvalue\nk_act1\tinf\n"), ("values.tsv", "row 2", "value")),
    BadInput("simulate", "--parameters", "value out of range", "a negative value on log10 scale",
             _values("parameterId\tvalue\nk_act1\t-1\n"), ("values.tsv", "row 2", "value", "positive")),
    BadInput("simulate", "--parameters", "inconsistent inputs", "a new value for a fixed parameter",
             _values("parameterId\tvalue\nKm1\t0.9\n"), ("values.tsv", "row 2", "Km1")),
    BadInput("simulate", "--out", "output path problem", "the parent is a regular file",
             lambda io: [io.problem(), "--out", _under_a_file(io, "sim.tsv")], ("--out", "plain_file")),
    BadInput("simulate", "--out", "output path problem", "--out is a folder",
             lambda io: [io.problem(), "--out", _folder(io, "sims")], ("--out", "folder")),
    BadInput("simulate", "--out", "output path problem", "the parent folder does not exist",
             lambda io: [io.problem(), "--out", io.path("nowhere/sim.tsv")], ("--out", "nowhere")),
]


# --- fit -----------------------------------------------------------------------------------

def _fit(io: Inputs) -> list:
    return PETAB_BASE["fit"](io, io.problem())


FIT = [
    BadInput("fit", "--starts", "bad option value", "--starts 0", _with(_fit, "--starts", 0), ("--starts",)),
    BadInput("fit", "--starts", "bad option value", "--starts -3", _with(_fit, "--starts", -3), ("--starts",)),
    BadInput("fit", "--optimizer", "bad option value", "an unknown optimizer", _with(_fit, "--optimizer", "newton"),
             ("--optimizer", "newton", "L-BFGS-B")),
    BadInput("fit", "--max-iterations", "bad option value", "--max-iterations 0",
             _with(_fit, "--max-iterations", 0), ("--max-iterations",)),
    BadInput("fit", "--workers", "bad option value", "--workers 0", _with(_fit, "--workers", 0), ("--workers",)),
    BadInput("fit", "--scheduler", "bad option value", "an address that is no tcp://HOST:PORT",
             _with(_fit, "--scheduler", "nowhere:1"), ("nowhere:1", "tcp://HOST:PORT")),
    BadInput("fit", "--out", "output path problem", "the parent is a regular file",
             _with(_fit, "--out", lambda io: _under_a_file(io, "fits.tsv")), ("--out", "plain_file")),
    BadInput("fit", "--out", "output path problem", "--out is a folder",
             _with(_fit, "--out", lambda io: _folder(io, "fits")), ("--out", "folder")),
    BadInput("fit", "--plot", "output path problem", "the plot's folder does not exist",
             _with(_fit, "--plot", lambda io: io.path("nowhere/w.png")), ("--plot", "nowhere")),
    BadInput("fit", "--out", "output path problem", "a folder where no file can be created",
             _with(_fit, "--out", str(UNWRITABLE / "fits.tsv")), ("--out", "/proc/fits.tsv")),
]


# --- profile ------------------------------------------------------------------------------------

def _profile(io: Inputs) -> list:
    return PETAB_BASE["profile"](io, io.problem())


def _fits(edit: Callable[[Path], None]) -> Callable[[Inputs], list]:
    def build(io: Inputs) -> list:
        args = _profile(io)
        edit(io.fits())
        return args
    return build


PROFILE = [
    BadInput("profile", "--fits", "missing file", "the fit table does not exist",
             _with(_profile, "--fits", lambda io: io.path("none.tsv")), ("none.tsv", "not found")),
    BadInput("profile", "--fits", "empty file", "zero bytes", _fits(lambda p: p.write_bytes(b"")), ("fits.tsv", "empty")),
    BadInput("profile", "--fits", "binary garbage", "bytes that are no text", _fits(lambda p: p.write_bytes(GARBAGE)),
             ("fits.tsv",)),
    BadInput("profile", "--fits", "missing column or field", "no column for parameter k_act2",
             _fits(lambda p: drop_column(p, "k_act2")), ("fits.tsv", "k_act2")),
    BadInput("profile", "--fits", "non-numeric value", "objective 'best'",
             _fits(lambda p: set_cell(p, 2, "objective", "best")), ("fits.tsv", "objective")),
    BadInput("profile", "--fits", "NaN or infinite value", "every objective nan",
             _fits(lambda p: [set_cell(p, k, "objective", "nan") for k in (2, 3)]), ("fits.tsv", "finite")),
    BadInput("profile", "--fits", "non-numeric value", "a parameter value 'x' in the best row",
             _fits(lambda p: set_cell(p, 2, "k_act1", "x")), ("fits.tsv", "k_act1")),
    BadInput("profile", "--fits", "header only (no rows)", "the header and no start",
             _fits(lambda p: keep_lines(p, 1)), ("fits.tsv",)),
    BadInput("profile", "--parameters", "unknown id referenced", "a parameter the problem lacks",
             _with(_profile, "--parameters", "nope"), ("--parameters", "nope")),
    BadInput("profile", "--alpha", "bad option value", "--alpha 2", _with(_profile, "--alpha", 2), ("--alpha",)),
    BadInput("profile", "--starts", "bad option value", "--starts 0", _with(_profile, "--starts", 0), ("--starts",)),
    BadInput("profile", "--out", "output path problem", "--out is a regular file",
             _with(_profile, "--out", lambda io: io.file_in_the_way()), ("--out", "plain_file")),
    BadInput("profile", "--out", "output path problem", "the parent is a regular file",
             _with(_profile, "--out", lambda io: _under_a_file(io, "profiles")), ("--out", "plain_file")),
    BadInput("profile", "--out", "output path problem", "a folder where no folder can be created",
             _with(_profile, "--out", str(UNWRITABLE / "profiles")), ("--out", "/proc/profiles")),
]


# --- sample ---------------------------------------------------------------------------------------

def _sample(io: Inputs) -> list:
    return PETAB_BASE["sample"](io, io.problem())


def _checkpoint(content: bytes) -> Callable[[Inputs], list]:
    def build(io: Inputs) -> list:
        args = _sample(io)
        io.path("post.nc.checkpoint.npz").write_bytes(content)
        return args
    return build


SAMPLE = [
    BadInput("sample", "--method", "bad option value", "an unknown method", _with(_sample, "--method", "gibbs"),
             ("gibbs", "nuts")),
    BadInput("sample", "--chains", "bad option value", "--chains 0", _with(_sample, "--chains", 0), ("--chains",)),
    BadInput("sample", "--chains", "bad option value", "fewer ensemble walkers than twice the parameters",
             _with(_sample, "--chains", 3), ("walkers",)),
    BadInput("sample", "--draws", "bad option value", "--draws 0", _with(_sample, "--draws", 0), ("--draws",)),
    BadInput("sample", "--warmup", "bad option value", "--warmup -1", _with(_sample, "--warmup", -1), ("--warmup",)),
    BadInput("sample", "--target-accept", "bad option value", "--target-accept 1.5",
             _with(_sample, "--target-accept", 1.5), ("--target-accept",)),
    BadInput("sample", "--stop-rhat", "bad option value", "--stop-rhat 0.5", _with(_sample, "--stop-rhat", 0.5),
             ("--stop-rhat",)),
    BadInput("sample", "--stop-rhat", "inconsistent inputs", "a stopping rule for the ensemble sampler",
             _with(_sample, "--stop-rhat", 1.1), ("stop_rhat", "ensemble")),
    BadInput("sample", "--workers", "inconsistent inputs", "--workers 2 with the ensemble sampler",
             _with(_sample, "--workers", 2), ("--workers",)),
    BadInput("sample", "--scheduler", "inconsistent inputs", "--scheduler without --workers",
             _with(_sample, "--scheduler", "tcp://127.0.0.1:1"), ("--scheduler", "--workers")),
    BadInput("sample", "--init", "missing file", "the fit table does not exist",
             _with(_sample, "--init", lambda io: io.path("none.tsv")), ("none.tsv", "not found")),
    BadInput("sample", "--init", "missing column or field", "a fit table without parameter k_act1",
             lambda io: [*_sample(io), "--init", drop_column(io.fits(), "k_act1") or io.fits()], ("fits.tsv", "k_act1")),
    BadInput("sample", "--init", "inconsistent inputs", "--init with --method smc",
             _with(_sample, "--method", "smc", "--chains", 1, "--draws", 10, "--init", lambda io: io.fits()),
             ("--init",)),
    BadInput("sample", "--resume", "missing referenced file", "--resume without a checkpoint",
             _with(_sample, "--resume"), ("--resume", "checkpoint")),
    BadInput("sample", "checkpoint", "inconsistent inputs", "a checkpoint of an earlier run, no --resume",
             _checkpoint(b""), ("post.nc.checkpoint.npz", "--resume")),
    BadInput("sample", "checkpoint", "binary garbage", "--resume with a truncated checkpoint",
             _with(_checkpoint(b"PK\x03\x04" + GARBAGE[:100]), "--resume"), ("post.nc.checkpoint.npz",)),
    BadInput("sample", "--out", "output path problem", "the parent is a regular file",
             _with(_sample, "--out", lambda io: _under_a_file(io, "post.nc")), ("--out", "plain_file")),
    BadInput("sample", "--out", "output path problem", "--out is a folder",
             _with(_sample, "--out", lambda io: _folder(io, "posterior")), ("--out", "folder")),
    BadInput("sample", "--out", "output path problem", "a folder where no file can be created",
             _with(_sample, "--out", str(UNWRITABLE / "post.nc")), ("--out", "/proc/post.nc")),
]


# --- report ------------------------------------------------------------------------------------

def _report(posterior: Callable[[Inputs], Path]) -> Callable[[Inputs], list]:
    return lambda io: [posterior(io), "--out", io.path("report.html")]


def _no_posterior_group(io: Inputs) -> Path:
    import arviz as az
    import numpy as np

    path = io.path("observed.nc")
    az.from_dict(observed_data={"y": np.arange(3.0)}).to_netcdf(str(path))
    return path


REPORT = [
    BadInput("report", "POSTERIOR.nc", "missing file", "the file does not exist", _report(lambda io: io.path("none.nc")),
             ("none.nc", "no such file")),
    BadInput("report", "POSTERIOR.nc", "empty file", "zero bytes", _report(lambda io: _write(io, "post.nc", b"")),
             ("post.nc",)),
    BadInput("report", "POSTERIOR.nc", "binary garbage", "bytes that are no NetCDF",
             _report(lambda io: _write(io, "post.nc", GARBAGE)), ("post.nc", "NetCDF")),
    BadInput("report", "POSTERIOR.nc", "wrong kind of file", "a PEtab YAML instead of a NetCDF",
             _report(lambda io: io.problem()), ("mapk_cascade.yaml", "NetCDF")),
    BadInput("report", "POSTERIOR.nc", "missing column or field", "a NetCDF without a posterior group",
             _report(_no_posterior_group), ("observed.nc", "posterior")),
    BadInput("report", "--out", "output path problem", "the parent is a regular file",
             lambda io: [io.posterior(), "--out", _under_a_file(io, "report.html")], ("--out", "plain_file")),
    BadInput("report", "--out", "output path problem", "--out is a folder",
             lambda io: [io.posterior(), "--out", _folder(io, "report")], ("--out", "folder")),
    BadInput("report", "--out", "output path problem", "a folder where no file can be created",
             lambda io: [io.posterior(), "--out", str(UNWRITABLE / "report.html")], ("--out", "/proc/report.html")),
]


# --- scenario ------------------------------------------------------------------------------------

def _scenario(io: Inputs, *interventions) -> list:
    return [io.problem(), "--posterior", io.posterior(), *(interventions or ("--knockout", "K1")), "--draws", 2,
            "--out", io.path("scenarios.tsv")]


def _intervention(*options) -> Callable[[Inputs], list]:
    return lambda io: _scenario(io, *options)


def _other_posterior(io: Inputs) -> Path:
    import arviz as az
    import numpy as np

    path = io.path("other.nc")
    az.from_dict(posterior={"kon": np.zeros((1, 3)), "koff": np.zeros((1, 3))}).to_netcdf(str(path))
    return path


def _posterior_file(make: Callable[[Inputs], Path]) -> Callable[[Inputs], list]:
    return lambda io: [*_scenario(io), "--posterior", make(io)]


SCENARIO = [
    BadInput("scenario", "--posterior", "missing file", "the posterior does not exist",
             _posterior_file(lambda io: io.path("none.nc")), ("none.nc", "no such file")),
    BadInput("scenario", "--posterior", "binary garbage", "bytes that are no NetCDF",
             _posterior_file(lambda io: _write(io, "bad.nc", GARBAGE)), ("bad.nc", "NetCDF")),
    BadInput("scenario", "--posterior", "missing column or field", "a NetCDF without a posterior group",
             _posterior_file(_no_posterior_group), ("observed.nc", "posterior")),
    BadInput("scenario", "--posterior", "inconsistent inputs", "the posterior of another problem",
             _posterior_file(_other_posterior), ("other.nc", "k_act1")),
    BadInput("scenario", "--knockout", "unknown id referenced", "a species the model lacks",
             _intervention("--knockout", "K9"), ("K9",)),
    BadInput("scenario", "--overexpress", "non-numeric value", "fold 'abc'", _intervention("--overexpress", "K1=abc"),
             ("--overexpress", "K1=abc")),
    BadInput("scenario", "--overexpress", "value out of range", "a negative fold",
             _intervention("--overexpress", "K1=-2"), ("K1", "fold")),
    BadInput("scenario", "--dose", "unknown id referenced", "a dose of an id the model lacks",
             _intervention("--dose", "nothing=1"), ("nothing",)),
    BadInput("scenario", "--inhibitor", "bad option value", "TARGET:C without KD", _intervention("--inhibitor", "k_act1:10"),
             ("--inhibitor", "k_act1:10")),
    BadInput("scenario", "--inhibitor", "value out of range", "a negative Kd",
             _intervention("--inhibitor", "k_act1:10:-3"), ("k_act1", "Kd")),
    BadInput("scenario", "--inhibitor", "unknown id referenced", "an unknown unit",
             _intervention("--inhibitor", "k_act1:10:3:furlong"), ("furlong",)),
    BadInput("scenario", "--times", "non-numeric value", "--times a,b", _with(_scenario, "--times", "a,b"), ("--times",)),
    BadInput("scenario", "--times", "NaN or infinite value", "--times 1,nan", _with(_scenario, "--times", "1,nan"),
             ("--times",)),
    BadInput("scenario", "--times", "value out of range", "a negative time", _with(_scenario, "--times", "-5,1"),
             ("--times",)),
    BadInput("scenario", "--condition", "unknown id referenced", "a condition the problem lacks",
             _with(_scenario, "--condition", "nowhere"), ("nowhere",)),
    BadInput("scenario", "--knockout", "bad option value", "no intervention at all",
             lambda io: [io.problem(), "--posterior", io.posterior(), "--out", io.path("scenarios.tsv")],
             ("intervention",)),
    BadInput("scenario", "--draws", "bad option value", "--draws 0", _with(_scenario, "--draws", 0), ("--draws",)),
    BadInput("scenario", "--out", "output path problem", "the parent is a regular file",
             _with(_scenario, "--out", lambda io: _under_a_file(io, "s.tsv")), ("--out", "plain_file")),
    BadInput("scenario", "--plot", "output path problem", "the plot's parent is a regular file",
             _with(_scenario, "--plot", lambda io: _under_a_file(io, "s.png")), ("--plot", "plain_file")),
]


# --- demo: the twin case file and the files it names -------------------------------------------

def _demo(edit: Callable[[Path], None] | None = None, *options) -> Callable[[Inputs], list]:
    """``demo CASE.yaml`` after ``edit(case folder)``."""
    def build(io: Inputs) -> list:
        case = io.case()
        if edit is not None:
            edit(case.parent)
        return [case, "--out", io.path("demo"), *options]
    return build


CASE = "case.yaml"


def _case_text(old: str, new: str) -> Callable[[Path], None]:
    return lambda folder: replace_text(folder / CASE, old, new)


def _case_append(text: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / CASE
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    return edit


DEMO = [
    BadInput("demo", CASE, "missing file", "the case file does not exist", _demo(lambda f: (f / CASE).unlink()),
             (CASE, "no such case file")),
    BadInput("demo", CASE, "empty file", "zero bytes", _demo(lambda f: (f / CASE).write_bytes(b"")), (CASE, "name")),
    BadInput("demo", CASE, "binary garbage", "bytes that are no text", _demo(lambda f: (f / CASE).write_bytes(GARBAGE)),
             (CASE,)),
    BadInput("demo", CASE, "non-UTF-8 bytes", "a Latin-1 comment", _demo(_prepend_bytes(CASE, LATIN1)), (CASE,)),
    BadInput("demo", CASE, "YAML syntax error", "an unclosed brace", _demo(_case_text("{knockout: B}", "{knockout: B")),
             (CASE, "YAML")),
    BadInput("demo", CASE, "YAML of the wrong type", "a list instead of a mapping",
             _demo(lambda f: (f / CASE).write_text("- name\n", encoding="utf-8")), (CASE, "mapping")),
    BadInput("demo", CASE, "missing column or field", "no 'evidence' field", _demo(_case_text("evidence: evidence.tsv\n", "")),
             (CASE, "evidence")),
    BadInput("demo", CASE, "unknown id referenced", "an unknown field", _demo(_case_append("colour: blue\n")),
             (CASE, "colour")),
    BadInput("demo", CASE, "missing referenced file", "the problem file does not exist",
             _demo(lambda f: (f / "train.yaml").unlink()), (CASE, "problem", "train.yaml")),
    BadInput("demo", CASE, "missing referenced file", "the evidence file does not exist",
             _demo(lambda f: (f / "evidence.tsv").unlink()), (CASE, "evidence", "evidence.tsv")),
    BadInput("demo", CASE, "missing referenced file", "the held-out problem file does not exist",
             _demo(lambda f: (f / "test.yaml").unlink()), (CASE, "held_out", "test.yaml")),
    BadInput("demo", CASE, "non-numeric value", "evidence_weight 'heavy'", _demo(_case_append("evidence_weight: heavy\n")),
             (CASE, "evidence_weight")),
    BadInput("demo", CASE, "value out of range", "a negative evidence_weight", _demo(_case_append("evidence_weight: -1\n")),
             (CASE, "evidence_weight")),
    BadInput("demo", CASE, "unknown id referenced", "an unknown kind of intervention",
             _demo(_case_text("{knockout: B}", "{explode: B}")), (CASE, "scenario")),
    BadInput("demo", CASE, "unknown id referenced", "a knockout of a species the model lacks",
             _demo(_case_text("{knockout: B}", "{knockout: Z}")), (CASE, "Z")),
    BadInput("demo", CASE, "YAML of the wrong type", "sampler is text, not a mapping",
             _demo(_case_text("sampler: {method: ensemble, chains: 4, warmup: 2, draws: 2, seed: 1}", "sampler: fast")),
             (CASE, "sampler")),
    BadInput("demo", CASE, "unknown id referenced", "an unknown sampler setting",
             _demo(_case_text("sampler: {method: ensemble", "sampler: {colour: red, method: ensemble")),
             (CASE, "sampler", "colour")),
    BadInput("demo", CASE, "value out of range", "sampler chains 0",
             _demo(_case_text("chains: 4", "chains: 0")), (CASE, "chains")),
    BadInput("demo", CASE, "non-numeric value", "solver rtol 'tight'", _demo(_case_append("solver: {rtol: tight}\n")),
             (CASE, "solver", "rtol")),
    BadInput("demo", CASE, "non-numeric value", "scenario_times 'soon'",
             _demo(_case_text("scenario_times: [0, 1, 5]", "scenario_times: soon")), (CASE, "scenario_times")),
    BadInput("demo", "evidence.tsv", "missing column or field", "no 'value' column",
             _demo(lambda f: drop_column(f / "evidence.tsv", "value")), ("evidence.tsv", "value")),
    BadInput("demo", "evidence.tsv", "unknown id referenced", "a reaction the model lacks",
             _demo(lambda f: set_cell(f / "evidence.tsv", 2, "reaction", "bnd")), ("evidence.tsv", "line 2", "bnd")),
    BadInput("demo", "evidence.tsv", "non-numeric value", "value 'tight'",
             _demo(lambda f: set_cell(f / "evidence.tsv", 2, "value", "tight")), ("evidence.tsv", "line 2", "value")),
    BadInput("demo", "evidence.tsv", "value out of range", "sd -1",
             _demo(lambda f: set_cell(f / "evidence.tsv", 2, "sd", "-1")), ("evidence.tsv", "line 2", "sd")),
    BadInput("demo", "evidence.tsv", "unknown id referenced", "unit 'furlong'",
             _demo(lambda f: set_cell(f / "evidence.tsv", 2, "unit", "furlong")), ("evidence.tsv", "line 2", "unit")),
    BadInput("demo", "train.yaml", "YAML syntax error", "the problem YAML has an unclosed bracket",
             _demo(lambda f: replace_text(f / "train.yaml", "[model.xml]", "[model.xml")), ("train.yaml", "YAML")),
    BadInput("demo", "o.tsv", "code injection in formula", "__import__ in an observable formula",
             _demo(lambda f: set_cell(f / "o.tsv", 2, "observableFormula", "__import__('os').getcwd()")),
             ("o.tsv", "row 2", "observableFormula")),
    BadInput("demo", "t.tsv", "non-numeric value", "a held-out measurement 'abc'",
             _demo(lambda f: set_cell(f / "t.tsv", 3, "measurement", "abc")), ("t.tsv", "row 3", "measurement")),
    BadInput("demo", "--method", "bad option value", "an unknown sampler", _demo(None, "--method", "gibbs"), ("gibbs",)),
    BadInput("demo", "--chains", "bad option value", "--chains 0", _demo(None, "--chains", 0), ("--chains",)),
    BadInput("demo", "--out", "output path problem", "--out is a regular file",
             lambda io: [io.case(), "--out", io.file_in_the_way()], ("--out", "plain_file")),
]


# --- quickstart ------------------------------------------------------------------------------

def _true_values(content: str) -> Callable[[Inputs], list]:
    def build(io: Inputs) -> list:
        (io.petab() / "true_parameters.tsv").write_text(content, encoding="utf-8")
        return [io.problem(), "--max-iter", 1]
    return build


QUICKSTART = [
    BadInput("quickstart", "--max-iter", "bad option value", "--max-iter 0",
             lambda io: [io.problem(), "--max-iter", 0], ("--max-iter",)),
    BadInput("quickstart", "true_parameters.tsv", "unknown id referenced", "a parameter the problem lacks",
             _true_values("parameterId\tvalue\nk_nowhere\t1\n"), ("true_parameters.tsv", "row 2", "k_nowhere")),
    BadInput("quickstart", "true_parameters.tsv", "non-numeric value", "value 'high'",
             _true_values("parameterId\tvalue\nk_act1\thigh\n"), ("true_parameters.tsv", "row 2", "value")),
]


# --- diagnose: a predictions CSV --------------------------------------------------------------

PRED = "predictions.csv"


def _diagnose(edit: Callable[[Path], None] | None = None, *options) -> Callable[[Inputs], list]:
    def build(io: Inputs) -> list:
        path = io.predictions()
        if edit is not None:
            edit(path)
        return [path, "--strata", "family", "--bootstrap", 10, "--permutations", 10, *options]
    return build


def _pred_cell(line: int, column: str, value: str) -> Callable[[Path], None]:
    return lambda p: set_cell(p, line, column, value, sep=",")


DIAGNOSE = [
    BadInput("diagnose", PRED, "missing file", "the file does not exist", _diagnose(lambda p: p.unlink()),
             (PRED, "no such file")),
    BadInput("diagnose", PRED, "empty file", "zero bytes", _diagnose(lambda p: p.write_bytes(b"")), (PRED, "empty")),
    BadInput("diagnose", PRED, "binary garbage", "bytes that are no text", _diagnose(lambda p: p.write_bytes(GARBAGE)),
             (PRED,)),
    BadInput("diagnose", PRED, "non-UTF-8 bytes", "a Latin-1 compound name",
             _diagnose(lambda p: p.write_bytes(p.read_text().replace("c3,", "cé,").encode("latin-1"))), (PRED,)),
    BadInput("diagnose", PRED, "wrong delimiter", "semicolons instead of commas", _diagnose(lambda p: resep(p, ",", ";")),
             (PRED, "measured")),
    BadInput("diagnose", PRED, "missing column or field", "no 'measured' column",
             _diagnose(lambda p: drop_column(p, "measured", sep=",")), (PRED, "measured")),
    BadInput("diagnose", PRED, "header only (no rows)", "the header and no pair", _diagnose(lambda p: keep_lines(p, 1)),
             (PRED, "no data rows")),
    BadInput("diagnose", PRED, "non-numeric value", "predicted 'n/a'", _diagnose(_pred_cell(5, "predicted", "n/a")),
             (PRED, "line 5", "predicted", "n/a")),
    BadInput("diagnose", PRED, "NaN or infinite value", "measured inf", _diagnose(_pred_cell(6, "measured", "inf")),
             (PRED, "line 6", "measured")),
    BadInput("diagnose", PRED, "value out of range", "a negative Kd in nM", _diagnose(_pred_cell(7, "measured", "-5")),
             (PRED, "line 7", "measured")),
    BadInput("diagnose", PRED, "unknown id referenced", "unit 'furlong'", _diagnose(_pred_cell(8, "unit", "furlong")),
             (PRED, "line 8", "unit", "furlong")),
    BadInput("diagnose", PRED, "missing column or field", "an empty compound", _diagnose(_pred_cell(9, "compound", "")),
             (PRED, "line 9", "compound")),
    BadInput("diagnose", PRED, "missing column or field", "an empty stratum label",
             _diagnose(_pred_cell(10, "family", "")), (PRED, "line 10", "family")),
    BadInput("diagnose", "--strata", "unknown id referenced", "a stratum column the file lacks",
             _diagnose(None, "--strata", "chemotype"), (PRED, "chemotype")),
    BadInput("diagnose", "--unit", "unknown id referenced", "--unit furlong", _diagnose(None, "--unit", "furlong"),
             ("furlong",)),
    BadInput("diagnose", "--bootstrap", "bad option value", "--bootstrap 5", _diagnose(None, "--bootstrap", 5),
             ("--bootstrap",)),
    BadInput("diagnose", "--level", "bad option value", "--level 2", _diagnose(None, "--level", 2), ("--level",)),
    BadInput("diagnose", "--out", "bad option value", "--out with a suffix other than .json or .html",
             lambda io: [*_diagnose()(io), "--out", io.path("d.txt")], ("d.txt", ".json")),
    BadInput("diagnose", "--out", "output path problem", "the parent is a regular file",
             lambda io: [*_diagnose()(io), "--out", _under_a_file(io, "d.json")], ("--out", "plain_file")),
]


# --- discover: time courses, knowledge ------------------------------------------------------------

TC = "timecourses.csv"


def _discover(edit: Callable[[Path], None] | None = None, *options) -> Callable[[Inputs], list]:
    def build(io: Inputs) -> list:
        path = io.time_courses()
        if edit is not None:
            edit(path)
        return [path, "--n-models", 2, "--out", io.path("model.json"),
                *(o(io) if callable(o) else o for o in options)]
    return build


def _tc_cell(line: int, column: str, value: str) -> Callable[[Path], None]:
    return lambda p: set_cell(p, line, column, value, sep=",")


def _edges(name: str, content: str | bytes) -> Callable[[Inputs], Path]:
    return lambda io: _write(io, name, content)


DISCOVER = [
    BadInput("discover", TC, "missing file", "the file does not exist", _discover(lambda p: p.unlink()),
             (TC, "no such file")),
    BadInput("discover", TC, "empty file", "zero bytes", _discover(lambda p: p.write_bytes(b"")), (TC,)),
    BadInput("discover", TC, "binary garbage", "bytes that are no text", _discover(lambda p: p.write_bytes(GARBAGE)),
             (TC,)),
    BadInput("discover", TC, "non-UTF-8 bytes", "a Latin-1 species name",
             _discover(lambda p: p.write_bytes(p.read_text().replace(",B", ",Bé", 1).encode("latin-1"))), (TC,)),
    BadInput("discover", TC, "wrong delimiter", "semicolons instead of commas", _discover(lambda p: resep(p, ",", ";")),
             (TC, "time column")),
    BadInput("discover", TC, "header only (no rows)", "the header and no time point",
             _discover(lambda p: keep_lines(p, 1)), (TC,)),
    BadInput("discover", TC, "missing column or field", "no time column 't'",
             _discover(lambda p: replace_text(p, "t,A,B", "time,A,B")), (TC, "'t'")),
    BadInput("discover", TC, "missing column or field", "a time column and no species",
             _discover(lambda p: [drop_column(p, c, sep=",") for c in ("A", "B")]), (TC, "species")),
    BadInput("discover", TC, "non-numeric value", "A = 'abc'", _discover(_tc_cell(5, "A", "abc")),
             (TC, "line 5", "'A'", "abc")),
    BadInput("discover", TC, "NaN or infinite value", "B = nan", _discover(_tc_cell(6, "B", "nan")), (TC, "line 6", "'B'")),
    BadInput("discover", TC, "NaN or infinite value", "t = inf", _discover(_tc_cell(7, "t", "inf")), (TC, "line 7", "'t'")),
    BadInput("discover", TC, "duplicated id", "a time point twice", _discover(_tc_cell(4, "t", "0.5")),
             (TC, "line 4", "'t'")),
    BadInput("discover", TC, "header only (no rows)", "four time points: too few", _discover(lambda p: keep_lines(p, 5)),
             (TC, "at least 5")),
    BadInput("discover", TC, "unknown id referenced", "a species name that is no identifier",
             _discover(lambda p: replace_text(p, "t,A,B", "t,1A,B")), (TC, "1A")),
    BadInput("discover", "--time-col", "unknown id referenced", "a time column the file lacks",
             _discover(None, "--time-col", "hours"), (TC, "hours")),
    BadInput("discover", "--knowledge", "missing file", "the edge list does not exist",
             _discover(None, "--knowledge", lambda io: io.path("none.tsv")), ("none.tsv", "no such file")),
    BadInput("discover", "--knowledge", "binary garbage", "bytes that are no text",
             _discover(None, "--knowledge", _edges("edges.tsv", GARBAGE)), ("edges.tsv",)),
    BadInput("discover", "--knowledge", "missing column or field", "no 'target' column",
             _discover(None, "--knowledge", _edges("edges.tsv", "source\tto\nA\tB\n")), ("edges.tsv", "target")),
    BadInput("discover", "--knowledge", "value out of range", "confidence 1.5",
             _discover(None, "--knowledge", _edges("edges.tsv", "source\ttarget\tconfidence\nA\tB\t1.5\n")),
             ("edges.tsv", "line 2", "confidence")),
    BadInput("discover", "--knowledge", "non-numeric value", "a .sif line without a sign",
             _discover(None, "--knowledge", _edges("edges.sif", "A B\n")), ("edges.sif", "line 1")),
    BadInput("discover", "--knowledge", "unknown id referenced", "no edge names an observed species",
             _discover(None, "--knowledge", _edges("edges.tsv", "source\ttarget\nX\tY\n")), ("edges.tsv",)),
    BadInput("discover", "--library", "bad option value", "an unknown library", _discover(None, "--library", "magic"),
             ("--library", "magic")),
    BadInput("discover", "--derivative", "bad option value", "an unknown derivative",
             _discover(None, "--derivative", "magic"), ("--derivative", "magic")),
    BadInput("discover", "--optimizer", "bad option value", "an unknown optimizer", _discover(None, "--optimizer", "magic"),
             ("--optimizer", "magic")),
    BadInput("discover", "--degree", "bad option value", "--degree 0", _discover(None, "--library", "polynomial",
                                                                                 "--degree", 0),
             ("--degree",)),
    BadInput("discover", "--n-models", "bad option value", "--n-models 0", _discover(None, "--n-models", 0),
             ("--n-models",)),
    BadInput("discover", "--threshold", "bad option value", "--threshold -1", _discover(None, "--threshold", -1),
             ("--threshold",)),
    BadInput("discover", "--out", "output path problem", "the parent is a regular file",
             _discover(None, "--out", lambda io: _under_a_file(io, "model.json")), ("--out", "plain_file")),
    BadInput("discover", "--out", "output path problem", "--out is a folder",
             _discover(None, "--out", lambda io: _folder(io, "models")), ("--out",)),
]


# --- screen fit: an AnnData screen --------------------------------------------------------------

H5AD = "screen.h5ad"


def _screen(make: Callable[[Inputs], Path] | None = None, *options) -> Callable[[Inputs], list]:
    def build(io: Inputs) -> list:
        data = make(io) if make is not None else io.screen()
        return [data, "--out", io.path("screen_out"), "--steps", 1, "--genes", 8, "--top-de", 5, "--batch-key", "gem",
                *(o(io) if callable(o) else o for o in options)]
    return build


def _no_genes(io: Inputs) -> Path:
    from celltwin.perturb._anndata import _anndata

    adata = _anndata().read_h5ad(io.screen())
    path = io.path("nogenes.h5ad")
    adata[:, []].copy().write_h5ad(path)
    return path


SCREEN = [
    BadInput("screen fit", H5AD, "missing file", "the file does not exist", _screen(lambda io: io.path("none.h5ad")),
             ("none.h5ad", "no such file")),
    BadInput("screen fit", H5AD, "empty file", "zero bytes", _screen(lambda io: _write(io, "empty.h5ad", b"")),
             ("empty.h5ad",)),
    BadInput("screen fit", H5AD, "binary garbage", "bytes that are no HDF5", _screen(lambda io: _write(io, "bad.h5ad", GARBAGE)),
             ("bad.h5ad", "AnnData")),
    BadInput("screen fit", H5AD, "wrong kind of file", "a CSV named .h5ad",
             _screen(lambda io: _write(io, "cells.h5ad", "cell,gene\n1,2\n")), ("cells.h5ad", "AnnData")),
    BadInput("screen fit", H5AD, "missing column or field", "an AnnData with no genes", _screen(_no_genes),
             ("nogenes.h5ad", "genes")),
    BadInput("screen fit", "--perturbation-key", "unknown id referenced", "an obs column the file lacks",
             _screen(None, "--perturbation-key", "guide"), (H5AD, "guide")),
    BadInput("screen fit", "--control", "unknown id referenced", "a control label no cell has",
             _screen(None, "--control", "ctrl"), (H5AD, "ctrl")),
    BadInput("screen fit", "--where", "bad option value", "--where without '='", _screen(None, "--where", "cell_type"),
             ("--where", "cell_type")),
    BadInput("screen fit", "--where", "unknown id referenced", "a value no cell has",
             _screen(None, "--where", "cell_type=liver"), (H5AD, "liver")),
    BadInput("screen fit", "--batch-key", "unknown id referenced", "an obs column the file lacks",
             _screen(None, "--batch-key", "plate"), (H5AD, "plate")),
    BadInput("screen fit", "--time-key", "non-numeric value", "a time column of text",
             _screen(None, "--time-key", "cell_type"), (H5AD, "cell_type")),
    BadInput("screen fit", "--holdout", "bad option value", "--holdout singles", _screen(None, "--holdout", "singles"),
             ("--holdout", "singles")),
    BadInput("screen fit", "--holdout", "bad option value", "--holdout cell-type on a screen of one cell type",
             _screen(None, "--holdout", "cell-type"), (H5AD, "shared by two cell types")),
    BadInput("screen fit", "--medium-key", "bad option value", "--medium-key with --holdout cell-type",
             _screen(None, "--holdout", "cell-type", "--medium-key", "cell_type"), ("--medium-key",)),
    BadInput("screen fit", "--steady-state-weight", "bad option value", "a negative weight",
             _screen(None, "--steady-state-weight", -1), ("--steady-state-weight",)),
    BadInput("screen fit", "--likelihood", "bad option value", "--likelihood poisson",
             _screen(None, "--likelihood", "poisson"), ("poisson",)),
    BadInput("screen fit", "--genes", "bad option value", "--genes 1", _screen(None, "--genes", 1), ("--genes",)),
    BadInput("screen fit", "--steps", "bad option value", "--steps 0", _screen(None, "--steps", 0), ("--steps",)),
    BadInput("screen fit", "--out", "output path problem", "--out is a regular file",
             _screen(None, "--out", lambda io: io.file_in_the_way()), ("--out", "plain_file")),
]


# --- bench: run, report, tasks --------------------------------------------------------------------

STORE = "results.duckdb"


def _bench_run(*options) -> Callable[[Inputs], list]:
    # a cheap cell grid (training mean on one task, in this process) should a defect slip through
    return lambda io: ["--suite", "quick", "--tasks", "kinase", "--methods", "training_mean", "--scheduler", "serial",
                       "--out", io.path(STORE), *(o(io) if callable(o) else o for o in options)]


def _not_a_store(io: Inputs) -> Path:
    return io.duckdb("other.duckdb", ["CREATE TABLE results (suite VARCHAR)"])


def _no_results_table(io: Inputs) -> Path:
    return io.duckdb("other.duckdb", ["CREATE TABLE measurements (x DOUBLE)"])


def _empty_store(io: Inputs) -> Path:
    from celltwin.bench import ResultStore

    path = io.path("empty.duckdb")
    ResultStore(path).create()
    return path


BENCH_RUN = [
    BadInput("bench run", "--suite", "bad option value", "an unknown suite", _bench_run("--suite", "huge"), ("huge",)),
    BadInput("bench run", "--methods", "unknown id referenced", "an unknown method", _bench_run("--methods", "magic"),
             ("magic",)),
    BadInput("bench run", "--tasks", "bad option value", "a pattern that is no regular expression",
             _bench_run("--tasks", "("), ("--tasks",)),
    BadInput("bench run", "--tasks", "unknown id referenced", "a pattern no task matches",
             _bench_run("--tasks", "nomatch"), ("--tasks", "nomatch")),
    BadInput("bench run", "--workers", "bad option value", "--workers 0", _bench_run("--workers", 0), ("--workers",)),
    BadInput("bench run", "--seeds", "bad option value", "--seeds 0", _bench_run("--seeds", 0), ("--seeds",)),
    BadInput("bench run", "--scheduler", "bad option value", "an address that is no tcp://HOST:PORT",
             _bench_run("--scheduler", "nowhere:1"), ("nowhere:1",)),
    BadInput("bench run", "--out", "binary garbage", "a store that is no DuckDB file",
             _bench_run("--out", lambda io: _write(io, "bad.duckdb", GARBAGE)), ("bad.duckdb", "DuckDB")),
    BadInput("bench run", "--out", "wrong kind of file", "a CSV file as the store",
             _bench_run("--out", lambda io: _write(io, "results.csv", "a,b\n1,2\n")), ("results.csv", "DuckDB")),
    BadInput("bench run", "--out", "missing column or field", "a DuckDB table 'results' of another layout",
             _bench_run("--out", _not_a_store), ("other.duckdb", "column")),
    BadInput("bench run", "--out", "output path problem", "the parent is a regular file",
             _bench_run("--out", lambda io: _under_a_file(io, STORE)), ("--out", "plain_file")),
    BadInput("bench run", "--out", "output path problem", "--out is a folder",
             _bench_run("--out", lambda io: _folder(io, "store")), ("--out",)),
]


def _bench_report(store: Callable[[Inputs], Path], out: Callable[[Inputs], Path] | None = None):
    return lambda io: [store(io), "--out", out(io) if out is not None else io.path("board.html")]


BENCH_REPORT = [
    BadInput("bench report", STORE, "missing file", "the store does not exist",
             _bench_report(lambda io: io.path("none.duckdb")), ("none.duckdb", "not found")),
    BadInput("bench report", STORE, "empty file", "zero bytes", _bench_report(lambda io: _write(io, "zero.duckdb", b"")),
             ("zero.duckdb",)),
    BadInput("bench report", STORE, "binary garbage", "bytes that are no DuckDB file",
             _bench_report(lambda io: _write(io, "bad.duckdb", GARBAGE)), ("bad.duckdb", "DuckDB")),
    BadInput("bench report", STORE, "wrong kind of file", "a CSV file as the store",
             _bench_report(lambda io: _write(io, "results.csv", "a,b\n1,2\n")), ("results.csv", "DuckDB")),
    BadInput("bench report", STORE, "missing column or field", "a DuckDB file without a 'results' table",
             _bench_report(_no_results_table), ("other.duckdb", "results")),
    BadInput("bench report", STORE, "missing column or field", "a 'results' table of another layout",
             _bench_report(_not_a_store), ("other.duckdb", "column")),
    BadInput("bench report", STORE, "header only (no rows)", "a store with no rows", _bench_report(_empty_store),
             ("empty.duckdb", "no rows")),
    BadInput("bench report", "--out", "output path problem", "the parent is a regular file",
             _bench_report(lambda io: io.store(), lambda io: _under_a_file(io, "board.html")), ("--out", "plain_file")),
    BadInput("bench report", "--out", "output path problem", "--out is a folder",
             _bench_report(lambda io: io.store(), lambda io: _folder(io, "board")), ("--out", "folder")),
]

BENCH_TASKS = [
    BadInput("bench tasks", "argument", "bad option value", "an argument it does not take", lambda io: ["extra"],
             ("extra",)),
    BadInput("bench tasks", "--suite", "bad option value", "an option it does not take", lambda io: ["--suite", "quick"],
             ("--suite",)),
]


# --- hybrid: a PEtab SciML problem ----------------------------------------------------------------

SCIML_YAML = "problem.yaml"


def _hybrid(edit: Callable[[Path], None] | None = None, *options) -> Callable[[Inputs], list]:
    """``hybrid problem.yaml`` after ``edit(problem folder)``; one epoch, no baseline."""
    def build(io: Inputs) -> list:
        problem = io.sciml_problem()
        if edit is not None:
            edit(problem.parent)
        return [problem, "--out", io.path("hybrid_out"), "--epochs", 1, "--no-baseline",
                *(o(io) if callable(o) else o for o in options)]
    return build


def _sciml(name: str, kind: str, defect: str, edit: Callable[[Path], None], words: tuple[str, ...],
           pending: str | None = None) -> BadInput:
    return BadInput("hybrid", name, kind, defect, _hybrid(edit), words, pending=pending)


HYB, NET, ARRAYS, MAP = "hybridization.tsv", "net1.yaml", "net1_ps.hdf5", "mapping.tsv"

HYBRID = [
    _sciml(SCIML_YAML, "missing file", "the problem file does not exist", _remove(SCIML_YAML), (SCIML_YAML,)),
    _sciml(SCIML_YAML, "empty file", "zero bytes", _bytes(SCIML_YAML, b""), (SCIML_YAML,)),
    _sciml(SCIML_YAML, "binary garbage", "bytes that are no text", _bytes(SCIML_YAML, GARBAGE), (SCIML_YAML,)),
    _sciml(SCIML_YAML, "non-UTF-8 bytes", "a Latin-1 comment", _prepend_bytes(SCIML_YAML, LATIN1), (SCIML_YAML,)),
    _sciml(SCIML_YAML, "YAML syntax error", "an unclosed quote", _replace(SCIML_YAML, '"lv.xml"', '"lv.xml'),
           (SCIML_YAML,)),
    _sciml(SCIML_YAML, "YAML of the wrong type", "a list instead of a mapping", _text(SCIML_YAML, "- lv.xml\n"),
           (SCIML_YAML, "mapping")),
    _sciml(SCIML_YAML, "wrong format_version", "format_version 1 (a PEtab v1 problem)",
           _replace(SCIML_YAML, 'format_version: "2.0.0"', "format_version: 1"), (SCIML_YAML, "format_version")),
    _sciml(SCIML_YAML, "missing column or field", "no extensions.sciml section",
           lambda f: replace_text(f / SCIML_YAML, "extensions:\n  sciml:", "unused:\n  sciml:"), (SCIML_YAML, "sciml")),
    _sciml(SCIML_YAML, "YAML of the wrong type", "neural_networks is a list",
           _replace(SCIML_YAML, "      net1:\n", "      - net1:\n"), (SCIML_YAML, "neural_networks")),
    _sciml("lv.xml", "missing referenced file", "the model file does not exist", _remove("lv.xml"), ("lv.xml",)),
    _sciml("lv.xml", "binary garbage", "bytes that are no XML", _bytes("lv.xml", GARBAGE), ("lv.xml",)),
    _sciml(NET, "missing referenced file", "the network file does not exist", _remove(NET), (NET,)),
    _sciml(NET, "binary garbage", "bytes that are no text", _bytes(NET, GARBAGE), (NET,)),
    _sciml(NET, "YAML of the wrong type", "a list instead of a mapping", _text(NET, "- layer1\n"), (NET,)),
    _sciml(NET, "unknown id referenced", "an unsupported layer type", _replace(NET, "layer_type: Linear", "layer_type: GRU"),
           (NET, "GRU")),
    _sciml(NET, "non-numeric value", "in_features 'two'", _replace(NET, "in_features: 2", "in_features: two"),
           (NET, "in_features")),
    _sciml(ARRAYS, "missing referenced file", "the array file does not exist", _remove(ARRAYS), (ARRAYS,)),
    _sciml(ARRAYS, "binary garbage", "bytes that are no HDF5", _bytes(ARRAYS, GARBAGE), (ARRAYS,)),
    _sciml(HYB, "code injection in formula", "an attribute chain in targetValue",
           _cell(HYB, 4, "targetValue", "net1_output1.__class__.__base__.__subclasses__()"),
           (HYB, "row 4", "targetValue")),
    _sciml(HYB, "unknown function in formula", "foo(prey) in targetValue", _cell(HYB, 2, "targetValue", "foo(prey)"),
           (HYB, "row 2", "targetValue", "foo")),
    _sciml(HYB, "formula syntax error", "'prey +* 2' in targetValue", _cell(HYB, 2, "targetValue", "prey +* 2"),
           (HYB, "row 2", "targetValue")),
    _sciml(HYB, "unknown id referenced", "a targetId that is nothing", _cell(HYB, 4, "targetId", "nobody"),
           (HYB, "nobody")),
    _sciml(HYB, "missing column or field", "no 'targetValue' column", _drop(HYB, "targetValue"), (HYB, "targetValue")),
    _sciml(MAP, "unknown id referenced", "a network input that does not exist",
           _cell(MAP, 2, "modelEntityId", "net1.inputs[0][7]"), (MAP, "row 2", "net1")),
    _sciml(MAP, "unknown id referenced", "a network that does not exist", _cell(MAP, 5, "modelEntityId", "net2.parameters"),
           (MAP, "net2")),
    _sciml(MAP, "missing column or field", "no 'modelEntityId' column", _drop(MAP, "modelEntityId"),
           (MAP, "modelEntityId")),
    _sciml("measurements.tsv", "non-numeric value", "measurement 'abc'", _cell("measurements.tsv", 4, "measurement", "abc"),
           ("measurements.tsv", "row 4", "measurement")),
    _sciml("measurements.tsv", "NaN or infinite value", "measurement inf", _cell("measurements.tsv", 4, "measurement", "inf"),
           ("measurements.tsv", "row 4", "measurement")),
    _sciml("measurements.tsv", "unknown id referenced", "an observableId the observable table lacks",
           _cell("measurements.tsv", 3, "observableId", "wolf_o"), ("measurements.tsv", "wolf_o")),
    _sciml("measurements.tsv", "unknown id referenced", "an experimentId the experiment table lacks",
           _cell("measurements.tsv", 3, "experimentId", "e9"), ("measurements.tsv", "e9")),
    _sciml("observables.tsv", "code injection in formula", "__import__ in observableFormula",
           _cell("observables.tsv", 2, "observableFormula", "__import__('os').getcwd()"),
           ("observables.tsv", "row 2", "observableFormula")),
    _sciml("observables.tsv", "value out of range", "a negative noise level",
           _cell("observables.tsv", 2, "noiseFormula", "-0.05"), ("observables.tsv", "row 2", "noiseFormula")),
    _sciml("parameters.tsv", "non-numeric value", "nominalValue 'abc'", _cell("parameters.tsv", 2, "nominalValue", "abc"),
           ("parameters.tsv", "row 2", "nominalValue")),
    _sciml("parameters.tsv", "duplicated id", "parameterId alpha twice", _copy_line("parameters.tsv", 2),
           ("parameters.tsv", "alpha")),
    _sciml("experiments.tsv", "missing referenced file", "the experiment table does not exist",
           _remove("experiments.tsv"), ("experiments.tsv",)),
    BadInput("hybrid", "--split", "bad option value", "--split weekly", _hybrid(None, "--split", "weekly"),
             ("--split", "weekly")),
    BadInput("hybrid", "--continuity", "value out of range", "--continuity 0 10",
             _hybrid(None, "--shooting-segments", 2, "--continuity", 0, 10), ("--continuity",)),
    BadInput("hybrid", "--epochs", "bad option value", "--epochs 0", _hybrid(None, "--epochs", 0), ("--epochs",)),
    BadInput("hybrid", "--learning-rate", "bad option value", "--learning-rate -1", _hybrid(None, "--learning-rate", -1),
             ("--learning-rate",)),
    BadInput("hybrid", "--validation", "inconsistent inputs", "--validation 0.6 with --test 0.6",
             _hybrid(None, "--validation", 0.6, "--test", 0.6), ("--validation", "--test")),
    BadInput("hybrid", "--out", "output path problem", "--out is a regular file",
             _hybrid(None, "--out", lambda io: io.file_in_the_way()), ("--out", "plain_file")),
]


# --- affinity predict: a structure of a complex -------------------------------------------------

PDB, CIF = "complex.pdb", "complex.cif"
ALA2_CA = ("   3.300   0.000   0.000", " 3.300 0.000 0.000 ")  # chain A's second CA in PDB and mmCIF


def _affinity(edit: Callable[[Path], None] | None = None, *options, suffix: str = ".pdb") -> Callable[[Inputs], list]:
    """``affinity predict complex.pdb --chains A:B`` after ``edit(structure file)``."""
    def build(io: Inputs) -> list:
        path = io.structure(suffix)
        if edit is not None:
            edit(path)
        return [path, "--chains", "A:B", *(o(io) if callable(o) else o for o in options)]
    return build


def _cif(edit: Callable[[Path], None] | None = None, *options) -> Callable[[Inputs], list]:
    return _affinity(edit, *options, suffix=".cif")


def _as(name: str, content: Callable[[Inputs], str | bytes]) -> Callable[[Inputs], list]:
    """A file ``name`` with ``content`` given as the structure."""
    return lambda io: [_write(io, name, content(io)), "--chains", "A:B"]


def _residues(chain: str, resname: str) -> Callable[[Path], None]:
    """Rename every residue of ``chain`` in a PDB file."""
    def edit(path: Path) -> None:
        lines = [f"{line[:17]}{resname:>3}{line[20:]}" if line.startswith("ATOM") and line[21] == chain else line
                 for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return edit


def _moved(chain: str, dx: float) -> Callable[[Path], None]:
    """Move ``chain`` of a PDB file by ``dx`` A along x."""
    def edit(path: Path) -> None:
        lines = [f"{line[:30]}{float(line[30:38]) + dx:8.3f}{line[38:]}"
                 if line.startswith(("ATOM", "HETATM")) and line[21] == chain
                 else line for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return edit


LIG_PDB, LIG_CIF = "ligand.pdb", "ligand.cif"


def _ligand(edit: Callable[[Path], None] | None = None, *options, suffix: str = ".pdb") -> Callable[[Inputs], list]:
    """``affinity predict ligand.pdb --chains A --ligand L:LIG`` after ``edit(structure file)``;
    ``options`` come after and override."""
    def build(io: Inputs) -> list:
        path = io.ligand_complex(suffix)
        if edit is not None:
            edit(path)
        return [path, "--chains", "A", "--ligand", "L:LIG", *options]
    return build


def _second_ligand(path: Path) -> None:
    """A second copy of LIG in chain L (residue 2), as in a structure with two bound copies."""
    lines = path.read_text(encoding="utf-8").splitlines()
    copies = [f"{line[:22]}   2{line[26:]}" for line in lines if line.startswith("HETATM")]
    path.write_text("\n".join([*lines[:-1], *copies, lines[-1]]) + "\n", encoding="utf-8")


def _table(content: str | bytes) -> Callable[[Inputs], list]:
    """``--out`` an existing affinity table with ``content``, ``--reaction bind``."""
    return _affinity(None, "--reaction", "bind", "--out", lambda io: _write(io, "evidence.tsv", content))


def _sbml(io: Inputs) -> str:
    return (io.petab() / "model.xml").read_text(encoding="utf-8")


def _measurements(io: Inputs) -> str:
    return (io.petab() / "measurements.tsv").read_text(encoding="utf-8")


AFFINITY = [
    BadInput("affinity predict", PDB, "missing file", "the structure does not exist", _affinity(lambda p: p.unlink()),
             (PDB, "no such structure file")),
    BadInput("affinity predict", PDB, "empty file", "zero bytes", _affinity(lambda p: p.write_bytes(b"")), (PDB, "empty")),
    BadInput("affinity predict", CIF, "empty file", "zero bytes", _cif(lambda p: p.write_bytes(b"")), (CIF, "empty")),
    BadInput("affinity predict", PDB, "binary garbage", "bytes that are no text", _affinity(lambda p: p.write_bytes(GARBAGE)),
             (PDB,)),
    BadInput("affinity predict", CIF, "binary garbage", "bytes that are no text", _cif(lambda p: p.write_bytes(GARBAGE)),
             (CIF,)),
    BadInput("affinity predict", PDB, "non-UTF-8 bytes", "a Latin-1 REMARK",
             _affinity(lambda p: p.write_bytes("REMARK   1 modèle\n".encode("latin-1") + p.read_bytes())),
             (PDB, "line 1", "UTF-8")),
    BadInput("affinity predict", PDB, "header only (no rows)", "a HEADER and no ATOM record",
             _affinity(lambda p: keep_lines(p, 1)), (PDB, "no atoms")),
    BadInput("affinity predict", CIF, "header only (no rows)", "the atom_site loop without rows",
             _cif(lambda p: p.write_text("\n".join(p.read_text().splitlines()[:3 + len(MMCIF_COLUMNS)]) + "\n")),
             (CIF, "no atoms")),
    BadInput("affinity predict", PDB, "missing column or field", "an ATOM record cut before its coordinates",
             _affinity(lambda p: replace_text(p, ALA2_CA[0], "")), (PDB, "line 8", "coordinate")),
    BadInput("affinity predict", CIF, "missing column or field", "no _atom_site.Cartn_z column",
             _cif(lambda p: replace_text(p, "_atom_site.Cartn_z", "_atom_site.Cartn_w")), (CIF, "Cartn_z")),
    BadInput("affinity predict", CIF, "missing column or field", "a row of the atom_site loop one value short",
             _cif(lambda p: replace_text(p, ALA2_CA[1], " 3.300 0.000 ")), (CIF, "_atom_site loop", "a value too few")),
    BadInput("affinity predict", PDB, "non-numeric value", "an x coordinate 'abc'",
             _affinity(lambda p: replace_text(p, ALA2_CA[0], "     abc   0.000   0.000")), (PDB, "line 8", "coordinate")),
    BadInput("affinity predict", CIF, "non-numeric value", "a Cartn_x 'abc'",
             _cif(lambda p: replace_text(p, ALA2_CA[1], " abc 0.000 0.000 ")), (CIF, "abc")),
    BadInput("affinity predict", PDB, "NaN or infinite value", "an x coordinate nan",
             _affinity(lambda p: replace_text(p, ALA2_CA[0], "     nan   0.000   0.000")), (PDB, "coordinate")),
    BadInput("affinity predict", CIF, "NaN or infinite value", "a Cartn_y inf",
             _cif(lambda p: replace_text(p, ALA2_CA[1], " 3.300 inf 0.000 ")), (CIF, "coordinate")),
    BadInput("affinity predict", PDB, "wrong kind of file", "a TSV table given as the structure",
             _as("measurements.tsv", _measurements), ("measurements.tsv", "PDB", "mmCIF")),
    BadInput("affinity predict", PDB, "wrong kind of file", "an SBML model saved as .pdb", _as(PDB, _sbml),
             (PDB, "no atoms")),
    BadInput("affinity predict", CIF, "wrong kind of file", "an SBML model saved as .cif", _as(CIF, _sbml), (CIF,)),
    BadInput("affinity predict", CIF, "wrong kind of file", "a TSV table saved as .cif", _as(CIF, _measurements), (CIF,)),
    BadInput("affinity predict", PDB, "wrong kind of file", "chain B is DNA, not a protein",
             _affinity(_residues("B", "DA")), (PDB, "chain B", "amino-acid")),
    BadInput("affinity predict", PDB, "unknown id referenced", "a non-standard residue (MSE) in chain B",
             _affinity(_residues("B", "MSE")), (PDB, "MSE")),
    BadInput("affinity predict", "--chains", "unknown id referenced", "a chain the structure lacks",
             _affinity(None, "--chains", "A:C"), (PDB, "no chain C", "--chains")),
    BadInput("affinity predict", "--chains", "unknown id referenced", "a chain the mmCIF lacks",
             _cif(None, "--chains", "A:C"), (CIF, "no chain C", "--chains")),
    BadInput("affinity predict", "--chains", "inconsistent inputs", "chains 200 A apart: no interface",
             _affinity(_moved("B", 200.0)), (PDB, "no interface", "--chains")),
    BadInput("affinity predict", "--chains", "bad option value", "--chains A (one side)", _affinity(None, "--chains", "A"),
             ("--chains", "A:B")),
    BadInput("affinity predict", "--chains", "bad option value", "--chains A:A (a chain on both sides)",
             _affinity(None, "--chains", "A:A"), ("--chains", "both sides")),
    BadInput("affinity predict", "--chains", "bad option value", "--chains A: (an empty side)",
             _affinity(None, "--chains", "A:"), ("--chains", "A:B")),
    BadInput("affinity predict", "--temperature", "bad option value", "--temperature -5",
             _affinity(None, "--temperature", -5), ("--temperature", "kelvin")),
    BadInput("affinity predict", "--temperature", "NaN or infinite value", "--temperature inf",
             _affinity(None, "--temperature", "inf"), ("--temperature", "kelvin")),
    BadInput("affinity predict", "--format", "bad option value", "--format xml", _affinity(None, "--format", "xml"),
             ("--format", "xml")),
    BadInput("affinity predict", "--out", "inconsistent inputs", "--out without --reaction",
             _affinity(None, "--out", lambda io: io.path("evidence.tsv")), ("--out", "--reaction")),
    BadInput("affinity predict", "--out", "bad option value", "--out with the suffix .json",
             _affinity(None, "--reaction", "bind", "--out", lambda io: io.path("evidence.json")), ("--out", ".tsv")),
    BadInput("affinity predict", "--out", "output path problem", "the parent folder does not exist",
             _affinity(None, "--reaction", "bind", "--out", lambda io: io.path("nowhere/evidence.tsv")),
             ("--out", "nowhere")),
    BadInput("affinity predict", "--out", "output path problem", "--out is a folder",
             _affinity(None, "--reaction", "bind", "--out", lambda io: _folder(io, "tables.tsv")), ("--out", "folder")),
    BadInput("affinity predict", "--out", "output path problem", "the parent is a regular file",
             _affinity(None, "--reaction", "bind", "--out", lambda io: _under_a_file(io, "evidence.tsv")),
             ("--out", "plain_file")),
    BadInput("affinity predict", "--out", "binary garbage", "an existing table of bytes that are no text",
             _table(GARBAGE), ("evidence.tsv", "UTF-8")),
    BadInput("affinity predict", "--out", "missing column or field", "an existing table without 'error_model'",
             _table("reaction\tvalue\tunit\nbind2\t-6\tlog10_M\n"), ("evidence.tsv", "error_model")),
    BadInput("affinity predict", "--out", "duplicated id", "an existing table with a row for the reaction",
             _table("reaction\tvalue\tunit\terror_model\n# a comment\nbind\t-6\tlog10_M\t\n"),
             ("evidence.tsv", "line 3", "bind")),
    # --ligand: a small molecule bound to a protein (PRODIGY-LIG)
    BadInput("affinity predict", "--ligand", "unknown id referenced", "a ligand residue its chain lacks",
             _ligand(None, "--ligand", "L:ATP"), (LIG_PDB, "no residue ATP in chain L", "L:LIG", "--ligand")),
    BadInput("affinity predict", "--ligand", "unknown id referenced", "a ligand residue the mmCIF lacks",
             _ligand(None, "--ligand", "L:ATP", suffix=".cif"), (LIG_CIF, "no residue ATP", "L:LIG")),
    BadInput("affinity predict", "--ligand", "unknown id referenced", "a ligand chain the structure lacks",
             _ligand(None, "--ligand", "Z:LIG"), (LIG_PDB, "no chain Z", "A, L", "L:LIG")),
    BadInput("affinity predict", "--chains", "unknown id referenced", "a protein chain the structure lacks",
             _ligand(None, "--chains", "C"), (LIG_PDB, "no chain C", "--chains")),
    BadInput("affinity predict", "--chains", "wrong kind of file", "--chains names the ligand's chain (no amino acids)",
             _ligand(None, "--chains", "L"), (LIG_PDB, "chain L", "amino-acid")),
    BadInput("affinity predict", "--ligand", "inconsistent inputs", "the ligand 200 A from the protein: no contact",
             _ligand(_moved("L", 200.0)), (LIG_PDB, "within 10.5 A", "L:LIG")),
    BadInput("affinity predict", "--ligand", "duplicated id", "two copies of the ligand in its chain",
             _ligand(_second_ligand), (LIG_PDB, "2 times", "residues 1, 2")),
    BadInput("affinity predict", "--ligand", "bad option value", "--ligand LIG (no chain)",
             _ligand(None, "--ligand", "LIG"), ("--ligand", "CHAIN:RESNAME")),
    BadInput("affinity predict", "--ligand", "bad option value", "--ligand l:lig (lower case)",
             _ligand(None, "--ligand", "l:lig"), ("--ligand", "upper case")),
    BadInput("affinity predict", "--chains", "bad option value", "--chains A:L (two sides) with --ligand",
             _ligand(None, "--chains", "A:L"), ("--chains", "protein chain")),
    BadInput("affinity predict", "--electrostatics", "inconsistent inputs", "--electrostatics without --ligand",
             _affinity(None, "--electrostatics", -40), ("--electrostatics", "--ligand")),
    BadInput("affinity predict", "--electrostatics", "NaN or infinite value", "--electrostatics nan",
             _ligand(None, "--electrostatics", "nan"), ("--electrostatics", "finite")),
    BadInput("affinity predict", LIG_PDB, "non-numeric value", "a HADDOCK 'REMARK energies' line without numbers",
             _ligand(lambda p: p.write_text("REMARK energies: a, b\n" + p.read_text(encoding="utf-8"),
                                            encoding="utf-8")), (LIG_PDB, "REMARK energies", "--electrostatics")),
]


CASES: list[BadInput] = [*petab_cases(), *CHECK, *SIMULATE, *FIT, *PROFILE, *SAMPLE, *REPORT, *SCENARIO, *DEMO, *QUICKSTART,
                         *DIAGNOSE, *DISCOVER, *SCREEN, *BENCH_RUN, *BENCH_REPORT, *BENCH_TASKS, *HYBRID,
                         *AFFINITY]
