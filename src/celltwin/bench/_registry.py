"""The versioned task registry, the method registry and the suites.

Every task id starts with :data:`REGISTRY_VERSION`; a change to a curated model, an axis
definition or the data generation must bump it, so results stored under an old id are
never mixed with new ones. A task is rebuilt from its id and a seed alone
(:func:`build_task`), in whatever process runs it.
"""

from __future__ import annotations

import dataclasses
import functools

from ..errors import CelltwinInputError
from ._real import CaseSpec, PetabSpec, build_case, build_petab
from ._synthetic import SyntheticSpec, build_synthetic
from ._task import Task
from .methods import (
    AbstractMethod,
    EvidenceBayes,
    HybridNeuralTerm,
    MechanisticBayes,
    MechanisticMAP,
    NeuralODE,
    PySINDy,
    SparseDiscovery,
    TrainingMean,
)

REGISTRY_VERSION = "v2"
"""v2: the EGFR and GPCR twin cases added (v1: the synthetic sweeps and two PEtab problems)."""

METHODS: dict[str, type[AbstractMethod]] = {
    cls.name: cls for cls in (TrainingMean, MechanisticMAP, MechanisticBayes, EvidenceBayes, SparseDiscovery,
                               NeuralODE, HybridNeuralTerm, PySINDy)
}
"""Every method by name. Methods of other subpackages register here as they land."""

# The twin cases are real models (EGFR: 50 rate constants, stiff): a MAP fit with few starts
# fits in a benchmark run; the samplers and the neural methods would take hours there, the
# model-free methods need every species observed, and the baseline cannot predict an
# observable that no training condition measures (p_shc, receptor occupancy): not applicable.
CASE_METHODS = (("mechanistic_map", (("n_starts", 2), ("max_iterations", 100))),)


def _sweeps() -> list:
    s = SyntheticSpec
    specs: list = []
    for model in ("kinase_cascade", "lotka_volterra"):
        specs += [s(model, noise=x) for x in (0.02, 0.05, 0.1, 0.2)]
        specs += [s(model, skeleton=x) for x in ("missing", "spurious")]
    specs += [s("kinase_cascade", unobserved=x) for x in (0.25, 0.5, 0.75)]
    specs += [s("lotka_volterra", unobserved=0.5)]
    specs += [s("kinase_cascade", n_times=x) for x in (4, 16)]
    specs += [s("kinase_cascade", n_conditions=x) for x in (1, 4)]
    specs += [s("binding_cascade", prior=x) for x in ("none", "correct", "noisy", "wrong")]
    specs += [s("goodwin")]
    specs += [PetabSpec("mapk_cascade", "mapk_cascade/mapk_cascade.yaml", ("high_dose",)),
              PetabSpec("Bruno_JExpBot2016", "petab-benchmark/Bruno_JExpBot2016/Bruno_JExpBot2016.yaml",
                        ("model1_data6",), root="shared"),
              CaseSpec("egfr_kholodenko", "egfr_kholodenko/case.yaml", "p_shc@egf_20nM", CASE_METHODS),
              CaseSpec("gpcr_yi", "gpcr_yi/case.yaml", "occupancy_doses", CASE_METHODS)]
    return specs


def _task_id(spec) -> str:
    return f"{REGISTRY_VERSION}/{spec.label()}"


@functools.lru_cache(maxsize=1)
def task_registry() -> dict[str, SyntheticSpec | PetabSpec | CaseSpec]:
    """Every registered task: id -> spec (ids are unique; duplicates across sweeps merge)."""
    return {_task_id(spec): spec for spec in _sweeps()}


def build_task(task_id: str, seed: int) -> Task:
    """The task ``task_id`` with data (synthetic) or method seeds (real) from ``seed``."""
    registry = task_registry()
    if task_id not in registry:
        version = task_id.split("/", 1)[0]
        hint = (f"it is from registry {version}, this is {REGISTRY_VERSION}" if version != REGISTRY_VERSION
                else "see `celltwin bench tasks`")
        raise CelltwinInputError(f"unknown task {task_id!r} ({hint})")
    spec = registry[task_id]
    if isinstance(spec, PetabSpec):
        return build_petab(spec, seed, task_id)
    if isinstance(spec, CaseSpec):
        return build_case(spec, seed, task_id)
    return build_synthetic(spec, seed, task_id)


@dataclasses.dataclass(frozen=True)
class Suite:
    """A grid: task ids x methods (with their settings) x seeds."""

    name: str
    tasks: tuple[str, ...]
    methods: tuple[AbstractMethod, ...]
    seeds: tuple[int, ...]


def suite(name: str) -> Suite:
    """The ``quick`` suite (every method on two small tasks, cheap settings, one seed; for CI)
    or the ``full`` suite (every registered task, default settings, three seeds)."""
    if name == "quick":
        tasks = (_task_id(SyntheticSpec("kinase_cascade")), _task_id(SyntheticSpec("binding_cascade", prior="correct")))
        methods = (TrainingMean(), MechanisticMAP(n_starts=3, max_iterations=100),
                   MechanisticBayes(n_starts=2, max_iterations=100, walkers=12, burn_in=100, draws=50),
                   EvidenceBayes(n_starts=2, max_iterations=100, walkers=12, burn_in=100, draws=50),
                   SparseDiscovery(), NeuralODE(members=2, iterations=500),
                   HybridNeuralTerm(members=2, epochs=100, n_starts=2, max_iterations=100), PySINDy())
        return Suite("quick", tasks, methods, (0,))
    if name == "full":
        methods = tuple(cls() for cls in METHODS.values())
        return Suite("full", tuple(task_registry()), methods, (0, 1, 2))
    raise CelltwinInputError(f"unknown suite {name!r}: choose quick or full")
