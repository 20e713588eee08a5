"""Reading a Perturb-seq screen from AnnData (``.h5ad``) into a :class:`Screen`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CelltwinInputError
from ._screen import CONTROL, Screen, screen_from_labels

BARCODE = "barcode"  # batch key meaning: the 10x GEM group, the suffix of the cell barcode ("ACGT-3")


def _anndata():
    try:
        import anndata
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise CelltwinInputError("reading .h5ad needs the 'anndata' package: pip install anndata") from exc
    return anndata


def default_context(obs, perturbation_key: str, *, context_key: str = "cell_type",
                    separator: str = "+") -> dict[str, str] | None:
    """When cells come from several contexts (``obs[context_key]``), the one with the most
    combined perturbations; None when there is one context or no such column."""
    if context_key not in obs.columns or obs[context_key].nunique() < 2:
        return None
    labels = obs[perturbation_key].astype(str)
    multi = labels.str.contains(separator, regex=False)
    counts = obs.loc[multi, context_key].astype(str).value_counts()
    best = counts.index[0] if len(counts) else obs[context_key].astype(str).value_counts().index[0]
    return {context_key: str(best)}


def default_context_of_file(path, perturbation_key: str) -> dict[str, str] | None:
    """:func:`default_context` of the cells of an ``.h5ad`` file (reads only its ``obs`` table).

    Raises:
        CelltwinInputError: the file is no readable AnnData file, or ``obs`` has no column
            ``perturbation_key``.
    """
    try:
        backed = _anndata().read_h5ad(path, backed="r")
    except Exception as exc:
        raise CelltwinInputError(f"{path}: not a readable AnnData (.h5ad) file: {exc}") from exc
    obs = backed.obs.copy()
    backed.file.close()
    if perturbation_key not in obs.columns:
        raise CelltwinInputError(f"{path}: obs has no column {perturbation_key!r} (set --perturbation-key)")
    return default_context(obs, perturbation_key)


def read_screen(path, *, perturbation_key: str = "perturbation", control: str = CONTROL,
                batch_key: str | None = None, where: dict[str, str] | None = None, layer: str | None = None,
                kind: str = "auto", separator: str = "+", medium_key: str | None = None,
                time_key: str | None = None) -> Screen:
    """Read cells of an ``.h5ad`` file as a :class:`Screen`.

    Arguments:
        path: the AnnData file.
        perturbation_key: ``obs`` column with condition labels (``"A+B"`` for a double,
            ``control`` for unperturbed cells).
        batch_key: ``obs`` column of batches; ``"barcode"`` takes the GEM group from the cell
            barcode suffix (``ACGT-3`` -> ``3``); None: one batch.
        where: keep only cells with ``obs[key] == value`` for every item.
        layer: a layer instead of ``X``.
        kind: ``"counts"``, ``"lognorm"``, or ``"auto"`` (counts when all values are whole
            numbers and ``uns`` has no ``log1p`` entry).
        medium_key: ``obs`` column of each cell's medium (culture condition), for the medium
            operator; None: one medium.
        time_key: ``obs`` column of each cell's time since perturbation (numeric; missing
            values and ``inf`` mean at steady state), for the time operator; None: steady state.

    Raises:
        CelltwinInputError: naming the file and the missing column or value.
    """
    path = Path(path)
    if not path.is_file():
        raise CelltwinInputError(f"{path}: no such file")
    try:
        adata = _anndata().read_h5ad(path)
    except Exception as exc:
        raise CelltwinInputError(f"{path}: not a readable AnnData (.h5ad) file: {exc}") from exc
    if adata.n_vars == 0:
        raise CelltwinInputError(f"{path}: no genes: the expression matrix has no columns (var is empty)")
    if adata.n_obs == 0:
        raise CelltwinInputError(f"{path}: no cells: the expression matrix has no rows (obs is empty)")
    obs = adata.obs
    optional = [k for k in (medium_key, time_key) if k is not None]
    for key in ([perturbation_key] + list(where or {}) + ([batch_key] if batch_key not in (None, BARCODE) else [])
                + optional):
        if key not in obs.columns:
            raise CelltwinInputError(f"{path}: obs has no column {key!r} (columns: {', '.join(map(str, obs.columns))})")
    keep = np.ones(adata.n_obs, dtype=bool)
    for key, value in (where or {}).items():
        keep &= (obs[key].astype(str) == str(value)).to_numpy()
        if not keep.any():
            raise CelltwinInputError(f"{path}: no cells with obs[{key!r}] == {value!r}")
    adata = adata[keep]
    if layer is not None and layer not in adata.layers:
        raise CelltwinInputError(f"{path}: no layer {layer!r} (layers: {', '.join(adata.layers) or 'none'})")
    matrix = adata.layers[layer] if layer is not None else adata.X
    x = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    x = np.asarray(x, dtype=np.float64)
    if kind == "auto":
        kind = "counts" if np.all(x == np.round(x)) and "log1p" not in adata.uns else "lognorm"
    if kind not in ("counts", "lognorm"):
        raise CelltwinInputError(f"kind must be 'auto', 'counts' or 'lognorm', not {kind!r}")
    labels = adata.obs[perturbation_key].astype(str).to_numpy()
    if not np.any(labels == control):
        raise CelltwinInputError(f"{path}: no control cells: obs[{perturbation_key!r}] never equals {control!r} "
                                 "(name the control label with --control)")
    if batch_key == BARCODE:
        batch = [name.rsplit("-", 1)[1] if "-" in name else "1" for name in adata.obs_names]
    elif batch_key is not None:
        batch = adata.obs[batch_key].astype(str).to_numpy()
    else:
        batch = None
    medium = adata.obs[medium_key].astype(str).to_numpy() if medium_key is not None else None
    time = None
    if time_key is not None:
        try:
            time = adata.obs[time_key].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise CelltwinInputError(f"{path}: obs[{time_key!r}] must be numeric (time since perturbation): {exc}") from exc
        time = np.where(np.isnan(time), np.inf, time)
    library = None
    if kind == "counts":
        library = x.sum(1)
        for key in ("ncounts", "n_counts", "total_counts"):
            if key in adata.obs.columns:  # the whole transcriptome's counts, not only the genes kept
                library = adata.obs[key].to_numpy(dtype=np.float64)
                break
    return screen_from_labels(x, labels, genes=[str(g) for g in adata.var_names], kind=kind, batch=batch,
                              library_size=library, separator=separator, control=control, source=str(path),
                              medium=medium, time=time)
