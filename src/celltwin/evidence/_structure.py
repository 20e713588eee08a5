"""Binding affinity of a protein-protein complex from its structure (PDB or mmCIF): PRODIGY's
contact model (Vangone & Bonvin 2015), computed by the maintained ``prodigy-prot`` package.

PRODIGY counts interfacial residue contacts (any atoms within 5.5 A) by residue class
(charged / polar / apolar) and the composition of the non-interacting surface (relative
accessibility >= 5 %, by freesasa), and maps them to a binding free energy by a linear model
fitted on 81 complexes. The free energy does not depend on the temperature; the Kd does.

Here the structure is read and checked (chains present, protein chains, an interface) so that
bad input is a :class:`~celltwin.errors.CelltwinInputError` naming the file, before the package
computes the contacts and the prediction.
"""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

from .._textfile import read_text
from ..errors import CelltwinInputError

PDB_SUFFIXES = (".pdb", ".ent")
MMCIF_SUFFIXES = (".cif", ".mmcif")
CONTACT_CLASSES = ("CC", "CP", "AC", "PP", "AP", "AA")  # charged / polar / apolar residue pairs
CELSIUS_ZERO = 273.15
DISTANCE_CUTOFF = 5.5  # A: PRODIGY's contact definition (the model's coefficients assume it)
ACCESSIBILITY_THRESHOLD = 0.05  # relative SASA for the non-interacting surface, likewise


@dataclasses.dataclass(frozen=True)
class StructureAffinity:
    """PRODIGY's prediction for one interface of a structure.

    Attributes:
        structure: the file.
        chains: the two sides of the interface, each a tuple of chain ids.
        temperature: K, for the Kd.
        dg_kcal_per_mol: predicted binding free energy (negative: binding).
        kd_molar: predicted Kd at ``temperature`` (``exp(dG / RT)``, the package's value).
        n_contacts: interfacial residue-residue contacts.
        contacts: the contacts by residue-class pair (``CONTACT_CLASSES``).
        nis_apolar, nis_charged: percentages of apolar and charged residues on the
            non-interacting surface.
        predictor: name and version of the implementation.
    """

    structure: Path
    chains: tuple[tuple[str, ...], tuple[str, ...]]
    temperature: float
    dg_kcal_per_mol: float
    kd_molar: float
    n_contacts: int
    contacts: dict
    nis_apolar: float
    nis_charged: float
    predictor: str

    @property
    def log10_kd_molar(self) -> float:
        return math.log10(self.kd_molar)

    def summary(self, error_model) -> dict:
        """The prediction with the ``error_model``'s calibrated median and 50 % / 90 %
        intervals of the true log10 Kd (a :class:`~._error_models.PredictorErrorModel`).

        The error model was fitted on log10 Kd at its own temperature; PRODIGY's free energy
        does not depend on the temperature, so the prediction is taken to that temperature,
        calibrated there, and the interval brought back to ``self.temperature``.
        """
        to_model = self.temperature / error_model.temperature
        x = self.log10_kd_molar * to_model
        lo90, hi90 = (v / to_model for v in error_model.interval(x, 0.9))
        lo50, hi50 = (v / to_model for v in error_model.interval(x, 0.5))
        side = ["+".join(g) for g in self.chains]
        return {"structure": str(self.structure), "chains": ":".join(side), "temperature_k": self.temperature,
                "predictor": self.predictor, "dg_kcal_per_mol": self.dg_kcal_per_mol, "kd_molar": self.kd_molar,
                "log10_kd_molar": self.log10_kd_molar, "lower_log10_kd": lo90, "upper_log10_kd": hi90,
                "lower_50_log10_kd": lo50, "upper_50_log10_kd": hi50,
                "calibrated_log10_kd": error_model.median(x) / to_model, "n_contacts": self.n_contacts,
                "contacts": dict(self.contacts), "nis_apolar_percent": self.nis_apolar,
                "nis_charged_percent": self.nis_charged, "error_model": error_model.name,
                "error_model_pairs": error_model.calibration.n_pairs,
                "error_model_coverage_90": error_model.cross_validation.get("coverage_90")}


def parse_chains(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"A:B"`` -> ``(("A",), ("B",))``; ``"A,B:C"`` groups chains A and B into one side.

    Raises:
        CelltwinInputError: not two non-empty, disjoint sides.
    """
    sides = text.split(":")
    groups = tuple(tuple(c.strip() for c in side.split(",")) for side in sides)
    if len(groups) != 2 or any(not c for g in groups for c in g):
        raise CelltwinInputError(f"--chains {text!r}: expected two sides separated by ':' with chain ids, "
                                 "e.g. A:B (or A,B:C to treat chains A and B as one molecule)")
    repeated = set(groups[0]) & set(groups[1])
    if repeated:
        raise CelltwinInputError(f"--chains {text!r}: chain(s) {', '.join(sorted(repeated))} on both sides")
    return groups[0], groups[1]


def predict_structure_affinity(path, chains: str | tuple = "A:B", temperature: float = 298.15) -> StructureAffinity:
    """PRODIGY's binding free energy and Kd of the interface between ``chains`` in ``path``.

    Arguments:
        path: a PDB (``.pdb``, ``.ent``) or mmCIF (``.cif``, ``.mmcif``) file; the first model
            is used. Waters and hetero groups are dropped, as PRODIGY does.
        chains: ``"A:B"`` (see :func:`parse_chains`) or two tuples of chain ids.
        temperature: K, for the Kd.

    Raises:
        CelltwinInputError: unreadable file, a chain that is not in the structure or not a
            protein, a non-standard residue in a selected chain, no contact between the sides.
    """
    path = Path(path)
    left, right = parse_chains(chains) if isinstance(chains, str) else (tuple(chains[0]), tuple(chains[1]))
    if not (math.isfinite(temperature) and temperature > 0):
        raise CelltwinInputError(f"--temperature {temperature:g}: must be a finite number > 0 (kelvin)")
    parsers, prodigy, version = _prodigy()
    model = _first_model(path)
    _check_chains(path, model, left + right)
    selection = [",".join(left), ",".join(right)]
    try:
        parsers.validate_structure(model.parent, selection=selection)
    except ValueError as exc:  # non-standard amino acids: PRODIGY's classes do not cover them
        raise CelltwinInputError(f"{path}: {exc}; PRODIGY's contact classes cover the 20 standard amino acids "
                                 "(replace modified residues, e.g. MSE by MET, or remove them)") from None
    predictor = prodigy.Prodigy(model, name=path.stem, selection=selection, temp=temperature - CELSIUS_ZERO)
    try:
        predictor.predict(distance_cutoff=DISTANCE_CUTOFF, acc_threshold=ACCESSIBILITY_THRESHOLD)
    except ValueError as exc:
        if "No contacts" in str(exc):
            raise CelltwinInputError(f"{path}: no residue of chain(s) {'+'.join(left)} is within {DISTANCE_CUTOFF} A "
                                     f"of chain(s) {'+'.join(right)}: the structure has no interface between them "
                                     "(check --chains)") from None
        raise
    return StructureAffinity(structure=path, chains=(left, right), temperature=float(temperature),
                             dg_kcal_per_mol=float(predictor.ba_val), kd_molar=float(predictor.kd_val),
                             n_contacts=len(predictor.ic_network),
                             contacts={k: int(predictor.bins[k]) for k in CONTACT_CLASSES},
                             nis_apolar=float(predictor.nis_a), nis_charged=float(predictor.nis_c),
                             predictor=f"PRODIGY IC-NIS (prodigy-prot {version})")


def optional_modules(distribution: str, modules: tuple[str, ...], purpose: str) -> tuple:
    """The named modules of an installed package and its version, with a clear message (an
    input error naming the package to install) when it is missing."""
    import importlib
    from importlib.metadata import version

    try:
        return (*(importlib.import_module(m) for m in modules), version(distribution))
    except ImportError as exc:
        raise CelltwinInputError(f"{purpose} needs the {distribution} package (pip install {distribution}): "
                                 f"{exc}") from None


def _prodigy():
    """prodigy-prot's parsers and prodigy modules, and its version."""
    return optional_modules("prodigy-prot", ("prodigy_prot.modules.parsers", "prodigy_prot.modules.prodigy"),
                            "structure-based affinity prediction")


def _first_model(path: Path):
    """The first model of the structure, read by Biopython's PDB or mmCIF parser."""
    if not path.is_file():
        raise CelltwinInputError(f"{path}: no such structure file")
    suffix = path.suffix.lower()
    if suffix not in PDB_SUFFIXES + MMCIF_SUFFIXES:
        raise CelltwinInputError(f"{path}: unknown structure format {suffix!r}; give a PDB "
                                 f"({', '.join(PDB_SUFFIXES)}) or mmCIF ({', '.join(MMCIF_SUFFIXES)}) file")
    import warnings

    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.PDBExceptions import PDBConstructionException

    mmcif = suffix in MMCIF_SUFFIXES
    kind = "an mmCIF" if mmcif else "a PDB"
    parser = MMCIFParser(QUIET=True) if mmcif else PDBParser(QUIET=True)
    text = read_text(path, "structure file")
    if not text.strip():
        raise CelltwinInputError(f"{path}: the structure file is empty; give {kind} file with the complex's atoms")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = parser.get_structure(path.stem, io.StringIO(text))
    # Biopython's parsers raise these on junk (a missing mmCIF field is a KeyError)
    except (ValueError, KeyError, IndexError, TypeError, PDBConstructionException) as exc:
        problem = (_mmcif_loop_problem(text) if mmcif else None) or (
            f"no {exc.args[0]} field" if isinstance(exc, KeyError) else str(exc))
        raise CelltwinInputError(f"{path}: cannot read it as {kind} file: {problem}") from None
    models = list(structure)
    if not models or not any(True for _ in models[0].get_atoms()):
        raise CelltwinInputError(f"{path}: no atoms found; is it a PDB or mmCIF coordinate file?")
    for later in models[1:]:  # NMR ensembles: PRODIGY would predict each model; we take the first
        structure.detach_child(later.id)
    _check_coordinates(path, models[0])
    return models[0]


def _mmcif_loop_problem(text: str) -> str | None:
    """Why the atom_site loop of an mmCIF text that failed to parse is broken, if it is: a row
    with a value too few or too many shifts every later value into the wrong column."""
    from Bio.PDB.MMCIF2Dict import MMCIF2Dict

    try:
        fields = MMCIF2Dict(io.StringIO(text))
    except ValueError:
        return None
    lengths = [len(v) for k, v in fields.items() if k.startswith("_atom_site.")]
    if len(set(lengths)) < 2:
        return None
    return (f"the _atom_site loop has {sum(lengths)} values for {len(lengths)} columns, not a whole number of rows: "
            "a row has a value too few or too many (quote values that contain spaces)")


def _check_coordinates(path: Path, model) -> None:
    """Every atom has finite coordinates (the contact search and freesasa do not check)."""
    import numpy as np

    for atom in model.get_atoms():
        if not np.all(np.isfinite(atom.coord)):
            residue = atom.get_parent()
            raise CelltwinInputError(f"{path}: atom {atom.serial_number} ({atom.get_id()} of {residue.get_resname()} "
                                     f"{residue.id[1]}, chain {residue.get_parent().id}) has a coordinate that is "
                                     f"not a finite number ({', '.join(f'{v:g}' for v in atom.coord)}); "
                                     "fix or remove the atom")


def _check_chains(path: Path, model, wanted: tuple[str, ...]) -> None:
    """Every selected chain is present and holds amino acids."""
    from Bio.PDB.Polypeptide import is_aa

    present = [c.id for c in model]
    missing = [c for c in wanted if c not in present]
    if missing:
        raise CelltwinInputError(f"{path}: no chain {', '.join(missing)} in the structure (it has chains "
                                 f"{', '.join(present) or 'none'}); fix --chains")
    for chain in model:
        if chain.id in wanted and not any(is_aa(r, standard=False) for r in chain if r.id[0] == " "):
            kinds = sorted({r.get_resname().strip() for r in chain})[:5]
            raise CelltwinInputError(f"{path}: chain {chain.id} has no amino-acid residues (found "
                                     f"{', '.join(kinds) or 'nothing'}); PRODIGY predicts protein-protein "
                                     "interfaces only")
