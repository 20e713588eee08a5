"""A twin case file (``case.yaml``): a PEtab problem, its held-out data, its evidence table,
sampler settings and an intervention scenario - everything :func:`run_case` needs.

Example (paths are relative to the case file)::

    name: EGFR signalling (Kholodenko 1999)
    problem: egfr_kholodenko.yaml          # training data
    held_out: egfr_kholodenko_test.yaml    # optional: same model, held-out measurements
    evidence: evidence.tsv                 # celltwin.evidence affinity table
    evidence_weight: 1.0                   # a number, or "score" (the table's score column)
    solver: {rtol: 1.0e-6, atol: 1.0e-5}   # optional SolverSettings fields
    sampler: {method: nuts, chains: 4, draws: 500, warmup: 500}   # SamplerSettings fields
    scenario:                              # optional interventions (one scenario, all applied)
      - {inhibitor: {target: k13f, concentration: 100, kd: 10, unit: nM, kd_sd: 0.5}}
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path

from .._textfile import read_yaml
from ..errors import CelltwinInputError

KINDS = ("knockout", "overexpression", "dose", "inhibitor")


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    problem: Path
    evidence: Path
    held_out: Path | None = None
    evidence_weight: float | str = 1.0
    solver: dict = dataclasses.field(default_factory=dict)
    sampler: dict = dataclasses.field(default_factory=dict)
    scenario: tuple = ()
    scenario_times: tuple | None = None

    @property
    def interventions(self) -> list:
        from ..scenario import Dose, Inhibitor, Knockout, Overexpression

        make = {"knockout": lambda v: Knockout(v) if isinstance(v, str) else Knockout(**v),
                "overexpression": lambda v: Overexpression(**v), "dose": lambda v: Dose(**v),
                "inhibitor": lambda v: Inhibitor(**v)}
        return [make[kind](value) for item in self.scenario for kind, value in item.items()]


def read_case(path) -> Case:
    """Parse and check a case file; errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise CelltwinInputError(f"{path}: no such case file")
    content = read_yaml(path, "case file") or {}
    if not isinstance(content, dict):
        raise CelltwinInputError(f"{path}: expected a mapping of fields")
    known = {f.name for f in dataclasses.fields(Case)}
    unknown = sorted(set(content) - known)
    if unknown:
        raise CelltwinInputError(f"{path}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for field in ("name", "problem", "evidence"):
        if field not in content:
            raise CelltwinInputError(f"{path}: field {field!r} is required")
    files = {}
    for field in ("problem", "held_out", "evidence"):
        if content.get(field) is not None:
            files[field] = (path.parent / content[field]).resolve()
            if not files[field].is_file():
                raise CelltwinInputError(f"{path}: field {field!r}: no such file {files[field]}")
    weight = content.get("evidence_weight", 1.0)
    if weight != "score" and (not _is_number(weight) or not math.isfinite(weight) or weight < 0):
        raise CelltwinInputError(f"{path}: field 'evidence_weight' must be a number >= 0 or 'score', got {weight!r}")
    times = content.get("scenario_times")
    if times is not None and not (isinstance(times, list) and times and all(_is_number(t) for t in times)):
        raise CelltwinInputError(f"{path}: field 'scenario_times' must be a list of numbers, got {times!r}")
    scenario = content.get("scenario") or []
    if not isinstance(scenario, list) or not all(isinstance(i, dict) and len(i) == 1 and next(iter(i)) in KINDS
                                                 for i in scenario):
        raise CelltwinInputError(f"{path}: field 'scenario' must be a list of one-key mappings, keys from "
                                 f"{', '.join(KINDS)}")
    for field in ("solver", "sampler"):
        if not isinstance(content.get(field, {}), dict):
            raise CelltwinInputError(f"{path}: field {field!r} must be a mapping")
        content[field] = _check_settings(path, field, content.get(field, {}))
    case = Case(name=str(content["name"]), problem=files["problem"], evidence=files["evidence"],
                held_out=files.get("held_out"), evidence_weight=weight, solver=dict(content.get("solver", {})),
                sampler=dict(content.get("sampler", {})), scenario=tuple(scenario),
                scenario_times=tuple(content["scenario_times"]) if content.get("scenario_times") else None)
    try:
        _ = case.interventions  # builds (and so checks) every intervention
    except (TypeError, CelltwinInputError) as exc:
        raise CelltwinInputError(f"{path}: field 'scenario': {exc}") from None
    return case


def case_evidence(case: Case, **solver):
    """The case's problem with its evidence bound (:class:`celltwin.evidence.Evidence`, its
    ``problem`` the training problem; ``.switched(False)`` the baseline), solved with the
    case's solver settings updated by ``solver``."""
    from ..evidence import Evidence, read_affinity_table
    from ..problem import from_petab
    from ..simulate import SolverSettings

    problem = from_petab(case.problem, settings=SolverSettings(**{**case.solver, **solver}))
    return Evidence(problem, read_affinity_table(case.evidence, problem.model, weight=case.evidence_weight))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# A type check here saves a failure deep in a solve.
_TYPES = {"float": _is_number, "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "bool": lambda v: isinstance(v, bool), "str": lambda v: isinstance(v, str)}
KIND_WORDS = {"float": "a number", "int": "a whole number", "bool": "true or false", "str": "text"}


def _check_settings(path: Path, field: str, values: dict) -> dict:
    """Each setting of the ``solver`` / ``sampler`` mapping is a field of SolverSettings /
    SamplerSettings with a value of its type, and the settings object accepts them; returns
    the settings, with numbers YAML read as text (``1e-6``) as numbers."""
    from ..inference import SamplerSettings
    from ..simulate import SolverSettings

    cls = SolverSettings if field == "solver" else SamplerSettings
    # The diffrax solver object itself cannot be written in YAML.
    types = {f.name: str(f.type) for f in dataclasses.fields(cls) if f.name != "solver" or field != "solver"}
    unknown = sorted(str(k) for k in values if k not in types)
    if unknown:
        raise CelltwinInputError(f"{path}: field {field!r}: unknown setting(s) {', '.join(unknown)} "
                                 f"(known: {', '.join(types)})")
    values = dict(values)
    for name, value in values.items():
        kind, _, optional = types[name].partition(" | ")
        if value is None and optional == "None":
            continue
        if kind == "float" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = values[name] = float(value)  # YAML 1.1 reads 1e-6 (no dot) as text
        if kind in _TYPES and not _TYPES[kind](value):
            raise CelltwinInputError(f"{path}: field {field!r}, setting {name!r}: expected {KIND_WORDS[kind]}, "
                                     f"got {value!r}")
        if kind == "float" and isinstance(value, int | float) and not (  # a number: checked just above
                math.isfinite(value) and (value > 0 or name.endswith("coeff"))):
            raise CelltwinInputError(f"{path}: field {field!r}, setting {name!r}: must be a positive finite number, "
                                     f"got {value!r}")
    try:
        cls(**values)
    except (TypeError, ValueError) as exc:
        raise CelltwinInputError(f"{path}: field {field!r}: {exc}") from None
    return values
