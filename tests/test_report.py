"""``celltwin report``: the HTML report of a sampling result.

The results are built from synthetic draws (a known Gaussian around the true parameters)
with the sampler's own ``inference_data``, so no sampler runs here. Checked: the page is
self-contained (no external resource, every image embedded), has every section and every
parameter, degrades gracefully without posterior predictive, priors, measurement labels or
sampler statistics, caps the panels per observable, and renders in headless Chromium
without console errors (skipped where Chromium or chromedriver is not installed). The prior
densities drawn are compared with scipy (a named truncated distribution, and PEtab's
density normalised numerically where there is none).
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from test_inference_profile import TIMES, production_problem
from typer.testing import CliRunner

from celltwin.cli import app
from celltwin.inference import write_report
from celltwin.inference._idata import inference_data
from celltwin.inference._nuts import NUTS_STATS
from celltwin.inference._report import most_correlated, prior_pdf
from celltwin.model import Model
from celltwin.problem import Problem

SECTIONS = ("diagnostics", "predictive", "traces", "marginals", "pairs")
TRUE = {"k": np.log10(0.7), "d": np.log10(0.25), "scale": 2.0}  # on the parameter scales
DOSES = {"low_dose": 1.0, "high_dose": 3.0}
SAMPLE_TIMES = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 6.0, 10.0])


def two_observable_problem(measured: np.ndarray | None = None) -> Problem:
    """A -> B -> (nothing), A(0) = dose per condition; A and scale * B observed in two
    conditions. Priors: parameterScaleNormal (named on the scale), logNormal on a log10
    parameter (no named distribution: normalised numerically), normal on a lin parameter."""
    m = Model("conversion_decay")
    m.add_parameter("dose", 1.0)
    m.add_species("A", "dose")
    m.add_species("B", 0.0)
    m.add_parameter("k", 0.7)
    m.add_parameter("d", 0.25)
    m.add_parameter("scale", 2.0)
    m.add_reaction("convert", "A -> B", rate="k * A")
    m.add_reaction("degrade", "B ->", rate="d * B")
    obs = pd.DataFrame({"observableFormula": ["A", "scale * B"], "noiseFormula": ["0.1", "0.2"]},
                       index=pd.Index(["A_total", "B_scaled"], name="observableId"))
    cond = pd.DataFrame({"dose": list(DOSES.values())}, index=pd.Index(list(DOSES), name="conditionId"))
    rows = [(o, c, t) for o in obs.index for c in DOSES for t in SAMPLE_TIMES]
    meas = pd.DataFrame(rows, columns=["observableId", "simulationConditionId", "time"])
    meas["measurement"] = exact(meas) if measured is None else measured
    par = pd.DataFrame([["k", "log10", 1e-3, 10, 0.7, 1, "logNormal", "-0.5;1"],
                        ["d", "log10", 1e-3, 10, 0.25, 1, "parameterScaleNormal", "-0.6;0.5"],
                        ["scale", "lin", 0.1, 10, 2.0, 1, "normal", "2;1"]],
                       columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                "estimate", "objectivePriorType", "objectivePriorParameters"]).set_index("parameterId")
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par, conditions=cond,
                               name="conversion_decay")


def exact(meas: pd.DataFrame) -> np.ndarray:
    """Closed form: A = dose e^-kt, B = dose k / (d - k) (e^-kt - e^-dt)."""
    k, d, scale = 10 ** TRUE["k"], 10 ** TRUE["d"], TRUE["scale"]
    dose = meas["simulationConditionId"].map(DOSES).to_numpy()
    t = meas["time"].to_numpy()
    a = dose * np.exp(-k * t)
    b = scale * dose * k / (d - k) * (np.exp(-k * t) - np.exp(-d * t))
    return np.where(meas["observableId"] == "A_total", a, b)


def synthetic_draws(mean, sd, chains: int = 4, draws: int = 250, seed: int = 0) -> np.ndarray:
    """Correlated Gaussian draws (chain, draw, parameter) standing in for a sampler's output."""
    rng = np.random.default_rng(seed)
    n = len(mean)
    corr = np.full((n, n), 0.8) ** np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    cov = corr * np.outer(sd, sd)
    return rng.multivariate_normal(mean, cov, size=(chains, draws))


def nuts_stats(chains: int, draws: int, divergent: int = 3) -> dict:
    rng = np.random.default_rng(1)
    stats = {"diverging": np.zeros((chains, draws), dtype=bool), "tree_depth": rng.integers(1, 4, (chains, draws)),
             "n_steps": rng.integers(1, 16, (chains, draws)), "acceptance_rate": rng.uniform(0.6, 1, (chains, draws)),
             "energy": rng.normal(10, 1.5, (chains, draws)), "lp": rng.normal(-5, 1, (chains, draws))}
    stats["diverging"].flat[rng.choice(chains * draws, divergent, replace=False)] = True
    assert set(stats) == set(NUTS_STATS)
    return stats


def meta(problem, method: str, chains: int, draws: int) -> dict:
    return {"problem": problem.name, "parameters": list(problem.parameter_ids), "method": method, "chains": chains,
            "draws": draws, "warmup": 500, "seed": 0}


@pytest.fixture(scope="module")
def rich_idata():
    """Two observables x two conditions, priors, NUTS statistics with 3 divergences and
    posterior predictive (one simulation per draw: compiled once for the module)."""
    problem = two_observable_problem()
    rng = np.random.default_rng(7)
    measured = exact(problem.measurement_df) + np.where(problem.measurement_df["observableId"] == "A_total", 0.1, 0.2) \
        * rng.normal(size=problem.n_measurements)
    problem = two_observable_problem(measured)
    draws = synthetic_draws([TRUE[p] for p in problem.parameter_ids], [0.02, 0.03, 0.05], draws=150)
    return inference_data(problem, draws, nuts_stats(4, 150), meta(problem, "nuts", 4, 150), predictive=True, seed=0)


@pytest.fixture(scope="module")
def plain_idata():
    """One observable, flat priors, ensemble statistics, no posterior predictive."""
    problem = production_problem(1.3 + 0.7 * TIMES)
    draws = synthetic_draws([1.3, 0.7], [0.3, 0.06], chains=8, draws=200)
    rng = np.random.default_rng(2)
    stats = {"acceptance_rate": rng.uniform(0.2, 0.5, (8, 200)), "lp": rng.normal(-3, 1, (8, 200))}
    return inference_data(problem, draws, stats, meta(problem, "ensemble", 8, 200), predictive=False, seed=0)


class Page(html.parser.HTMLParser):
    """Every tag's attributes, and the page's text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_self_contained(text: str) -> Page:
    page = Page(text)
    for tag, attrs in page.tags:
        assert tag not in ("script", "iframe", "object", "embed"), tag
        for name in ("src", "href", "srcset", "data"):
            value = attrs.get(name)
            if value is not None:
                assert not re.match(r"\s*(https?:|//|file:)", value, re.IGNORECASE), (tag, name, value[:80])
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,"), attrs["src"][:40]
        if tag == "link":
            assert attrs["href"].startswith("data:"), attrs
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", text), "external resource in CSS"
    return page


def test_report_has_every_section_and_parameter(rich_idata, tmp_path):
    path = write_report(rich_idata, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    page = assert_self_contained(text)
    words = " ".join(page.text)
    for section in SECTIONS:
        assert f'id="{section}"' in text
    for pid in ("k", "d", "scale"):
        assert f"<th>{pid}</th>" in text  # a row of the diagnostics and parameter tables
    assert "Posterior report: conversion_decay" in words
    # settings header, warnings (3 divergences; ESS of 150 draws x 4 chains < 400), the stats table
    for setting in ("method", "nuts", "chains", "warmup", "created"):
        assert f"<td>{setting}</td>" in text
    assert 'class="warnings"' in text and "3 divergent transitions" in words
    assert "acceptance_rate" in text and "E-BFMI" in text
    # one predictive figure per observable; the priors are drawn (no "not recorded" note)
    for obs in ("A_total", "B_scaled"):
        assert f"<h3>{obs}</h3>" in text
    assert "logNormal(-0.5, 1.0)" in words and "not recorded" not in words
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == 2 + 1 + 1 + 1  # predictive x2, traces, marginals, pairs
    assert all(a.get("alt") for a in images)


def test_report_without_predictive_priors_or_labels(plain_idata, tmp_path):
    idata = plain_idata.copy()
    for group in idata.groups():
        getattr(idata, group).attrs.pop("priors", None)
    text = write_report(idata, tmp_path / "plain.html").read_text()
    page = assert_self_contained(text)
    words = " ".join(page.text)
    assert "no posterior predictive samples" in words
    assert "does not record the priors" in words
    for section in SECTIONS:
        assert f'id="{section}"' in text
    assert "<th>a0</th>" in text and "<th>r</th>" in text
    assert "Divergent transitions" not in words  # the ensemble records none: nothing assumed


def test_report_of_an_older_file_without_measurement_labels_or_stats(rich_idata, tmp_path):
    """No observable/condition/time coordinates, no sample_stats (as an SMC run might
    write): predictions by measurement index, a note instead of the statistics table."""
    idata = az.InferenceData(
        posterior=rich_idata.posterior,
        posterior_predictive=rich_idata.posterior_predictive.drop_vars(["observable", "condition", "time"]),
        observed_data=rich_idata.observed_data.drop_vars(["observable", "condition", "time"]))
    text = write_report(idata, tmp_path / "old.html").read_text()
    words = " ".join(assert_self_contained(text).text)
    assert "by measurement index" in words
    assert "records no per-draw sampler statistics" in words
    assert "Divergent transitions" not in words


def test_many_conditions_are_capped_with_a_note(tmp_path):
    n_conditions, times = 30, np.array([0.0, 1.0, 2.0, np.inf])
    conditions = np.repeat([f"cond_{i:02d}" for i in range(n_conditions)], len(times))
    n = conditions.size
    rng = np.random.default_rng(3)
    labels = {"observable": ("measurement", np.array(["obs"] * n)), "condition": ("measurement", conditions),
              "time": ("measurement", np.tile(times, n_conditions))}
    idata = az.from_dict(posterior={"p": rng.normal(size=(2, 50)), "q<script>": rng.normal(size=(2, 50))},
                         posterior_predictive={"y": rng.normal(size=(2, 50, n))}, observed_data={"y": rng.normal(size=n)},
                         coords={"measurement": np.arange(n)}, dims={"y": ["measurement"]})
    for group in ("posterior_predictive", "observed_data"):
        setattr(idata, group, getattr(idata, group).assign_coords(labels))
    text = write_report(idata, tmp_path / "many.html", title="<b>many</b>").read_text()
    words = " ".join(assert_self_contained(text).text)
    assert "Showing 24 of 30 conditions; 6 omitted." in words
    assert "<script>" not in text and "q&lt;script&gt;" in text  # names from the file are escaped
    assert "<title>&lt;b&gt;many&lt;/b&gt;</title>" in text


@pytest.mark.parametrize("spec, reference", [
    # a named distribution on the parameter scale: a normal truncated to the bounds
    ({"kind": "parameterScaleNormal", "a": -0.6, "b": 0.5, "scale": "log10", "lower": -3.0, "upper": 1.0},
     lambda x: stats.truncnorm.pdf(x, (-3 + 0.6) / 0.5, (1 + 0.6) / 0.5, loc=-0.6, scale=0.5)),
    # none (logNormal on a log10 parameter): PEtab's density of 10^theta, normalised over the bounds
    ({"kind": "logNormal", "a": -0.5, "b": 1.0, "scale": "log10", "lower": -3.0, "upper": 1.0},
     lambda x: stats.lognorm.pdf(10.0**x, 1.0, scale=np.exp(-0.5))
     / integrate.quad(lambda t: stats.lognorm.pdf(10.0**t, 1.0, scale=np.exp(-0.5)), -3, 1)[0]),
    ({"kind": "flat", "a": None, "b": None, "scale": "lin", "lower": -10.0, "upper": 10.0}, lambda x: np.full_like(x, 0.05)),
])
def test_prior_density_matches_scipy(spec, reference):
    x = np.linspace(spec["lower"], spec["upper"], 101)[1:-1]
    np.testing.assert_allclose(prior_pdf(spec)(x), reference(x), rtol=1e-6)
    assert np.all(prior_pdf(spec)(np.array([spec["lower"] - 1, spec["upper"] + 1])) == 0)


def test_pair_plot_takes_the_most_correlated_parameters():
    names = ["a", "b", "c", "d", "e", "f"]
    corr = np.eye(6)
    for i, j, r in [(1, 4, -0.95), (0, 5, 0.7), (2, 4, 0.5), (3, 5, 0.2)]:
        corr[i, j] = corr[j, i] = r
    assert most_correlated(names, corr, 4) == ["a", "b", "e", "f"]
    assert most_correlated(names, corr, 3) == ["a", "b", "e"]  # the second pair adds one of its two
    assert most_correlated(names[:3], corr[:3, :3], 4) == ["a", "b", "c"]


def test_cli_writes_the_report(rich_idata, tmp_path):
    nc = tmp_path / "posterior.nc"
    rich_idata.to_netcdf(str(nc))
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(nc), "--out", str(out)])
    assert result.exit_code == 0, result.stderr + result.stdout
    assert f"wrote {out}" in result.stdout
    text = out.read_text()
    assert_self_contained(text)
    assert json.loads(rich_idata.posterior.attrs["parameters"]) == ["k", "d", "scale"]
    assert all(f"<th>{p}</th>" in text for p in ("k", "d", "scale"))


@pytest.mark.parametrize("case", ["missing", "not_netcdf", "no_posterior"])
def test_cli_names_the_file_it_cannot_read(case, tmp_path):
    import xarray as xr

    nc = tmp_path / f"{case}.nc"
    if case == "not_netcdf":
        nc.write_text("parameterId\tvalue\n")
    elif case == "no_posterior":
        xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(nc, engine="h5netcdf")
    result = CliRunner().invoke(app, ["report", str(nc), "--out", str(tmp_path / "report.html")])
    text = result.stderr + result.stdout
    assert result.exit_code == 2, text
    assert "error:" in result.stderr and str(nc) in result.stderr.replace("\n", "")
    assert "Traceback" not in text
    assert not (tmp_path / "report.html").exists()


def chrome_driver():
    """Headless Chromium through selenium; skips when the browser or driver is absent."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        pytest.skip("Chromium or chromedriver not found on PATH (Debian: apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_report_renders_in_a_browser(rich_idata, tmp_path):
    """No console errors, every image decoded; a full-page screenshot is saved to
    $CELLTWIN_REPORT_SCREENSHOT (default: the test's temporary folder)."""
    path = write_report(rich_idata, tmp_path / "report.html")
    driver = chrome_driver()
    try:
        driver.set_window_size(1400, 900)
        driver.get(path.resolve().as_uri())
        sizes = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);")
        assert len(sizes) == 5 and all(c and w > 0 and h > 0 for c, w, h in sizes), sizes
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
        # the window's height includes the browser's frame: size the viewport to the page
        frame = driver.execute_script("return window.outerHeight - window.innerHeight;")
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(1400, height + frame)
        screenshot = Path(os.environ.get("CELLTWIN_REPORT_SCREENSHOT", tmp_path / "report.png"))
        assert driver.save_screenshot(str(screenshot)), screenshot
        assert screenshot.stat().st_size > 10_000
    finally:
        driver.quit()
