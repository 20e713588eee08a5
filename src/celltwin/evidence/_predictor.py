"""A built-in binding-affinity predictor for protein-protein complexes: a Bayesian linear
model of the binding free energy on interface contact counts and non-interacting surface
composition (the PRODIGY feature set), fitted on the 81 complexes of the PRODIGY benchmark
by ``tools/train_affinity_predictor.py``; the coefficients and their uncertainty ship in
``contact_affinity_predictor.json``, so using it needs no data files.

Predictions are Student-t (reference prior ``p(beta, sigma) ~ 1/sigma``: the parameter
uncertainty and the residual scatter), and plug into
:func:`~celltwin.evidence.calibrate_predictor` like any other predictor's output.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .._atomic import atomic_write_text
from ..units import R_KCAL

FEATURES = ("ICs_charged-charged", "ICs_charged-polar", "ICs_charged-apolar", "ICs_polar-polar",
            "ICS_polar-apolar", "ICs_apolar-apolar", "NIS_polar", "NIS_charged")
SHIPPED = Path(__file__).with_name("contact_affinity_predictor.json")


@dataclasses.dataclass(frozen=True)
class ContactAffinityPredictor:
    """``dG = beta_0 + sum_j beta_j feature_j`` (kcal/mol) with a Student-t predictive.

    Attributes:
        features: the feature columns (interface contacts by residue class; percentages of
            polar and charged residues on the non-interacting surface).
        coefficients: intercept first, then one per feature.
        xtx_inv: ``(X'X)^-1`` of the training design (intercept included).
        s: residual standard deviation (kcal/mol); ``dof`` = n - p.
        temperature: K at which the training dG were measured.
        cross_validation: leave-one-out errors of the training fit (kcal/mol).
    """

    features: tuple[str, ...]
    coefficients: np.ndarray
    xtx_inv: np.ndarray
    s: float
    dof: int
    temperature: float = 298.15
    cross_validation: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def fit(cls, table: pd.DataFrame, target: str = "DG", features=FEATURES,
            temperature: float = 298.15) -> "ContactAffinityPredictor":
        """Least squares with the reference prior; leave-one-out errors from the hat matrix."""
        X, y = _design(table, features), table[target].to_numpy(dtype=float)
        xtx_inv = np.linalg.inv(X.T @ X)
        beta = xtx_inv @ X.T @ y
        resid = y - X @ beta
        dof = len(y) - X.shape[1]
        leverage = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
        loo = resid / (1 - leverage)  # exact leave-one-out residuals of a linear model
        cv = {"loo_mae_kcal": float(np.mean(np.abs(loo))), "loo_rmse_kcal": float(np.sqrt(np.mean(loo**2))),
              "loo_pearson_r": float(stats.pearsonr(y - loo, y)[0]), "n": len(y)}
        return cls(tuple(features), beta, xtx_inv, math.sqrt(float(resid @ resid) / dof), dof, temperature, cv)

    @classmethod
    def shipped(cls) -> "ContactAffinityPredictor":
        """The predictor fitted on the PRODIGY benchmark, as shipped with celltwin."""
        return cls.from_json(SHIPPED)

    def predict(self, table: pd.DataFrame, level: float = 0.9) -> pd.DataFrame:
        """Per row: predicted dG (kcal/mol), its predictive sd and central ``level``
        interval, and log10(Kd / M) at the training temperature."""
        X = _design(table, self.features)
        mean = X @ self.coefficients
        scale = self.s * np.sqrt(1 + np.einsum("ij,jk,ik->i", X, self.xtx_inv, X))
        q = stats.t.ppf(0.5 + level / 2, self.dof)
        sd = scale * math.sqrt(self.dof / (self.dof - 2))
        return pd.DataFrame({"dG_kcal": mean, "sd_kcal": sd, "lower_kcal": mean - q * scale,
                             "upper_kcal": mean + q * scale,
                             "log10_kd_molar": mean / (R_KCAL * self.temperature * math.log(10))}, index=table.index)

    def to_json(self, path) -> None:
        data = {"features": list(self.features), "coefficients": self.coefficients.tolist(),
                "xtx_inv": self.xtx_inv.tolist(), "s": self.s, "dof": self.dof, "temperature": self.temperature,
                "cross_validation": self.cross_validation}
        atomic_write_text(path, json.dumps(data, indent=1) + "\n")

    @classmethod
    def from_json(cls, path) -> "ContactAffinityPredictor":
        d = json.loads(Path(path).read_text())
        return cls(tuple(d["features"]), np.array(d["coefficients"]), np.array(d["xtx_inv"]), d["s"], d["dof"],
                   d["temperature"], d.get("cross_validation", {}))


def _design(table: pd.DataFrame, features) -> np.ndarray:
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise KeyError(f"the affinity predictor needs the columns {', '.join(missing)}")
    values = table[list(features)].to_numpy(dtype=float)
    bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
    if bad.size:
        raise ValueError(f"rows {bad.tolist()} have missing or non-numeric features")
    return np.column_stack([np.ones(len(table)), values])
