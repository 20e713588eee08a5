"""Binding affinity of a small molecule to a protein from the complex's structure (PDB or
mmCIF): PRODIGY-LIG (Kurkcuoglu et al. 2018; Vangone et al. 2019), computed by the maintained
``prodigy-lig`` package.

PRODIGY-LIG counts the atom pairs between the ligand and the protein within 10.5 A by element
class (C, N, O and X for S, P and the halogens; hydrogens and metals are not counted) and maps
three of the counts (NN, XX, CN) to a binding free energy by a linear model. Its variant for
HADDOCK models adds the electrostatic energy of HADDOCK's water refinement. Neither depends on
the temperature; the Kd does.

Here the structure is read and checked (protein chains present and holding amino acids, the
ligand present once, a contact) so that bad input is a :class:`~celltwin.errors.CelltwinInputError`
naming the file, before the package counts the contacts and predicts.

No error model is known for PRODIGY-LIG here (no measured protein-ligand pairs with structures
in the shared data), so the prediction carries no calibrated interval.
"""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

from .._textfile import read_text
from ..errors import CelltwinInputError
from ..units import from_log10_molar, to_log10_molar
from ._structure import MMCIF_SUFFIXES, _first_model, optional_modules

LIGAND_CUTOFF = 10.5  # A: PRODIGY-LIG's contact distance (its coefficients assume it)
LIGAND_CONTACT_CLASSES = ("CC", "CN", "CO", "CX", "NN", "NO", "NX", "OO", "OX", "XX")
NO_INTERVAL_NOTE = ("PRODIGY-LIG has no calibrated error model in celltwin (no measured protein-ligand pairs with "
                    "structures to fit one): no interval is given; choose a spread yourself and say so")
WATER = ("HOH", "WAT", "DOD", "H2O")


@dataclasses.dataclass(frozen=True)
class LigandAffinity:
    """PRODIGY-LIG's prediction for one ligand of a structure.

    Attributes:
        structure: the file.
        chains: the protein chain ids.
        ligand: ``(chain id, residue name)`` of the ligand.
        temperature: K, for the Kd.
        dg_kcal_per_mol: predicted binding free energy (negative: binding): the contact
            model's, or with ``electrostatics`` the electrostatic variant's.
        contacts: ligand-protein atom pairs within ``LIGAND_CUTOFF`` by element class.
        electrostatics: HADDOCK's electrostatic energy (kcal/mol) used, or ``None``.
        electrostatics_source: ``"file"`` (its ``REMARK energies`` line), ``"option"`` or ``None``.
        haddock_score: PRODIGY-LIG's ranking score of HADDOCK models (with ``electrostatics``
            only; a score, not a free energy).
        predictor: name and version of the implementation.
    """

    structure: Path
    chains: tuple[str, ...]
    ligand: tuple[str, str]
    temperature: float
    dg_kcal_per_mol: float
    contacts: dict
    electrostatics: float | None
    electrostatics_source: str | None
    haddock_score: float | None
    predictor: str

    @property
    def log10_kd_molar(self) -> float:
        return float(to_log10_molar(self.dg_kcal_per_mol, "kcal/mol", self.temperature))

    @property
    def kd_molar(self) -> float:
        return float(from_log10_molar(self.log10_kd_molar, "M"))

    def summary(self) -> dict:
        """The prediction as one flat dict, with the keys of the protein-protein prediction's
        summary; the interval keys are ``None`` (no error model)."""
        model = "contacts + HADDOCK electrostatics" if self.electrostatics is not None else "contacts"
        return {"structure": str(self.structure), "chains": ",".join(self.chains), "ligand": ":".join(self.ligand),
                "temperature_k": self.temperature, "predictor": f"{self.predictor}, {model}",
                "dg_kcal_per_mol": self.dg_kcal_per_mol, "kd_molar": self.kd_molar,
                "log10_kd_molar": self.log10_kd_molar, "lower_log10_kd": None, "upper_log10_kd": None,
                "lower_50_log10_kd": None, "upper_50_log10_kd": None, "calibrated_log10_kd": None,
                "n_contacts": sum(self.contacts.values()), "contacts": dict(self.contacts),
                "distance_cutoff_a": LIGAND_CUTOFF, "electrostatics_kcal_per_mol": self.electrostatics,
                "electrostatics_source": self.electrostatics_source, "haddock_score": self.haddock_score,
                "error_model": None, "error_model_pairs": None, "error_model_coverage_90": None,
                "note": NO_INTERVAL_NOTE}


def parse_ligand(text: str) -> tuple[str, str]:
    """``"B:FRH"`` -> ``("B", "FRH")``: the ligand's chain and residue name.

    prodigy-lig upper-cases both and takes one-character chain ids and three-character
    residue names only; other forms are refused here rather than silently changed.

    Raises:
        CelltwinInputError: not CHAIN:RESNAME within those limits.
    """
    chain, sep, name = text.partition(":")
    if not sep or len(chain) != 1 or len(name) != 3 or not (chain + name).isalnum() or not (chain + name).isascii():
        raise CelltwinInputError(f"--ligand {text!r}: expected CHAIN:RESNAME with a one-character chain id and the "
                                 "ligand's three-character residue name, e.g. B:FRH (prodigy-lig takes no other "
                                 "form; rename the ligand's residue in the file if needed)")
    if chain != chain.upper() or name != name.upper():
        raise CelltwinInputError(f"--ligand {text!r}: prodigy-lig reads chain ids and residue names in upper case "
                                 "only; rename them in the file (e.g. with gemmi or a text editor)")
    return chain, name


def parse_protein_chains(text: str) -> tuple[str, ...]:
    """``"A"`` -> ``("A",)``, ``"A,B"`` -> ``("A", "B")``: the protein side of a ligand complex.

    Raises:
        CelltwinInputError: not comma-separated one-letter upper-case chain ids (prodigy-lig's
            limits), or a ``:`` (two sides belong to protein-protein complexes).
    """
    if ":" in text:
        raise CelltwinInputError(f"--chains {text!r}: with --ligand, name the protein chain(s) only, e.g. --chains A "
                                 "or A,B (the ligand is --ligand CHAIN:RESNAME)")
    chains = tuple(c.strip() for c in text.split(","))
    if not all(len(c) == 1 and c.isascii() and c.isalpha() and c == c.upper() for c in chains):
        raise CelltwinInputError(f"--chains {text!r}: prodigy-lig takes one-letter upper-case chain ids (A-Z) "
                                 "separated by commas, e.g. A or A,B")
    if len(set(chains)) != len(chains):
        raise CelltwinInputError(f"--chains {text!r}: a chain named twice")
    return chains


def predict_ligand_affinity(path, ligand: str | tuple[str, str], chains: str | tuple[str, ...] | None = None,
                            temperature: float = 298.15, electrostatics: float | None = None) -> LigandAffinity:
    """PRODIGY-LIG's binding free energy and Kd of ``ligand`` bound to the protein ``chains``.

    Arguments:
        path: a PDB (``.pdb``, ``.ent``) or mmCIF (``.cif``, ``.mmcif``) file; the first model
            is used, waters and other hetero groups are dropped (as prodigy-lig does).
        ligand: ``"B:FRH"`` (see :func:`parse_ligand`); the residue name must occur once in its
            chain. The chain may also be a protein chain (a ligand in the protein's chain).
        chains: the protein chain(s), ``"A"`` or ``"A,B"``; ``None``: every chain with amino acids.
        temperature: K, for the Kd.
        electrostatics: HADDOCK's electrostatic energy (kcal/mol) for the electrostatic
            variant; ``None``: the one on a PDB file's ``REMARK energies`` line if present
            (HADDOCK writes it), else the contact-only model.

    Raises:
        CelltwinInputError: unreadable file, a missing or non-protein chain, a ligand that is
            not in its chain or is there more than once, no contact within the cutoff.
    """
    path = Path(path)
    ligand = parse_ligand(ligand) if isinstance(ligand, str) else (ligand[0], ligand[1])
    if chains is not None:
        chains = parse_protein_chains(chains) if isinstance(chains, str) else tuple(chains)
    if not (math.isfinite(temperature) and temperature > 0):
        raise CelltwinInputError(f"--temperature {temperature:g}: must be a finite number > 0 (kelvin)")
    if electrostatics is not None and not math.isfinite(electrostatics):
        raise CelltwinInputError(f"--electrostatics {electrostatics:g}: must be a finite number (kcal/mol)")
    prodigy_lig, version = _prodigy_lig()
    model = _first_model(path)
    chains = _protein_chains(path, model, chains, ligand)
    _check_ligand(path, model, ligand)
    source = "option" if electrostatics is not None else None
    if electrostatics is None and path.suffix.lower() not in MMCIF_SUFFIXES:
        electrostatics = _file_electrostatics(path, prodigy_lig)
        source = "file" if electrostatics is not None else None
    predictor = prodigy_lig.ProdigyLig(model.parent, chains=[",".join(chains), ":".join(ligand)],
                                       electrostatics=electrostatics, cutoff=LIGAND_CUTOFF)
    try:
        predictor.predict()
        contacts = predictor.contact_counts
    except RuntimeWarning:  # prodigy-lig's "no contacts" (it raises a warning class)
        contacts = {}
    if not sum(contacts.values()):
        raise CelltwinInputError(f"{path}: no atom of chain(s) {'+'.join(chains)} is within {LIGAND_CUTOFF} A of "
                                 f"ligand {':'.join(ligand)}: it is not bound in this structure (check --ligand and "
                                 "--chains)")
    dg = predictor.dg_elec if electrostatics is not None else predictor.dg
    return LigandAffinity(structure=path, chains=chains, ligand=ligand, temperature=float(temperature),
                          dg_kcal_per_mol=float(dg), contacts={k: int(contacts[k]) for k in LIGAND_CONTACT_CLASSES},
                          electrostatics=None if electrostatics is None else float(electrostatics),
                          electrostatics_source=source,
                          haddock_score=None if predictor.dg_score is None else float(predictor.dg_score),
                          predictor=f"PRODIGY-LIG (prodigy-lig {version})")


def _prodigy_lig():
    """prodigy-lig's module and its version."""
    return optional_modules("prodigy-lig", ("prodigy_lig.prodigy_lig",), "small-molecule affinity prediction")


def _is_amino_acid(residue) -> bool:
    from Bio.PDB.Polypeptide import is_aa

    return is_aa(residue, standard=False)


def _hetero_groups(model) -> list[str]:
    """``CHAIN:RESNAME`` of every residue that is neither an amino acid nor water, in file order."""
    groups = []
    for chain in model:
        for residue in chain:
            name = residue.get_resname().strip()
            label = f"{chain.id}:{name}"
            if name not in WATER and residue.id[0] != "W" and not _is_amino_acid(residue) and label not in groups:
                groups.append(label)
    return groups


def _protein_chains(path: Path, model, chains: tuple[str, ...] | None, ligand) -> tuple[str, ...]:
    """The protein chains, present and holding amino acids (all such chains when ``None``)."""
    present = [c.id for c in model]
    with_amino_acids = [c.id for c in model if any(_is_amino_acid(r) for r in c)]
    if chains is None:
        if not with_amino_acids:
            raise CelltwinInputError(f"{path}: no chain holds amino acids (chains {', '.join(present) or 'none'}); "
                                     "PRODIGY-LIG predicts the binding of a ligand to a protein")
        return parse_protein_chains(",".join(with_amino_acids))
    missing = [c for c in chains if c not in present]
    if missing:
        raise CelltwinInputError(f"{path}: no chain {', '.join(missing)} in the structure (it has chains "
                                 f"{', '.join(present) or 'none'}); fix --chains")
    for chain in chains:
        if chain not in with_amino_acids:
            kinds = sorted({r.get_resname().strip() for r in model[chain]})[:5]
            raise CelltwinInputError(f"{path}: chain {chain} has no amino-acid residues (found "
                                     f"{', '.join(kinds) or 'nothing'}); --chains names the protein chain(s) "
                                     f"the ligand {':'.join(ligand)} binds")
    return chains


def _check_ligand(path: Path, model, ligand: tuple[str, str]) -> None:
    """The ligand's chain is present and holds the residue exactly once."""
    chain_id, name = ligand
    present = [c.id for c in model]
    others = _hetero_groups(model)
    listing = (f"hetero groups in the structure: {', '.join(others)}" if others
               else "the structure has no hetero groups besides water")
    if chain_id not in present:
        raise CelltwinInputError(f"{path}: no chain {chain_id} for --ligand {chain_id}:{name} (it has chains "
                                 f"{', '.join(present)}; {listing})")
    copies = [r for r in model[chain_id] if r.get_resname().strip() == name]
    if not copies:
        raise CelltwinInputError(f"{path}: no residue {name} in chain {chain_id} ({listing}); fix --ligand")
    if len(copies) > 1:
        numbers = ", ".join(str(r.id[1]) for r in copies)
        raise CelltwinInputError(f"{path}: ligand {name} occurs {len(copies)} times in chain {chain_id} (residues "
                                 f"{numbers}); prodigy-lig scores one copy: remove the others from the file")


def _file_electrostatics(path: Path, prodigy_lig) -> float | None:
    """HADDOCK's electrostatic energy from the ``REMARK energies`` line of a PDB file, if any."""
    text = read_text(path, "structure file")
    try:
        return prodigy_lig.extract_electrostatics(io.StringIO(text))
    except (ValueError, IndexError):
        raise CelltwinInputError(f"{path}: its 'REMARK energies' line has no number as 7th value (HADDOCK's "
                                 "electrostatic energy); fix the line, remove it, or give --electrostatics") from None
