"""A twin case end to end on a small binding model: files, summary contract, resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from celltwin.errors import CelltwinInputError
from celltwin.model import Model, write_sbml
from celltwin.twin import read_case, run_case

KON, KOFF = 0.05, 0.5  # Kd = 10 nM in a model whose concentrations are nM


def write_case(folder, sampler="{method: ensemble, chains: 8, warmup: 150, draws: 150, seed: 1}"):
    m = Model("binding")
    m.add_compartment("cell", 1.0)
    m.add_species("A", 20.0, compartment="cell")
    m.add_species("B", 15.0, compartment="cell")
    m.add_species("C", 0.0, compartment="cell")
    m.add_parameter("kon", KON)
    m.add_parameter("koff", KOFF)
    m.add_reaction("bind", "A + B -> C", rate="kon * A * B - koff * C")
    write_sbml(m, folder / "model.xml")
    # early times only: the initial binding rate kon * A0 * B0 is measured, koff (and so the
    # Kd) hardly at all, so the Kd evidence has something to add
    times = np.array([0.01, 0.02, 0.05, 0.1])
    rng = np.random.default_rng(0)
    c = KON * 20 * 15 * times
    pd.DataFrame({"observableId": "obs_c", "simulationConditionId": "c0", "time": times,
                  "measurement": c + 0.02 * rng.standard_normal(4)}).to_csv(folder / "m.tsv", sep="\t", index=False)
    pd.DataFrame({"observableId": "obs_a", "simulationConditionId": "c0", "time": times,
                  "measurement": 20 - c}).to_csv(folder / "t.tsv", sep="\t", index=False)
    pd.DataFrame({"conditionId": ["c0"], "B": [15.0]}).to_csv(folder / "c.tsv", sep="\t", index=False)
    pd.DataFrame({"observableId": ["obs_c", "obs_a"], "observableFormula": ["C", "A"], "noiseFormula": ["0.02", "0.3"]}
                 ).to_csv(folder / "o.tsv", sep="\t", index=False)
    pd.DataFrame({"parameterId": ["kon", "koff"], "parameterScale": "log10", "lowerBound": [1e-4, 1e-3],
                  "upperBound": [10.0, 100.0], "nominalValue": [KON, KOFF], "estimate": 1}
                 ).to_csv(folder / "p.tsv", sep="\t", index=False)
    for name, meas in (("train", "m.tsv"), ("test", "t.tsv")):
        (folder / f"{name}.yaml").write_text(
            "format_version: 1\nparameter_file: p.tsv\nproblems:\n- sbml_files: [model.xml]\n"
            f"  condition_files: [c.tsv]\n  observable_files: [o.tsv]\n  measurement_files: [{meas}]\n")
    (folder / "evidence.tsv").write_text("reaction\tvalue\tunit\tsd\treported_value\nbind\t1e-8\tM\t0.3\t1e-8\n")
    (folder / "case.yaml").write_text(
        f"name: binding\nproblem: train.yaml\nheld_out: test.yaml\nevidence: evidence.tsv\nsampler: {sampler}\n"
        "scenario:\n  - {knockout: B}\nscenario_times: [0, 1, 5]\n")
    return folder / "case.yaml"


def test_a_case_runs_end_to_end_and_resumes(tmp_path):
    case = read_case(write_case(tmp_path))
    out = tmp_path / "out"
    summary = run_case(case, out, log=lambda m: None)
    for name in ("report.html", "summary.json", "baseline.nc", "augmented.nc", "kd.tsv", "scenario.tsv",
                 "baseline_report.html", "augmented_report.html"):
        assert (out / name).is_file(), name
    written = json.loads((out / "summary.json").read_text())
    assert set(written["parameters"]) == {"kon", "koff"}
    for entry in written["parameters"].values():
        assert set(entry) >= {"prior_interval", "baseline", "augmented", "kl_bits"}
        assert entry["baseline"]["q05"] <= entry["baseline"]["q50"] <= entry["baseline"]["q95"]
    assert {"rmse_baseline", "rmse_augmented", "lppd_baseline", "lppd_augmented"} <= set(written["held_out"])
    for key in ("max_rhat", "min_bulk_ess", "wall_time_s"):
        assert np.isfinite(written[key])
    # the Kd evidence (sd 0.3 log10) must narrow the posterior of log10 Kd: only kon/koff's
    # ratio is weakly fixed by one time course
    kd = written["kd"][0]
    assert kd["augmented_width90"] < 0.5 * kd["baseline_width90"]
    assert abs(kd["augmented_q50"] - (-8.0)) < 0.3
    scenario = pd.read_csv(out / "scenario.tsv", sep="\t")
    knocked = scenario[(scenario.scenario == "intervention") & (scenario.observableId == "obs_c")]
    assert np.allclose(knocked[["q05", "q50", "q95"]], 0.0, atol=1e-8)
    # a rerun reads the finished posteriors instead of sampling again
    again = run_case(case, out, log=lambda m: None)
    assert again["parameters"] == summary["parameters"]
    # the rerun's wall time still counts the sampling done by the first invocation
    sampled = sum(r["seconds"] for r in summary["diagnostics"].values())
    assert [r["seconds"] for r in again["diagnostics"].values()] == [r["seconds"] for r in summary["diagnostics"].values()]
    assert again["wall_time_s"] >= sampled


def test_case_files_are_checked(tmp_path):
    path = write_case(tmp_path)
    text = path.read_text()
    path.write_text(text.replace("evidence: evidence.tsv", "evidence: missing.tsv"))
    with pytest.raises(CelltwinInputError, match="'evidence': no such file"):
        read_case(path)
    path.write_text(text + "colour: blue\n")
    with pytest.raises(CelltwinInputError, match="unknown field"):
        read_case(path)
    path.write_text(text.replace("{knockout: B}", "{explode: B}"))
    with pytest.raises(CelltwinInputError, match="scenario"):
        read_case(path)


def test_gain_plot_draws_an_interval_that_leaves_out_the_estimate():
    """A bootstrap percentile interval of a biased KL estimate need not contain the estimate
    (the GPCR case had one): the report draws it as it is instead of failing."""
    from celltwin.twin._report import gain_section

    summary = {"parameters": {"k1": {"kl_bits": 0.5, "kl_bits_interval": [0.6, 1.2]},
                              "k2": {"kl_bits": 2.0, "kl_bits_interval": [1.5, 2.5]}}}
    html = gain_section(summary)
    assert "<img" in html and "information gain" in html
