"""Scenarios: the calibrated twin in use. Predictions with posterior uncertainty under
interventions (knockout, overexpression, a new dose, an inhibitor acting through its Kd)."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._interventions import Dose as Dose
from ._interventions import Inhibitor as Inhibitor
from ._interventions import Knockout as Knockout
from ._interventions import Overexpression as Overexpression
from ._plot import plot_scenarios as plot_scenarios
from ._predict import check_interventions as check_interventions
from ._predict import posterior_draws as posterior_draws
from ._predict import predict as predict
from ._predict import prediction_grid as prediction_grid
