"""The built-in contact affinity predictor: least squares and exact leave-one-out against
brute force, the shipped coefficients reproduce from the shared data, predictions and
their intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import require_shared

from celltwin.evidence._predictor import FEATURES, ContactAffinityPredictor


def synthetic_table(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.uniform(0, 30, (n, len(FEATURES))), columns=list(FEATURES))
    df["DG"] = -4 - 0.1 * df["ICs_charged-charged"] - 0.2 * df["ICs_apolar-apolar"] + rng.normal(0, 1.0, n)
    return df


def test_fit_matches_least_squares_and_brute_force_leave_one_out():
    df = synthetic_table(0)
    pred = ContactAffinityPredictor.fit(df)
    X = np.column_stack([np.ones(len(df)), df[list(FEATURES)].to_numpy()])
    np.testing.assert_allclose(pred.coefficients, np.linalg.lstsq(X, df["DG"].to_numpy(), rcond=None)[0], rtol=1e-9)
    loo = []
    for i in range(len(df)):
        sub = ContactAffinityPredictor.fit(df.drop(index=i))
        loo.append(float(sub.predict(df.iloc[[i]])["dG_kcal"].iloc[0]) - df["DG"].iloc[i])
    assert pred.cross_validation["loo_mae_kcal"] == pytest.approx(np.mean(np.abs(loo)), rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_predictive_intervals_cover_new_complexes(seed):
    pred = ContactAffinityPredictor.fit(synthetic_table(seed, 200))
    new = synthetic_table(seed + 100, 400)
    out = pred.predict(new, level=0.9)
    covered = ((out["lower_kcal"] <= new["DG"]) & (new["DG"] <= out["upper_kcal"])).mean()
    assert 0.85 <= covered <= 0.95  # sd of the coverage ~1.5 %


def test_shipped_predictor_reproduces_from_the_prodigy_data(tmp_path):
    table = pd.read_csv(require_shared("huber-finley", "ml_pipeline", "PRODIGY_dataset.csv"))
    shipped = ContactAffinityPredictor.shipped()
    refit = ContactAffinityPredictor.fit(table)
    np.testing.assert_allclose(shipped.coefficients, refit.coefficients, rtol=1e-10)
    out = shipped.predict(table)
    assert np.corrcoef(out["dG_kcal"], table["DG"])[0, 1] > 0.6
    with pytest.raises(KeyError, match="NIS_polar"):
        shipped.predict(table.drop(columns=["NIS_polar"]))
