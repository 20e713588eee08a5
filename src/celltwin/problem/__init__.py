"""Problems: model + experiments + observables + noise + data + parameter space.

* :class:`AbstractProblem`: what optimisers, samplers, reports and benchmarks may rely on;
  :class:`Problem` (PEtab) and :class:`celltwin.hybrid.HybridProblem` implement it.
* The measurement and parameter-scale model both share: :class:`MeasurementModel`,
  :class:`ParameterSpace`, :class:`Prior`, :func:`scale` / :func:`unscale`.
* :func:`read_parameter_values`: a table of parameter values as a problem's ``theta``.
"""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._base import AbstractProblem as AbstractProblem
from ._base import BoundedTransform as BoundedTransform
from ._base import GradientMode as GradientMode
from ._base import Simulation as Simulation
from ._noise import MeasurementModel as MeasurementModel
from ._parameters import SCALES as SCALES
from ._parameters import ParameterSpace as ParameterSpace
from ._parameters import Prior as Prior
from ._parameters import effective_prior as effective_prior
from ._parameters import scale as scale
from ._parameters import unscale as unscale
from ._parameter_values import read_parameter_values as read_parameter_values
from ._petab import from_petab as from_petab
from ._petab import table_files as table_files
from ._problem import Problem as Problem
from ._tables import Files as Files
