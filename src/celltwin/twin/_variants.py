"""Variants of a twin case for sensitivity analyses: other prior widths, another evidence
weight, another observable held out. Each variant is written as PEtab files in its own
folder; the unchanged tables are referenced where they are, not copied."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import pandas as pd
import yaml

from .._atomic import atomic_write_text
from .._textfile import read_yaml
from ..errors import CelltwinInputError
from ._case import Case


def case_variant(case: Case, folder, *, prior_decades: float | None = None,
                 evidence_weight: float | str | None = None, held_out_observable: str | None = None,
                 fit_held_out_data: bool = True) -> Case:
    """``case`` with some of its assumptions changed, its PEtab files written into ``folder``.

    Arguments:
        prior_decades: every estimated parameter's uniform prior becomes ``nominal / 10**d``
            to ``nominal * 10**d`` (on its scale; the nominal value must be positive).
        evidence_weight: a number, or ``"score"`` (the evidence table's score column).
        held_out_observable: fit all measurements of the training and held-out files except
            this observable's, and hold out this observable's (the case must have a held-out
            problem with the same model, conditions and observables).
        fit_held_out_data: ``False``: the case's held-out measurements stay out of the fit
            too (e.g. a series on another scale than its observable), so only the training
            file's other observables are fitted.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train = _petab_files(case.problem)
    test = _petab_files(case.held_out) if case.held_out is not None else None
    changed = {}
    if prior_decades is not None:
        if not (math.isfinite(prior_decades) and prior_decades > 0):
            raise CelltwinInputError(f"prior_decades must be a positive number, got {prior_decades!r}")
        table = pd.read_csv(train["parameter_file"], sep="\t")
        estimated = table["estimate"].astype(int) == 1
        nominal = table.loc[estimated, "nominalValue"].astype(float)
        if not (nominal > 0).all():
            bad = table.loc[estimated & ~(table["nominalValue"].astype(float) > 0), "parameterId"].tolist()
            raise CelltwinInputError(f"{train['parameter_file']}: prior widths in decades need positive nominal "
                                     f"values; not so for {', '.join(map(str, bad))}")
        factor = 10.0**prior_decades
        table.loc[estimated, "lowerBound"] = nominal / factor
        table.loc[estimated, "upperBound"] = nominal * factor
        changed["parameter_file"] = _write_table(table, folder / "parameters.tsv")
    if held_out_observable is not None:
        if test is None:
            raise CelltwinInputError(f"{case.name}: moving the held-out observable needs a case with held_out data")
        sources = train["measurement_files"] + (test["measurement_files"] if fit_held_out_data else [])
        merged = pd.concat([pd.read_csv(f, sep="\t") for f in sources], ignore_index=True)
        known = sorted(merged["observableId"].astype(str).unique())
        if held_out_observable not in known:
            raise CelltwinInputError(f"{case.name}: no measurements of observable {held_out_observable!r} "
                                     f"(measured: {', '.join(known)})")
        held = merged["observableId"].astype(str) == held_out_observable
        if held.all():
            raise CelltwinInputError(f"{case.name}: with {held_out_observable!r} held out no measurements are "
                                     "left to fit")
        changed["train_measurements"] = _write_table(merged[~held], folder / "measurements.tsv")
        changed["test_measurements"] = _write_table(merged[held], folder / "measurements_test.tsv")
    problem = _write_problem(train, changed, "train_measurements", folder / "problem.yaml")
    held_out = None if test is None else _write_problem(test, changed, "test_measurements", folder / "held_out.yaml")
    weight = case.evidence_weight if evidence_weight is None else evidence_weight
    return dataclasses.replace(case, problem=problem, held_out=held_out, evidence_weight=weight)


def _petab_files(path: Path) -> dict:
    """The absolute file paths of a one-model PEtab v1 problem file."""
    content = read_yaml(path, "PEtab problem file")
    try:
        part = content["problems"][0]
        files: dict[str, object] = {key: [str((path.parent / v).resolve()) for v in part[key]]
                 for key in ("sbml_files", "condition_files", "observable_files", "measurement_files")}
        files["parameter_file"] = str((path.parent / content["parameter_file"]).resolve())
        files["format_version"] = content.get("format_version", 1)
    except (KeyError, IndexError, TypeError) as exc:
        raise CelltwinInputError(f"{path}: not a PEtab v1 problem file with one model ({exc})") from None
    return files


def _write_table(table: pd.DataFrame, path: Path) -> str:
    atomic_write_text(path, table.to_csv(sep="\t", index=False))
    return str(path.resolve())


def _write_problem(files: dict, changed: dict, measurements: str, path: Path) -> Path:
    def where(names):  # relative to the new file (the petab library joins paths as text)
        return [os.path.relpath(name, path.parent.resolve()) for name in names]

    content = {"format_version": files["format_version"],
               "parameter_file": where([changed.get("parameter_file", files["parameter_file"])])[0],
               "problems": [{"sbml_files": where(files["sbml_files"]),
                             "condition_files": where(files["condition_files"]),
                             "observable_files": where(files["observable_files"]),
                             "measurement_files": where([changed[measurements]] if measurements in changed
                                                        else files["measurement_files"])}]}
    atomic_write_text(path, yaml.safe_dump(content, sort_keys=False))
    return path
