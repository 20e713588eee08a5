"""Evidence: outside knowledge (ML-predicted affinities, measured rates) as extra terms of a
problem's log-posterior, with calibrated predictor error models and unit handling."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._calibration import PredictorCalibration as PredictorCalibration
from ._calibration import calibrate_predictor as calibrate_predictor
from ._calibration import cross_validate as cross_validate
from ..units import from_log10_molar as from_log10_molar
from ..units import to_log10_molar as to_log10_molar
from ._terms import AffinityEvidence as AffinityEvidence
from ._terms import Evidence as Evidence
from ._terms import LogNormalPrior as LogNormalPrior
from ._terms import RateEvidence as RateEvidence
from ._terms import binding_rate_constants as binding_rate_constants
from ._terms import kon_population_prior as kon_population_prior
from ._information import block_length as block_length
from ._information import information_gain as information_gain
from ._information import kl_1d as kl_1d
from ._information import kl_knn as kl_knn
from ._terms import detailed_balance_violations as detailed_balance_violations
from ._error_models import shipped_error_model as shipped_error_model
from ._ligand import LigandAffinity as LigandAffinity
from ._ligand import parse_ligand as parse_ligand
from ._ligand import parse_protein_chains as parse_protein_chains
from ._ligand import predict_ligand_affinity as predict_ligand_affinity
from ._structure import parse_chains as parse_chains
from ._structure import predict_structure_affinity as predict_structure_affinity
from ._table import append_prediction_row as append_prediction_row
from ._table import check_prediction_table as check_prediction_table
from ._table import read_affinity_table as read_affinity_table
from ._table import reported_values as reported_values
