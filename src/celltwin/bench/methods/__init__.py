"""Benchmark methods behind one interface (:class:`AbstractMethod` -> :class:`FittedMethod`)."""

from .base import AbstractMethod as AbstractMethod
from .base import FittedMethod as FittedMethod
from .base import MethodFailure as MethodFailure
from .base import ParameterDraws as ParameterDraws
from .baseline import TrainingMean as TrainingMean
from .discovery import SparseDiscovery as SparseDiscovery
from .hybrid import HybridNeuralTerm as HybridNeuralTerm
from .mechanistic import EvidenceBayes as EvidenceBayes
from .mechanistic import MechanisticBayes as MechanisticBayes
from .mechanistic import MechanisticMAP as MechanisticMAP
from .neural_ode import NeuralODE as NeuralODE
from .pysindy_peer import PySINDy as PySINDy
