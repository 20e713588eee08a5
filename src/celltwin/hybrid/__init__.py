"""Hybrid models: neural-network terms inside mechanistic models, their training, PEtab SciML.

* :class:`NeuralTerm`: an Equinox module placed upstream of the ODE (mapping inputs to
  parameters), inside the right-hand side (a rate or flux) or in an observable;
  :class:`HybridProblem` joins its weights to the parameter vector.
* :func:`train` (optax; penalty, time curriculum, multiple shooting, early stopping),
  :func:`train_ensemble` (deep ensembles through the inference executor), :func:`laplace`
  (Laplace approximation, all parameters or a network's :func:`last_layer`).
* :func:`celltwin.hybrid.sciml.from_petab_sciml` reads PEtab SciML problems.
* :func:`neural_term_map`: a trained term's input -> output map (for symbolic recovery).
"""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._ensemble import Ensemble as Ensemble
from ._ensemble import train_ensemble as train_ensemble
from ._inspect import neural_term_map as neural_term_map
from ._laplace import LaplacePosterior as LaplacePosterior
from ._laplace import laplace as laplace
from ._laplace import last_layer as last_layer
from ._problem import HybridProblem as HybridProblem
from ._results import error_metrics as error_metrics
from ._results import mechanistic_table as mechanistic_table
from ._results import write_network_weights as write_network_weights
from ._spec import ArrayInput as ArrayInput
from ._spec import Experiment as Experiment
from ._spec import NetworkArrays as NetworkArrays
from ._spec import NeuralTerm as NeuralTerm
from ._spec import Observable as Observable
from ._spec import ParameterRow as ParameterRow
from ._train import TrainingResult as TrainingResult
from ._train import TrainingSettings as TrainingSettings
from ._train import initial_theta as initial_theta
from ._train import split_measurements as split_measurements
from ._train import train as train
