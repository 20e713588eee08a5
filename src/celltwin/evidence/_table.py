"""Affinity predictions from any tool, as a CSV or TSV table -> :class:`AffinityEvidence` terms.

The format (one row per binding reaction; column names are case-sensitive):

==================  ========  =============================================================
column              required  meaning
==================  ========  =============================================================
``reaction``        yes       the id of a reversible binding reaction of the model
``value``           yes       the predicted Kd (> 0 for concentrations), dG or pKd
``unit``            yes       ``M``, ``mM``, ``uM``, ``nM``, ``pM``, ``fM``, ``pKd``,
                              ``log10_M``, ``kcal/mol`` or ``kJ/mol``
``sd``              no        spread of log10 Kd (> 0); empty means the ``default_sd``
``score``           no        a confidence in [0, 1] (e.g. AlphaFold ipTM); the term's weight
                              when ``weight="score"``
``temperature``     no        K, for free energies (default 310)
``reported_value``  no        a literature / measured Kd in the same unit, kept for
                              comparison only (never enters the posterior)
``error_model``     no        a shipped predictor error model (``prodigy``,
                              ``ppi_affinity``): its predictive distribution of the true
                              log10 Kd given ``value`` replaces the Gaussian ``sd``
==================  ========  =============================================================

Other columns are ignored. Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd

from .._textfile import read_text
from ..errors import CelltwinInputError
from ..units import BODY_TEMPERATURE, CONCENTRATION_UNITS, UNITS
from ._error_models import ERROR_MODELS, shipped_error_model
from ._terms import AffinityEvidence, binding_rate_constants

REQUIRED = ("reaction", "value", "unit")


def read_affinity_table(path, model, *, default_sd: float | None = None, calibration=None,
                        weight: str | float = 1.0, model_unit: str = "nM") -> list[AffinityEvidence]:
    """One :class:`AffinityEvidence` per row of the table at ``path`` (format: module docstring).

    Arguments:
        path: a ``.csv`` or ``.tsv`` file.
        model: the :class:`~celltwin.model.Model` whose reactions the rows name.
        default_sd: log10 spread for rows without ``sd`` (unless ``calibration`` is given).
        calibration: a :class:`~._calibration.PredictorCalibration` used for every row
            (then ``sd`` columns are ignored).
        weight: a number for every term, or ``"score"`` to weight each term by its row's score.
        model_unit: the concentration unit of the model's ``koff / kon``.

    Raises:
        CelltwinInputError: naming the file, the row (as numbered in the file) and the column.
    """
    path = Path(path)
    table = _read(path)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise CelltwinInputError(f"{path}: missing column(s) {', '.join(missing)} (have: {', '.join(table.columns)})")
    if weight == "score" and "score" not in table.columns:
        raise CelltwinInputError(f"{path}: weight='score' needs a 'score' column")
    if table.empty:  # an evidence-augmented posterior without evidence would silently equal the baseline
        raise CelltwinInputError(f"{path}: no rows below the header; the affinity table needs at least one Kd")
    errors, terms = [], []
    seen: dict[str, int] = {}
    lines = _data_lines(path)
    for i, row in table.iterrows():
        where = f"{path}, line {lines[i]}"
        try:
            terms.append(_term(row, where, model, default_sd, calibration, weight, model_unit))
        except CelltwinInputError as exc:
            errors.append(str(exc))
            continue
        reaction = row["reaction"].strip()
        if reaction in seen:
            errors.append(f"{where}, column 'reaction': {reaction!r} again (first on line {seen[reaction]})")
        seen.setdefault(reaction, lines[i])
    if errors:
        raise CelltwinInputError("invalid affinity table:\n  " + "\n  ".join(errors))
    return terms


def reported_values(path) -> dict[str, tuple[float, str]]:
    """``{reaction: (reported_value, unit)}`` for rows that have a ``reported_value``."""
    table = _read(Path(path))
    if "reported_value" not in table.columns:
        return {}
    return {r.strip(): (float(v), u.strip()) for r, v, u in zip(table["reaction"], table["reported_value"],
                                                               table["unit"]) if v.strip()}


def _content_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, line)`` of the lines that are neither blank nor comments."""
    text = read_text(path, "affinity table")
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.split("#", 1)[0].strip()]


def _data_lines(path: Path) -> list[int]:
    """The file's line number of each table row: comment and blank lines, which the reader
    skips, still count, so that messages point at the line an editor shows."""
    return [n for n, _ in _content_lines(path)][1:]  # the first is the header


def _read(path: Path) -> pd.DataFrame:
    """The table as strings (tab-separated if the header has a tab, else comma-separated),
    column names stripped."""
    content = _content_lines(path)
    if not content:
        raise CelltwinInputError(f"{path}: the affinity table is empty (it needs a header row)")
    sep = "\t" if "\t" in content[0][1] else ","
    try:
        table = pd.read_csv(path, sep=sep, comment="#", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, ValueError) as exc:
        raise CelltwinInputError(f"{path}: cannot read the affinity table: {exc}") from None
    table.columns = [c.strip() for c in table.columns]
    return table


def _number(row, column, where, *, positive=False) -> float | None:
    text = str(row.get(column, "")).strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise CelltwinInputError(f"{where}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value) or (positive and value <= 0):
        raise CelltwinInputError(f"{where}, column {column!r}: must be a {'positive ' if positive else ''}"
                                 f"finite number, got {text}")
    return value


def _row_error_model(row, where):
    """The calibration of the shipped error model the row names in ``error_model``, if any."""
    name = str(row.get("error_model", "")).strip()
    if not name:
        return None
    if name not in ERROR_MODELS:
        raise CelltwinInputError(f"{where}, column 'error_model': {name!r} is not one of {', '.join(ERROR_MODELS)} "
                                 "(leave it empty to use the row's sd)")
    return _shipped_calibration(name)


@functools.cache
def _shipped_calibration(name):
    return shipped_error_model(name).calibration


def _term(row, where, model, default_sd, calibration, weight, model_unit) -> AffinityEvidence:
    reaction = row["reaction"].strip()
    if reaction not in model.reactions:
        raise CelltwinInputError(f"{where}, column 'reaction': no reaction {reaction!r} in model {model.name!r}")
    unit = row["unit"].strip()
    if unit not in UNITS:
        raise CelltwinInputError(f"{where}, column 'unit': {unit!r} is not one of {', '.join(UNITS)}")
    value = _number(row, "value", where, positive=unit in CONCENTRATION_UNITS)
    if value is None:
        raise CelltwinInputError(f"{where}, column 'value': empty")
    if calibration is None:
        calibration = _row_error_model(row, where)
    sd = None if calibration is not None else _number(row, "sd", where, positive=True)
    if calibration is None and sd is None:
        if default_sd is None:
            raise CelltwinInputError(f"{where}, column 'sd': empty and no default spread given")
        sd = default_sd
    score = _number(row, "score", where)
    if score is not None and not 0 <= score <= 1:
        raise CelltwinInputError(f"{where}, column 'score': must be in [0, 1], got {score}")
    if weight == "score":
        if score is None:
            raise CelltwinInputError(f"{where}, column 'score': empty, but the terms are weighted by score")
        w = score
    else:
        w = float(weight)
    temperature = _number(row, "temperature", where, positive=True) or BODY_TEMPERATURE
    try:
        kon, koff = binding_rate_constants(model, reaction)
    except ValueError as exc:
        raise CelltwinInputError(f"{where}, column 'reaction': {exc}") from None
    return AffinityEvidence(kon, koff, value, unit=unit, sd=sd, calibration=calibration, weight=w,
                            model_unit=model_unit, temperature=temperature, name=f"Kd({reaction})",
                            reaction=reaction)


PREDICTION_COLUMNS = ("reaction", "value", "unit", "sd", "error_model", "predictor", "structure")


def check_prediction_table(path, reaction: str) -> tuple[str, tuple[str, ...], str] | None:
    """Whether a row for ``reaction`` can be added to the affinity table at ``path``: called
    before a prediction too, so that a table that cannot take the row costs no computation.

    Returns:
        ``None`` if the table is missing or has no header yet, else its text, columns and
        separator.

    Raises:
        CelltwinInputError: the existing table cannot be read, lacks a column the row needs,
            or already has a row for ``reaction``.
    """
    path = Path(path)
    if not path.exists() or not _content_lines(path):
        return None
    text = read_text(path, "affinity table")
    table = _read(path)
    columns = tuple(table.columns)
    missing = [c for c in ("reaction", "value", "unit", "error_model") if c not in columns]
    if missing:
        raise CelltwinInputError(f"{path}: the table has no column(s) {', '.join(missing)} for this prediction; "
                                 "add them to its header or write to a new file")
    lines = _data_lines(path)
    for i, r in enumerate(table["reaction"]):
        if r.strip() == reaction:
            raise CelltwinInputError(f"{path}, line {lines[i]}: already has a row for reaction {reaction!r}; "
                                     "remove it first or write to another file")
    sep = "\t" if "\t" in _content_lines(path)[0][1] else ","
    return text, columns, sep


def append_prediction_row(path, reaction: str, prediction: dict) -> None:
    """Add one row for ``reaction`` to the affinity table at ``path`` (created, with a
    header, if missing): ``value`` the predicted log10 Kd (unit ``log10_M``), ``sd`` the
    Gaussian spread with the same 90 % interval as the error model (for readers that do not
    use it), ``error_model`` its name (:func:`read_affinity_table` then uses that model's
    predictive distribution). ``prediction`` is :meth:`StructureAffinity.summary`'s or
    :meth:`LigandAffinity.summary`'s dict. A prediction without an error model (PRODIGY-LIG)
    gets empty ``sd`` and ``error_model`` and a comment line saying so: no spread is made up,
    the reader gives one (``default_sd``) or the user fills in ``sd``.

    Raises:
        CelltwinInputError: the existing table lacks a column this row needs, or already has
            a row for ``reaction``.
    """
    from .._atomic import atomic_write_text

    path = Path(path)
    z90 = 1.6448536269514722  # the standard normal's 95th percentile
    calibrated = prediction["error_model"] is not None
    sd = (prediction["upper_log10_kd"] - prediction["lower_log10_kd"]) / (2 * z90) if calibrated else None
    site = f"ligand {prediction['ligand']} on {prediction['chains']}" if "ligand" in prediction else prediction["chains"]
    values = {"reaction": reaction, "value": f"{prediction['log10_kd_molar']:.4f}", "unit": "log10_M",
              "sd": "" if sd is None else f"{sd:.4f}", "error_model": prediction["error_model"] or "",
              "predictor": prediction["predictor"],
              "structure": f"{prediction['structure']} ({site}, {prediction['temperature_k']:g} K)"}
    if any(c in values[k] for k in ("predictor", "structure") for c in "\t\n"):
        raise CelltwinInputError(f"{prediction['structure']}: tabs or line breaks in the file name cannot go "
                                 "into a tab-separated table; rename the file")
    existing = check_prediction_table(path, reaction)
    if existing is None:
        sep = "," if path.suffix.lower() == ".csv" else "\t"
        header = sep.join(PREDICTION_COLUMNS)
        text = (f"# Kd predictions from structures (celltwin affinity predict); value: log10(Kd / M); sd: the\n"
                f"# Gaussian spread of the same 90 % interval; error_model: the learned error model used instead.\n"
                f"{header}\n")
        columns = PREDICTION_COLUMNS
    else:
        text, columns, sep = existing
        if not text.endswith("\n"):
            text += "\n"
    if sep == "," and any("," in values[k] for k in values):
        values = {k: f'"{v}"' if "," in v else v for k, v in values.items()}
    if not calibrated:
        text += (f"# {reaction}: no calibrated error model for {prediction['predictor']}; sd left empty: fill it in "
                 "or read the table with a default spread\n")
    text += sep.join(values.get(c, "") for c in columns) + "\n"
    atomic_write_text(path, text)
