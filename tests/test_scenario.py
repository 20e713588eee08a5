"""Scenario predictions against closed forms: A(t) = A0 exp(-k t) under interventions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celltwin.errors import CelltwinInputError
from celltwin.model import Model
from celltwin.problem import Problem
from celltwin.scenario import Dose, Inhibitor, Knockout, Overexpression, plot_scenarios, predict

TIMES = [0.0, 1.0, 2.0, 4.0]


def decay_problem() -> Problem:
    m = Model("decay")
    m.add_species("A", 10.0)
    m.add_species("B", 3.0)
    m.add_parameter("k", 0.5)
    m.add_parameter("k_b", 0.2)
    m.add_reaction("deg", "A ->", rate="k * A")
    m.add_reaction("deg_b", "B ->", rate="k_b * B")
    meas = pd.DataFrame({"observableId": "obs_a", "simulationConditionId": "c0", "time": TIMES,
                         "measurement": 10 * np.exp(-0.5 * np.array(TIMES)), "noiseParameters": 0.1})
    obs = pd.DataFrame({"observableFormula": ["A + B"], "noiseFormula": ["noiseParameter1_obs_a"]},
                       index=pd.Index(["obs_a"], name="observableId"))
    par = pd.DataFrame({"parameterScale": ["log10", "log10"], "lowerBound": [1e-3, 1e-3], "upperBound": [10, 10],
                        "nominalValue": [0.5, 0.2], "estimate": [1, 0]}, index=pd.Index(["k", "k_b"], name="parameterId"))
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par)


def exact(k, a0=10.0, b0=3.0, kb=0.2):
    t = np.array(TIMES)
    return a0 * np.exp(-np.outer(k, t)) + b0 * np.exp(-kb * t)


def test_interventions_match_the_closed_form():
    problem = decay_problem()
    rng = np.random.default_rng(1)
    log_k = np.log10(0.5) + 0.1 * rng.standard_normal(200)
    k = 10**log_k
    scenarios = {"ko": [Knockout("A")], "over": [Overexpression("A", 3.0)], "dose": [Dose("A", 2.0), Dose("k_b", 1.0)],
                 "inhibit_k": [Inhibitor("k", concentration=20.0, kd=5.0, unit="nM")],
                 "inhibit_A": [Inhibitor("A", concentration=1.0, kd=1.0, unit="uM", kd_unit="uM")]}
    table = predict(problem, log_k[:, None], scenarios, quantiles=(0.05, 0.5, 0.95))
    expected = {"baseline": exact(k), "ko": exact(k, a0=0.0), "over": exact(k, a0=30.0),
                "dose": exact(k, a0=2.0, kb=1.0), "inhibit_k": exact(k * 5 / 25), "inhibit_A": exact(k, a0=5.0)}
    for name, values in expected.items():
        rows = table[table.scenario == name].sort_values("time")
        np.testing.assert_allclose(rows["mean"], values.mean(axis=0), rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(rows["q95"], np.quantile(values, 0.95, axis=0), rtol=1e-5, err_msg=name)
        assert (rows["n_draws"] == 200).all() and (rows["n_failed"] == 0).all()


def test_an_uncertain_kd_widens_the_prediction_as_monte_carlo_says():
    problem = decay_problem()
    draws = np.full((4000, 1), np.log10(0.5))  # the model is certain; only the Kd is not
    item = Inhibitor("k", concentration=10.0, kd=10.0, kd_sd=0.5)
    table = predict(problem, draws, [item], times=[2.0], include_baseline=False, seed=3)
    log_kd = 1.0 + 0.5 * np.random.default_rng(3).standard_normal(4000)
    free = 1 / (1 + 10 ** (1.0 - log_kd))
    values = exact(0.5 * free)[:, 2]
    row = table.iloc[0]
    mc_error = values.std() / np.sqrt(len(values))
    assert abs(row["mean"] - values.mean()) < 1e-5 * values.mean()  # same Kd draws: same numbers
    # and the band is what the Kd spread implies (independent of celltwin): compare with a
    # fresh Monte Carlo at another seed, within its error
    other = exact(0.5 / (1 + 10 ** (1.0 - (1.0 + 0.5 * np.random.default_rng(99).standard_normal(4000)))))[:, 2]
    assert abs(row["mean"] - other.mean()) < 5 * mc_error
    assert row["q05"] < exact(np.array([0.25]))[0, 2] < row["q95"]


def test_bad_interventions_say_what_is_wrong(tmp_path):
    problem = decay_problem()
    draws = np.log10([[0.5]])
    with pytest.raises(CelltwinInputError, match="no species 'X'"):
        predict(problem, draws, [Knockout("X")])
    with pytest.raises(CelltwinInputError, match="estimated parameter"):
        predict(problem, draws, [Dose("k", 1.0)])
    with pytest.raises(CelltwinInputError, match="unit 'mol'"):
        Inhibitor("k", 1.0, 1.0, unit="mol")
    with pytest.raises(CelltwinInputError, match="unknown condition"):
        predict(problem, draws, [], conditions=["nope"])
    table = predict(problem, draws, {"ko": [Knockout("A")]})
    plot_scenarios(table, tmp_path / "s.png", data=problem.measurement_df)
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_the_scenario_command_writes_predictions_and_a_plot(tmp_path):
    import arviz as az
    from typer.testing import CliRunner

    from celltwin.cli import app
    from celltwin.problem import from_petab

    yaml_path = str(Path(__file__).resolve().parents[1] / "examples" / "mapk_cascade" / "mapk_cascade.yaml")
    problem = from_petab(yaml_path)
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={p: problem.x_nominal[k] + 0.02 * rng.standard_normal((2, 5))
                                    for k, p in enumerate(problem.parameter_ids)})
    idata.to_netcdf(tmp_path / "post.nc")
    out, png = tmp_path / "s.tsv", tmp_path / "s.png"
    result = CliRunner().invoke(app, ["scenario", yaml_path, "--posterior", str(tmp_path / "post.nc"), "--knockout",
                                      "K2", "--inhibitor", "k_act2:10:10:nM", "--times", "0,10,60",
                                      "--out", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.stderr + result.stdout
    table = pd.read_csv(out, sep="\t")
    assert set(table.scenario) == {"baseline", "K2 knocked out", "inhibitor of k_act2 at 10 nM"}
    assert sorted(table.time.unique()) == [0.0, 10.0, 60.0] and (table.n_draws == 10).all()
    ko = table[(table.scenario == "K2 knocked out") & (table.observableId == "pK2")]
    assert np.allclose(ko[["q05", "q50", "q95"]], 0.0, atol=1e-8)
    assert png.stat().st_size > 1000
    bad = CliRunner().invoke(app, ["scenario", yaml_path, "--posterior", str(tmp_path / "post.nc"),
                                   "--inhibitor", "k_act2:ten:10", "--out", str(out)])
    assert bad.exit_code == 2 and "--inhibitor" in bad.stderr
