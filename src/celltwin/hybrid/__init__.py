"""Hybrid models: neural-network terms inside mechanistic models, their training, PEtab SciML."""

from ._problem import HybridProblem as HybridProblem
from ._spec import ArrayInput as ArrayInput
from ._spec import Experiment as Experiment
from ._spec import NetworkArrays as NetworkArrays
from ._spec import NeuralTerm as NeuralTerm
from ._spec import Observable as Observable
from ._spec import ParameterRow as ParameterRow
