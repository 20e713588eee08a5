"""Model discovery: sparse regression of time courses onto candidate terms, giving a Model again.

The pieces are swappable: a candidate library (:mod:`.library`), a derivative estimate
(:mod:`.differentiation`: weak form, smoothed or plain finite differences) and a sparse
optimizer (:mod:`.optimizers`: STLSQ, LASSO / elastic net, bagging, horseshoe).
"""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from . import differentiation as differentiation
from . import library as library
from . import optimizers as optimizers
from . import systems as systems
from ._data import TimeCourses as TimeCourses
from ._data import Trajectory as Trajectory
from ._data import read_time_courses as read_time_courses
from ._discover import Discovery as Discovery
from ._discover import discover as discover
from ._conservation import conserved_directions as conserved_directions
from ._conservation import stoichiometric_conservation as stoichiometric_conservation
from ._knowledge import Knowledge as Knowledge
from ._network import ReactionSearch as ReactionSearch
from ._network import discover_network as discover_network
from ._network import discover_reactions as discover_reactions
from ._reactions import Reaction as Reaction
from ._reactions import equations_of as equations_of
from ._reactions import reactions_of as reactions_of
from ._knowledge import read_knowledge as read_knowledge
from ._metrics import coefficient_error as coefficient_error
from ._metrics import term_f1 as term_f1
from ._metrics import trajectory_error as trajectory_error
from ._trajectory_fit import TrajectoryFit as TrajectoryFit
from ._trajectory_fit import fit_trajectories as fit_trajectories
from ._trajectory_fit import noise_scales as noise_scales
from ._trajectory_search import addition_scores as addition_scores
from ._trajectory_search import pair_scores as pair_scores
from ._trajectory_search import stepwise_search as stepwise_search
from ._symbolic import SymbolicTerm as SymbolicTerm
from ._symbolic import recover_term as recover_term
