"""The Davis et al. 2011 kinase-inhibitor Kd matrix, as distributed with DeepDTA.

Three files in one folder:

* ``ligands_can.txt``: JSON object PubChem CID -> canonical SMILES (68 compounds);
* ``proteins.txt``: JSON object kinase name -> amino-acid sequence (442 kinases, mutants and
  constructs included; mutants carry the wild-type sequence);
* ``drug-target_interaction_affinities_Kd__Davis_et_al.2011v1.txt``: the Kd matrix in nM,
  whitespace separated, one row per compound and one column per kinase, in the order of the
  two JSON files.

Kd = 10,000 nM is the assay's upper limit (no binding detected at 10 uM): those pairs are
right-censored, pKd <= 5.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .._textfile import read_text
from ..errors import CelltwinInputError

LIGANDS = "ligands_can.txt"
PROTEINS = "proteins.txt"
AFFINITIES = "drug-target_interaction_affinities_Kd__Davis_et_al.2011v1.txt"
ASSAY_LIMIT_NM = 10_000.0


@dataclasses.dataclass(frozen=True)
class KinaseInhibitorData:
    """A compound x kinase Kd matrix with the compounds' SMILES and the kinases' sequences.

    Attributes:
        compounds: compound identifiers (PubChem CIDs for Davis); ``smiles`` one per compound.
        targets: kinase names; ``sequences`` one per kinase.
        kd_nM: ``(compounds, targets)`` Kd in nM.
    """

    compounds: tuple[str, ...]
    smiles: tuple[str, ...]
    targets: tuple[str, ...]
    sequences: tuple[str, ...]
    kd_nM: np.ndarray

    @property
    def pkd(self) -> np.ndarray:
        """pKd = -log10(Kd / M) = 9 - log10(Kd / nM)."""
        return 9.0 - np.log10(self.kd_nM)

    @property
    def censored(self) -> np.ndarray:
        """True where Kd is at the assay's upper limit (pKd <= 5, binding not detected)."""
        return self.kd_nM >= ASSAY_LIMIT_NM


def _json_object(path: Path, what: str) -> dict[str, str]:
    if not path.is_file():
        raise CelltwinInputError(f"{path}: {what} file not found")
    try:
        obj = json.loads(read_text(path, f"{what} file"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CelltwinInputError(f"{path}: not a JSON object ({exc})") from None
    if not isinstance(obj, dict) or not all(isinstance(v, str) and v for v in obj.values()):
        raise CelltwinInputError(f"{path}: expected a JSON object of non-empty strings ({what})")
    return obj


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_davis(folder: str | Path) -> KinaseInhibitorData:
    """Read the Davis files in ``folder`` (see the module docstring).

    Raises:
        CelltwinInputError: a missing file, a malformed value (named by line and column) or a
            matrix whose shape does not match the compound and kinase lists.
    """
    folder = Path(folder)
    ligands = _json_object(folder / LIGANDS, "ligand SMILES")
    proteins = _json_object(folder / PROTEINS, "protein sequence")
    path = folder / AFFINITIES
    if not path.is_file():
        raise CelltwinInputError(f"{path}: Kd matrix file not found")
    rows = [line.split() for line in read_text(path, "Kd matrix").splitlines() if line.strip()]
    if len(rows) != len(ligands):
        raise CelltwinInputError(f"{path}: {len(rows)} rows, but {folder / LIGANDS} lists {len(ligands)} compounds")
    kd = np.empty((len(ligands), len(proteins)))
    for i, row in enumerate(rows):
        if len(row) != len(proteins):
            raise CelltwinInputError(f"{path}: line {i + 1} has {len(row)} values, "
                                     f"but {folder / PROTEINS} lists {len(proteins)} kinases")
        try:
            kd[i] = np.array(row, dtype=float)
        except ValueError:
            j, cell = next((j, c) for j, c in enumerate(row) if not _is_number(c))
            raise CelltwinInputError(f"{path}: line {i + 1}, column {j + 1}: {cell!r} is not a number") from None
    if not np.all(np.isfinite(kd) & (kd > 0)):
        i, j = np.argwhere(~(np.isfinite(kd) & (kd > 0)))[0]
        raise CelltwinInputError(f"{path}: line {i + 1}, column {j + 1}: a Kd must be a positive number")
    return KinaseInhibitorData(compounds=tuple(ligands), smiles=tuple(ligands.values()), targets=tuple(proteins),
                               sequences=tuple(proteins.values()), kd_nM=kd)
