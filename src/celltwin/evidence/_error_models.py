"""Learned error models of affinity predictors, shipped with celltwin.

Each is a :class:`~._calibration.PredictorCalibration` (measured vs predicted log10 Kd: bias,
scale, Student-t tails) fitted by ``tools/fit_affinity_error_models.py`` on the pairs named in
its file, with the out-of-sample coverage of its intervals:

* ``prodigy``: PRODIGY's contact model (IC-NIS) on the 81 complexes of its benchmark. PRODIGY
  was fitted on those same complexes, so the error model is fitted on *leave-one-out*
  predictions (IC-NIS refitted without each complex), not on PRODIGY's published, in-sample
  ones, which would make its intervals too narrow.
* ``ppi_affinity``: AlphaFold 3 + PPI-Affinity (Huber & Finley) on the 9 EGFR and 1 GPCR
  reactions with a literature Kd; slope held at 1 (ten pairs cannot identify it).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CelltwinInputError

if TYPE_CHECKING:  # imported where used: it imports jax
    from ._calibration import PredictorCalibration

FOLDER = Path(__file__).with_name("error_models")
ERROR_MODELS = ("prodigy", "ppi_affinity")


@dataclasses.dataclass(frozen=True)
class PredictorErrorModel:
    """A predictor's calibration and where it comes from.

    Attributes:
        name: the file's stem (``ERROR_MODELS``).
        predictor: what made the predictions.
        temperature: K at which predictions and measurements were turned into log10 Kd.
        pairs: how the (prediction, measurement) pairs were obtained.
        calibration: the fitted model (``calibration.interval(x, 0.9)`` etc.).
        cross_validation: out-of-sample coverage of the 50 % and 90 % intervals and errors.
    """

    name: str
    predictor: str
    temperature: float
    pairs: str
    calibration: PredictorCalibration
    cross_validation: dict

    def interval(self, predicted_log10: float, level: float = 0.9) -> tuple[float, float]:
        lo, hi = self.calibration.interval([predicted_log10], level)
        return float(lo[0]), float(hi[0])

    def median(self, predicted_log10: float) -> float:
        return float(self.calibration.median([predicted_log10])[0])


def shipped_error_model(name: str) -> PredictorErrorModel:
    """The error model ``name`` (one of ``ERROR_MODELS``) shipped with celltwin.

    Raises:
        CelltwinInputError: an unknown name.
    """
    from ._calibration import PredictorCalibration

    if name not in ERROR_MODELS:
        raise CelltwinInputError(f"unknown predictor error model {name!r}; use one of {', '.join(ERROR_MODELS)}")
    data = json.loads((FOLDER / f"{name}.json").read_text())
    return PredictorErrorModel(name=name, predictor=data["predictor"], temperature=float(data["temperature"]),
                               pairs=data["pairs"], calibration=PredictorCalibration.from_dict(data["calibration"]),
                               cross_validation=data["cross_validation"])


def write_error_model(path, *, predictor: str, temperature: float, pairs: str, calibration,
                      cross_validation: dict) -> None:
    """Write an error model in the shipped format (used by ``tools/fit_affinity_error_models.py``)."""
    from .._atomic import atomic_write_text

    clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in cross_validation.items()}
    data = {"predictor": predictor, "temperature": temperature, "pairs": pairs, "calibration": calibration.to_dict(),
            "cross_validation": clean}
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
