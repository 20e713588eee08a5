"""PEtab SciML: hybrid (mechanistic + neural network) problems read from the format's YAML, TSV
and HDF5 files."""

from ._errors import SciMLError as SciMLError
from ._import import from_petab_sciml as from_petab_sciml
from ._layers import LAYERS as LAYERS
from ._network import Network as Network
from ._network import NetworkSpec as NetworkSpec
from ._network import parse_network as parse_network
from ._network import read_network as read_network
from ._network import read_parameters as read_parameters
from ._tables import SCIML as SCIML
