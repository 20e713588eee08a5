"""Benchmark of digital-twin methods: tasks along the challenge axes, methods behind one
interface, metrics, a resumable runner (local processes or Dask) and a leaderboard."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._metrics import crps_gaussian as crps_gaussian
from ._metrics import crps_samples as crps_samples
from ._metrics import interval_coverage as interval_coverage
from ._metrics import normalised_rmse as normalised_rmse
from ._metrics import parameter_log10_error as parameter_log10_error
from ._metrics import prediction_metrics as prediction_metrics
from ._metrics import structure_f1 as structure_f1
from ._models import CURATED_MODELS as CURATED_MODELS
from ._models import CuratedModel as CuratedModel
from ._real import CaseSpec as CaseSpec
from ._real import PetabSpec as PetabSpec
from ._registry import METHODS as METHODS
from ._registry import REGISTRY_VERSION as REGISTRY_VERSION
from ._registry import Suite as Suite
from ._registry import build_task as build_task
from ._registry import suite as suite
from ._registry import task_registry as task_registry
from ._runner import Cell as Cell
from ._runner import RunSummary as RunSummary
from ._runner import cells as cells
from ._runner import run as run
from ._runner import run_cell as run_cell
from ._leaderboard import write_leaderboard as write_leaderboard
from ._lock import StoreBusyError as StoreBusyError
from ._store import ResultStore as ResultStore
from ._synthetic import SyntheticSpec as SyntheticSpec
from ._task import Task as Task
from .methods import AbstractMethod as AbstractMethod
from .methods import FittedMethod as FittedMethod
