"""Inference: multi-start optimisation, profile likelihoods, posterior sampling and diagnostics."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)
from ._checkpoint import checkpoint_files as checkpoint_files
from ._diagnostics import Diagnostics as Diagnostics
from ._diagnostics import diagnose as diagnose
from ._driver import converged as converged
from ._executor import Executor as Executor
from ._executor import check_scheduler as check_scheduler
from ._executor import problem_handle as problem_handle
from ._executor import problem_in_worker as problem_in_worker
from ._fit_table import read_best_fit as read_best_fit
from ._independence import independence_proposal as independence_proposal
from ._nuts import nuts_draws as nuts_draws
from ._optimize import OPTIMIZERS as OPTIMIZERS
from ._optimize import MultistartResult as MultistartResult
from ._optimize import latin_hypercube as latin_hypercube
from ._optimize import multistart as multistart
from ._profile import ProfileResult as ProfileResult
from ._progress import progress_bar as progress_bar
from ._progress import progress_interval as progress_interval
from ._profile import profile as profile
from ._report import write_report as write_report
from ._resume import describe_checkpoint as describe_checkpoint
from ._sample import sample as sample
from ._at_once import sample_at_once as sample_at_once
from ._sbc import CalibrationResult as CalibrationResult
from ._sbc import calibrate as calibrate
from ._settings import EnsembleSettings as EnsembleSettings
from ._settings import NUTSSettings as NUTSSettings
from ._settings import SamplerSettings as SamplerSettings
from ._settings import SMCSettings as SMCSettings
