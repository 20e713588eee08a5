"""Real tasks: a PEtab problem with some simulation conditions held out.

The training problem has every measurement of the other conditions; the held-out problem
the measurements of the held-out ones, with the same model and parameter table. Where the
problem folder has a ``true_parameters.tsv`` (``parameterId``, ``value``; the bundled
demo's data were simulated), parameter recovery is scored too.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CelltwinInputError
from ..problem import Problem
from ._task import Task

REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_data() -> Path:
    """The shared public data folder: ``$CELLTWIN_SHARED_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("CELLTWIN_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data").resolve()


@dataclasses.dataclass(frozen=True)
class PetabSpec:
    """A PEtab problem and the conditions held out of it.

    Attributes:
        name: short name in the task id.
        yaml: the problem file, relative to ``root``.
        heldout: the simulation condition ids held out.
        root: ``examples`` (the project's examples folder) or ``shared`` (the shared data
            folder, see :func:`shared_data`).
    """

    name: str
    yaml: str
    heldout: tuple[str, ...]
    root: str = "examples"

    def label(self) -> str:
        return f"petab/{self.name}/heldout={'+'.join(self.heldout)}"

    def axes(self) -> dict:
        return {"model": self.name}

    def path(self) -> Path:
        base = REPO_ROOT / "examples" if self.root == "examples" else shared_data()
        return base / self.yaml


def build_petab(spec: PetabSpec, seed: int, task_id: str) -> Task:
    """The real task ``spec`` (the data are fixed: ``seed`` only seeds the methods)."""
    from ..model import from_sbml
    from ..petab import read_petab
    from ..problem import table_files

    path = spec.path()
    if not path.is_file():
        raise CelltwinInputError(f"{task_id}: PEtab problem {path} not found (set CELLTWIN_SHARED_DATA for "
                                 "the shared benchmark collection)")
    source = read_petab(path)
    if source.version != 1:
        raise CelltwinInputError(f"{path}: a real benchmark task needs a PEtab v1 problem (it holds out "
                                 "simulation conditions)")
    tables = source.v1_tables()
    model = from_sbml(source.sbml_model)
    meas = tables["measurement"]
    if meas is None:
        raise CelltwinInputError(f"{path}: the problem has no measurement table")
    conditions = meas["simulationConditionId"].astype(str)
    unknown = [c for c in spec.heldout if c not in set(conditions)]
    if unknown:
        raise CelltwinInputError(f"{path}: held-out condition(s) {', '.join(unknown)} have no measurements")
    held = conditions.isin(spec.heldout).to_numpy()
    common: dict[str, Any] = {"observables": tables["observable"], "parameters": tables["parameter"],
                              "conditions": tables["condition"], "files": table_files(source)}
    problem = Problem.from_tables(model, measurements=meas[~held].reset_index(drop=True), name=task_id, **common)
    heldout = Problem.from_tables(model, measurements=meas[held].reset_index(drop=True),
                                  name=f"{task_id} (held out)", **common)
    truth_file = path.parent / "true_parameters.tsv"
    truth = None
    if truth_file.is_file():
        table = pd.read_csv(truth_file, sep="\t")
        truth = {str(r.parameterId): float(r.value) for r in table.itertuples()}
    return Task(id=task_id, seed=seed, problem=problem, heldout=heldout, true_parameters=truth, axes=spec.axes(),
                kind="real")


@dataclasses.dataclass(frozen=True)
class CaseSpec:
    """A twin case (``case.yaml`` of :mod:`celltwin.twin`): its PEtab problem to learn from,
    its held-out PEtab problem (same model and parameter table, other measurements) and its
    affinity evidence table.

    Attributes:
        name: short name in the task id.
        case: the case file, relative to the examples folder.
        heldout_label: what is held out, for the task id.
        methods: the methods that can afford the task, with settings that replace the
            suite's (``{"mechanistic_map": {"n_starts": 2}}``); cells of other methods are
            not applicable and left out of a run. ``None``: every method, suite settings.
    """

    name: str
    case: str
    heldout_label: str
    methods: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] | None = None

    def label(self) -> str:
        return f"case/{self.name}/heldout={self.heldout_label}"

    def axes(self) -> dict:
        return {"model": self.name}

    def path(self) -> Path:
        return REPO_ROOT / "examples" / self.case

    def settings_for(self, method: str) -> dict | None:
        """Setting overrides for ``method``, or ``None`` when it does not apply."""
        if self.methods is None:
            return {}
        found = dict(self.methods)
        return dict(found[method]) if method in found else None


def build_case(spec: CaseSpec, seed: int, task_id: str) -> Task:
    """The twin case ``spec`` as a task (the data are fixed: ``seed`` only seeds the methods)."""
    from ..evidence import read_affinity_table
    from ..problem import from_petab
    from ..simulate import SolverSettings
    from ..twin import read_case

    case = read_case(spec.path())
    if case.held_out is None:
        raise CelltwinInputError(f"{task_id}: case {spec.path()} has no held_out problem")
    settings = SolverSettings(**case.solver)
    problem = from_petab(case.problem, settings=settings)
    heldout = from_petab(case.held_out, settings=settings)
    if list(heldout.parameter_ids) != list(problem.parameter_ids):
        raise CelltwinInputError(f"{task_id}: the held-out problem's parameters differ from the training problem's")
    evidence = tuple(read_affinity_table(case.evidence, problem.model, weight=case.evidence_weight))
    return Task(id=task_id, seed=seed, problem=problem, heldout=heldout, evidence=evidence, axes=spec.axes(),
                kind="real")
