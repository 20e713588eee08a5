"""Perturbation screens: a semi-mechanistic model of CRISPR screens (latent network dynamics,
perturbation and measurement operators), held-out prediction with baselines, simulation."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)
from ._anndata import read_screen as read_screen
from ._baselines import LinearBaseline as LinearBaseline
from ._baselines import additive_baseline as additive_baseline
from ._baselines import context_mean_baseline as context_mean_baseline
from ._baselines import mean_baseline as mean_baseline
from ._baselines import nearest_context_baseline as nearest_context_baseline
from ._baselines import no_change_baseline as no_change_baseline
from ._batching import BatchingDesign as BatchingDesign
from ._batching import batching_error as batching_error
from ._batching import batching_table as batching_table
from ._batching import expected_batching_error as expected_batching_error
from ._bootstrap import HeldoutCells as HeldoutCells
from ._bootstrap import paired_bootstrap as paired_bootstrap
from ._bootstrap import split_half_floor as split_half_floor
from ._crossval import leave_pair_out_curves as leave_pair_out_curves
from ._fit import FittedScreenModel as FittedScreenModel
from ._fit import ScreenFitSettings as ScreenFitSettings
from ._fit import fit_screen as fit_screen
from ._fit import negative_binomial_logpmf as negative_binomial_logpmf
from ._fit import screen_loss as screen_loss
from ._holdout import HoldoutResult as HoldoutResult
from ._holdout import default_settings as default_settings
from ._holdout import evaluate_holdout as evaluate_holdout
from ._holdout import heldout_doubles as heldout_doubles
from ._holdout import observed_deltas as observed_deltas
from ._holdout import settings_grid as settings_grid
from ._metrics import delta_scores as delta_scores
from ._model import ScreenLayout as ScreenLayout
from ._recovery import average_precision as average_precision
from ._recovery import effect_rmse as effect_rmse
from ._recovery import network_auprc as network_auprc
from ._report import write_holdout as write_holdout
from ._screen import Screen as Screen
from ._screen import parse_condition as parse_condition
from ._screen import screen_from_labels as screen_from_labels
from ._simulate import SimulatedScreen as SimulatedScreen
from ._simulate import random_network as random_network
from ._simulate import simulate_screen as simulate_screen
from ._splits import cell_type_folds as cell_type_folds
from ._splits import context_deltas as context_deltas
from ._splits import double_folds as double_folds
