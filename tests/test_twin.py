"""A twin case end to end on a small binding model: files, summary contract, resume; the summary's
and report's numbers against the posterior draws and the binding model's closed form."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest

from celltwin.errors import CelltwinInputError
from celltwin.model import Model, write_sbml
from celltwin.twin import read_case, run_case

KON, KOFF = 0.05, 0.5  # Kd = 10 nM in a model whose concentrations are nM
ALL_DRAWS = 8 * 150  # the sampler's chains x draws: predictions use every draw


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


def bound_complex(t, kon, koff, a0=20.0, b0=15.0):
    """C(t) of A + B <-> C from C(0) = 0 in closed form: dC/dt = kon (C - r+)(C - r-), with r+-
    the roots of C^2 - (a0 + b0 + Kd) C + a0 b0 (C settles at the smaller one)."""
    total = a0 + b0 + koff / kon
    gap = np.sqrt(total**2 - 4 * a0 * b0)
    upper, lower = (total + gap) / 2, (total - gap) / 2
    decay = np.exp(-kon * gap * t)
    return upper * lower * (1 - decay) / (upper - lower * decay)


def posterior_draws_on_log10_scale(path) -> pd.DataFrame:
    import arviz as az

    posterior = az.from_netcdf(str(path)).posterior
    return pd.DataFrame({p: np.asarray(posterior[p]).ravel() for p in ("kon", "koff")})


def html_table_rows(text: str, caption: str) -> list[list[str]]:
    """The body rows (cell texts) of the first table after the section heading ``caption``."""
    import re

    section = text[text.index(f"<h2>{caption}</h2>"):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL) for row in rows]


def assert_summary_recomputed_from_draws(out, summary) -> None:
    """The summary's and report's numbers against the posterior draws in the NetCDF files: the
    quantiles and the log10 Kd by numpy, the held-out RMSE and lppd and the scenario's
    complex from the binding model's closed form (all draws: ``max_draws`` keeps them all)."""
    from scipy.special import logsumexp
    from scipy.stats import norm

    draws = {run: posterior_draws_on_log10_scale(out / f"{run}.nc") for run in ("baseline", "augmented")}
    assert len(draws["baseline"]) == ALL_DRAWS
    # the prior is uniform on log10 within the bounds: 5 % and 95 % of the way (4000 draws)
    for pid, (low, high) in {"kon": (-4.0, 1.0), "koff": (-3.0, 2.0)}.items():
        entry = summary["parameters"][pid]
        assert entry["nominal"] == pytest.approx(np.log10({"kon": KON, "koff": KOFF}[pid]), rel=1e-12)
        assert entry["prior_interval"] == pytest.approx([low + 0.05 * (high - low), high - 0.05 * (high - low)],
                                                        abs=0.1)
        for run in draws:
            q = np.quantile(draws[run][pid], [0.05, 0.5, 0.95])
            assert [entry[run][k] for k in ("q05", "q50", "q95")] == pytest.approx(q, rel=1e-12)
    kd = summary["kd"][0]
    assert kd["reported_log10_kd"] == kd["predicted_log10_kd"] == pytest.approx(-8.0)
    data = pd.read_csv(out.parent / "t.tsv", sep="\t")
    scenario = pd.read_csv(out / "scenario.tsv", sep="\t")
    for run, d in draws.items():
        log_kd = d["koff"] - d["kon"] - 9.0  # nM -> M
        q05, q50, q95 = np.quantile(log_kd, [0.05, 0.5, 0.95])
        assert (kd[f"{run}_q50"], kd[f"{run}_width90"]) == pytest.approx((q50, q95 - q05), abs=1e-9)
        assert kd[f"{run}_error"] == pytest.approx(abs(q50 + 8.0), abs=1e-9)
        for rate in ("koff", "kon"):  # the draws are log10 of the model's units
            assert [kd[f"{run}_log10_{rate}_{q}"] for q in ("q05", "q50", "q95")] == pytest.approx(
                np.quantile(d[rate], [0.05, 0.5, 0.95]), abs=1e-9)
        # held-out A(t) = 20 - C(t), sigma 0.3: RMSE of the median prediction, and lppd
        kon, koff = 10.0 ** d["kon"].to_numpy()[:, None], 10.0 ** d["koff"].to_numpy()[:, None]
        predicted = 20.0 - bound_complex(data["time"].to_numpy()[None, :], kon, koff)
        rmse = np.sqrt(np.mean((np.median(predicted, axis=0) - data["measurement"].to_numpy()) ** 2))
        pointwise = norm.logpdf(data["measurement"].to_numpy(), predicted, 0.3)
        lppd = np.sum(logsumexp(pointwise, axis=0) - np.log(len(pointwise)))
        assert summary["held_out"][f"rmse_{run}"] == pytest.approx(rmse, abs=1e-6)
        assert summary["held_out"][f"lppd_{run}"] == pytest.approx(lppd, abs=1e-6)
        # the scenario's unperturbed complex at t = 0, 1, 5
        unperturbed = (scenario.posterior == run) & (scenario.scenario == "baseline") & (scenario.observableId == "obs_c")
        rows = scenario[unperturbed].sort_values("time")
        complex_ = bound_complex(rows["time"].to_numpy()[None, :], kon, koff)
        np.testing.assert_allclose(rows[["q05", "q50", "q95"]].to_numpy(),
                                   np.quantile(complex_, [0.05, 0.5, 0.95], axis=0).T, rtol=1e-6, atol=1e-9)
    # report.html: the parameter table and the overview's held-out numbers (4 significant digits)
    text = (out / "report.html").read_text()
    table = {row[0]: row for row in html_table_rows(text, "All parameters")}
    for pid in ("kon", "koff"):
        shown = [float(v) for v in table[pid][7:10]]  # augmented q05, q50, q95
        assert shown == pytest.approx(np.quantile(draws["augmented"][pid], [0.05, 0.5, 0.95]), rel=1e-3)
    overview = {row[0]: float(row[1]) for row in html_table_rows(text, "Overview")}
    assert overview["held-out rmse_augmented"] == pytest.approx(summary["held_out"]["rmse_augmented"], rel=1e-3)
    assert overview["held-out n_points"] == 4


def test_a_case_runs_end_to_end_and_resumes(tmp_path):
    case = read_case(write_case(tmp_path))
    out = tmp_path / "out"
    summary = run_case(case, out, log=lambda m: None, max_draws=ALL_DRAWS)
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
    assert {"baseline", "augmented", "elpd_diff_augmented_minus_baseline", "elpd_diff_se"} <= set(written["loo"])
    assert written["loo"]["baseline"]["n_points"] == 4  # m.tsv
    assert set(written["bootstrap_block_draws"]) == {"baseline", "augmented"}
    # the Kd evidence (sd 0.3 log10) must narrow the posterior of log10 Kd: only kon/koff's
    # ratio is weakly fixed by one time course
    kd = written["kd"][0]
    assert kd["augmented_width90"] < 0.5 * kd["baseline_width90"]
    assert abs(kd["augmented_q50"] - (-8.0)) < 0.3
    scenario = pd.read_csv(out / "scenario.tsv", sep="\t")
    knocked = scenario[(scenario.scenario == "intervention") & (scenario.observableId == "obs_c")]
    assert np.allclose(knocked[["q05", "q50", "q95"]], 0.0, atol=1e-8)
    assert_summary_recomputed_from_draws(out, written)
    # a rerun reads the finished posteriors instead of sampling again
    again = run_case(case, out, log=lambda m: None, max_draws=ALL_DRAWS)
    assert again["parameters"] == summary["parameters"]
    # the rerun's wall time still counts the sampling done by the first invocation (the two
    # runs were sampled at once, in two processes: the longer of them)
    seconds = [r["seconds"] for r in summary["diagnostics"].values()]
    assert [r["seconds"] for r in again["diagnostics"].values()] == seconds
    for r in again["diagnostics"].values():  # the sampler's own clock: within the invocation's share
        assert 0 < r["seconds_all_invocations"] <= r["seconds"]
    assert again["wall_time_s"] >= max(seconds)
    # sampled alone (this process), the augmented run gives the same draws as in its own process
    first = az.from_netcdf(str(out / "augmented.nc"))
    (out / "augmented.nc").unlink()
    run_case(case, out, log=lambda m: None, max_draws=ALL_DRAWS, at_once=False)
    alone = az.from_netcdf(str(out / "augmented.nc"))
    for pid in ("kon", "koff"):
        np.testing.assert_allclose(alone.posterior[pid].values, first.posterior[pid].values, rtol=1e-9)


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


def test_gain_plot_draws_an_interval_that_leaves_out_the_estimate(monkeypatch):
    """A bootstrap percentile interval of a biased KL estimate need not contain the estimate
    (the GPCR case had one): the report draws it as it is instead of failing. The figure holds
    the estimates as bars, largest first, and each interval as given."""
    import celltwin.twin._report as report

    drawn = {}

    def capture(fig, alt):
        ax = fig.axes[0]
        drawn["bars"] = [(p.get_x() + p.get_width() / 2, p.get_height()) for p in ax.patches]
        drawn["lines"] = [segment.tolist() for segment in ax.collections[0].get_segments()]
        drawn["labels"] = [label.get_text() for label in ax.get_xticklabels()]
        return original(fig, alt)

    original = report.image
    monkeypatch.setattr(report, "image", capture)
    summary = {"parameters": {"k1": {"kl_bits": 0.5, "kl_bits_interval": [0.6, 1.2]},
                              "k2": {"kl_bits": 2.0, "kl_bits_interval": [1.5, 2.5]},
                              "k3": {"kl_bits": 1.0, "kl_bits_interval": [0.8, 1.1]}}}
    html = report.gain_section(summary)
    assert "<img" in html and "information gain" in html
    assert drawn["labels"] == ["k2", "k3", "k1"]
    assert drawn["bars"] == [(0, 2.0), (1, 1.0), (2, 0.5)]
    assert drawn["lines"] == [[[0, 1.5], [0, 2.5]], [[1, 0.8], [1, 1.1]], [[2, 0.6], [2, 1.2]]]


def test_loo_comparison_against_exact_leave_one_out():
    """Normal data with known sigma and a flat prior on the mean: the posterior is
    N(mean(y), sigma^2 / n) and leaving y_i out gives the closed form
    p(y_i | y_-i) = N(y_i; mean(y_-i), sigma^2 (1 + 1 / (n - 1))). PSIS-LOO on exact posterior
    draws matches the exact sum; the augmented run (a sharper posterior from a second data
    source, here a narrower draw set around the same mean) changes it as the closed form says."""
    import arviz as az
    from scipy import stats

    from celltwin.twin import loo_comparison

    rng = np.random.default_rng(3)
    sigma, n, draws = 1.0, 20, 4000
    y = rng.normal(0.5, sigma, n)

    def idata(mu):
        mu = mu.reshape(4, -1)
        loglik = stats.norm.logpdf(y[None, None, :], mu[..., None], sigma)
        return az.from_dict(posterior={"mu": mu}, log_likelihood={"y": loglik}, observed_data={"y": y})

    exact_baseline = sum(stats.norm.logpdf(y[i], np.delete(y, i).mean(), sigma * np.sqrt(1 + 1 / (n - 1)))
                         for i in range(n))
    # augmented: the mean also known from elsewhere to sd tau around 0.5 (a normal factor in the posterior)
    tau = 0.1
    precision = n / sigma**2 + 1 / tau**2
    post_mean = (y.sum() / sigma**2 + 0.5 / tau**2) / precision
    exact_augmented = 0.0
    for i in range(n):
        rest = np.delete(y, i)
        p_rest = (n - 1) / sigma**2 + 1 / tau**2
        m_rest = (rest.sum() / sigma**2 + 0.5 / tau**2) / p_rest
        exact_augmented += stats.norm.logpdf(y[i], m_rest, np.sqrt(sigma**2 + 1 / p_rest))
    result = loo_comparison({"baseline": idata(rng.normal(y.mean(), sigma / np.sqrt(n), draws)),
                             "augmented": idata(rng.normal(post_mean, 1 / np.sqrt(precision), draws))})
    assert result["baseline"]["elpd_loo"] == pytest.approx(exact_baseline, abs=0.05)
    assert result["augmented"]["elpd_loo"] == pytest.approx(exact_augmented, abs=0.05)
    assert result["elpd_diff_augmented_minus_baseline"] == pytest.approx(exact_augmented - exact_baseline, abs=0.07)
    assert result["baseline"]["n_points"] == n and result["baseline"]["n_pareto_k_above_0.7"] == 0
    assert 0 < result["elpd_diff_se"] < 5
    # a measurement fitted exactly in every draw (log-likelihood 0.5): its LOO term is exact,
    # arviz's k for it (inf) is not counted as unreliable
    mu = rng.normal(y.mean(), sigma / np.sqrt(n), draws).reshape(4, -1)
    loglik = stats.norm.logpdf(y[None, None, :], mu[..., None], sigma)
    loglik = np.concatenate([loglik, np.full(loglik.shape[:2] + (1,), 0.5)], axis=-1)
    exact = az.from_dict(posterior={"mu": mu}, log_likelihood={"y": loglik}, observed_data={"y": np.append(y, 0.0)})
    with_constant = loo_comparison({"baseline": exact, "augmented": exact})
    assert with_constant["baseline"]["n_constant_points"] == 1
    assert with_constant["baseline"]["n_pareto_k_above_0.7"] == 0 and np.isfinite(with_constant["baseline"]["pareto_k_max"])


def test_case_variants_change_priors_weight_and_held_out_observable(tmp_path):
    """Prior widths of +-1 decade around the nominal values, another evidence weight, and
    the held-out observable moved: the variant's problems read back with those bounds and
    measurement rows; the case's own files are untouched."""
    from celltwin.problem import from_petab
    from celltwin.twin import case_variant

    case = read_case(write_case(tmp_path))
    before = {p.name: p.read_text() for p in tmp_path.glob("*.tsv")}
    variant = case_variant(case, tmp_path / "variant", prior_decades=1, evidence_weight=0.5,
                           held_out_observable="obs_c")
    train, test = from_petab(variant.problem), from_petab(variant.held_out)
    assert variant.evidence_weight == 0.5 and variant.evidence == case.evidence
    np.testing.assert_allclose(train.to_linear(train.lower), [KON / 10, KOFF / 10])
    np.testing.assert_allclose(train.to_linear(train.upper), [KON * 10, KOFF * 10])
    assert set(train.measurement_df["observableId"]) == {"obs_a"} and len(train.measurement_df) == 4
    assert set(test.measurement_df["observableId"]) == {"obs_c"} and len(test.measurement_df) == 4
    assert {p.name: p.read_text() for p in tmp_path.glob("*.tsv")} == before
    # only the weight changed: the case's own PEtab tables are used as they are
    same = case_variant(case, tmp_path / "same", evidence_weight="score")
    assert same.evidence_weight == "score"
    assert len(from_petab(same.problem).measurement_df) == len(from_petab(case.problem).measurement_df)
    with pytest.raises(CelltwinInputError, match="no measurements of observable 'obs_x'.*obs_a, obs_c"):
        case_variant(case, tmp_path / "bad", held_out_observable="obs_x")
    # the case's held-out data kept out of the fit: here nothing would be left to fit
    with pytest.raises(CelltwinInputError, match="no measurements are left to fit"):
        case_variant(case, tmp_path / "bad", held_out_observable="obs_c", fit_held_out_data=False)
    with pytest.raises(CelltwinInputError, match="prior_decades"):
        case_variant(case, tmp_path / "bad", prior_decades=0)


def test_case_evidence_binds_the_case_table_with_solver_overrides(tmp_path):
    """The case's problem with its solver settings (one replaced) and its evidence term: the
    augmented minus baseline log density is the table's normal on log10 Kd (sd 0.3 at -8 M)."""
    from celltwin.twin import case_evidence

    case = read_case(write_case(tmp_path))
    evidence = case_evidence(case, rtol=1e-9)
    assert evidence.problem.settings.rtol == 1e-9 and len(evidence.terms) == 1
    baseline = evidence.switched(False)

    def term(log10_kon: float) -> float:  # koff at its nominal value; Kd = koff / kon in nM
        x = np.array([log10_kon, np.log10(KOFF)])
        return float(evidence.log_density(x) - baseline.log_density(x))

    shift = 0.45  # kon 10**0.45 times larger: log10 Kd from -8 to -8.45
    assert term(np.log10(KON) + shift) - term(np.log10(KON)) == pytest.approx(-0.5 * (shift / 0.3) ** 2, rel=1e-9)


def test_egfr_held_out_splits_with_and_without_the_case_held_out_data(tmp_path):
    """The EGFR example's split that holds out p_egfr: by default the case's held-out p_shc is
    fitted with the other training observables; with ``fit_held_out_data=False`` it stays
    out, and the training file's rows but p_egfr's are fitted, unchanged."""
    from pathlib import Path

    from celltwin.twin import case_variant

    case = read_case(Path(__file__).resolve().parents[1] / "examples" / "egfr_kholodenko" / "case.yaml")
    rows = pd.read_csv(case.problem.parent / "measurements.tsv", sep="\t")
    for fit_held_out, extra in ((True, {"p_shc"}), (False, set())):
        variant = case_variant(case, tmp_path / str(fit_held_out), held_out_observable="p_egfr",
                               fit_held_out_data=fit_held_out)
        train = pd.read_csv(variant.problem.parent / "measurements.tsv", sep="\t")
        test = pd.read_csv(variant.held_out.parent / "measurements_test.tsv", sep="\t")
        assert set(train["observableId"]) == set(rows["observableId"]) - {"p_egfr"} | extra
        assert set(test["observableId"]) == {"p_egfr"} and len(test) == (rows["observableId"] == "p_egfr").sum()
    pd.testing.assert_frame_equal(train.reset_index(drop=True),
                                  rows[rows["observableId"] != "p_egfr"].reset_index(drop=True))
