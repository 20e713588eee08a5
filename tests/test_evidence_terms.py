"""Evidence terms against scipy densities; binding constants found from rate laws; the
problem's posterior plus evidence, and the baseline with evidence switched off."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from conftest import require_shared
from scipy import stats

from celltwin.errors import CelltwinInputError
from celltwin.evidence import (
    AffinityEvidence,
    Evidence,
    RateEvidence,
    binding_rate_constants,
    calibrate_predictor,
    kon_population_prior,
)
from celltwin.model import Model
from celltwin.problem import Problem


def binding_problem() -> Problem:
    """L + R <-> C with kon (per nM per s) and koff (per s), C observed."""
    m = Model("binding")
    m.add_species("L", 10.0)
    m.add_species("R", 5.0)
    m.add_species("C", 0.0)
    m.add_parameter("kon", 0.01)
    m.add_parameter("koff", 0.1)
    m.add_reaction("bind", "L + R -> C", rate="kon * L * R - koff * C")
    t = np.array([1.0, 5.0, 20.0])
    meas = pd.DataFrame({"observableId": "c", "simulationConditionId": "x", "time": t, "measurement": [0.4, 1.5, 2.5]})
    obs = pd.DataFrame({"observableFormula": ["C"], "noiseFormula": ["0.2"]}, index=pd.Index(["c"], name="observableId"))
    par = pd.DataFrame([["kon", "log10", 1e-5, 1.0, 0.01, 1], ["koff", "log10", 1e-4, 10.0, 0.1, 1]],
                       columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue", "estimate"])
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par.set_index("parameterId"))


def test_binding_rate_constants_are_read_from_the_rate_law():
    problem = binding_problem()
    assert binding_rate_constants(problem.model, "bind") == ("kon", "koff")
    m = Model("mm")
    m.add_species("S", 1.0)
    m.add_parameter("V", 1.0)
    m.add_parameter("K", 1.0)
    m.add_reaction("use", "S ->", rate="V * S / (K + S)")
    with pytest.raises(ValueError, match="name kon and koff"):
        binding_rate_constants(m, "use")
    with pytest.raises(KeyError, match="no reaction 'nope'"):
        binding_rate_constants(m, "nope")
    # a dissociation written forwards (Kholodenko's GS -> Grb + SOS): kon is the backward constant
    m.add_species("GS", 1.0), m.add_species("Grb", 1.0), m.add_species("SOS", 1.0)
    m.add_parameter("k12f", 0.0015), m.add_parameter("k12b", 1e-4)
    m.add_reaction("v_12", "GS -> Grb + SOS", rate="k12f * GS - k12b * Grb * SOS")
    assert binding_rate_constants(m, "v_12") == ("k12b", "k12f")


def test_affinity_evidence_is_a_gaussian_on_log10_kd_in_molar():
    ev = AffinityEvidence("kon", "koff", value=20.0, unit="nM", sd=1.3, weight=0.5)
    kon, koff = 0.02, 0.3  # model Kd = 15 nM
    expected = 0.5 * stats.norm.logpdf(math.log10(15e-9), math.log10(20e-9), 1.3)
    assert float(ev.log_density({"kon": kon, "koff": koff})) == pytest.approx(expected, rel=1e-12)
    # the same Kd as a free energy at 310 K
    dg = 0.001987204259 * 310.0 * math.log(20e-9)
    ev_dg = AffinityEvidence("kon", "koff", value=dg, unit="kcal/mol", sd=1.3, weight=0.5)
    assert float(ev_dg.log_density({"kon": kon, "koff": koff})) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="exactly one of sd and calibration"):
        AffinityEvidence("kon", "koff", value=1.0)


def test_affinity_evidence_with_a_calibrated_predictor_uses_its_predictive_density():
    rng = np.random.default_rng(0)
    x = rng.uniform(-11, -6, 40)
    cal = calibrate_predictor(x, 0.3 + 0.95 * x + 0.7 * rng.normal(size=40))
    ev = AffinityEvidence("kon", "koff", value=1e-8, unit="M", calibration=cal)
    model_kd = math.log10(0.3 / 0.02) - 9
    loc, scale = (float(v) for v in cal._gaussian_loc_scale(-8.0))
    expected = stats.t.logpdf(model_kd, cal.params["dof"], loc, scale)
    assert float(ev.log_density({"kon": 0.02, "koff": 0.3})) == pytest.approx(expected, rel=1e-10)


def test_rate_and_residence_time_evidence():
    rate = RateEvidence("koff", value=0.05, sd=0.5)
    assert float(rate.log_density({"koff": 0.1})) == pytest.approx(stats.norm.logpdf(-1.0, math.log10(0.05), 0.5))
    residence = RateEvidence("koff", value=20.0, sd=0.5, kind="residence_time")  # 20 s = 1 / 0.05 per s
    assert float(residence.log_density({"koff": 0.1})) == pytest.approx(stats.norm.logpdf(1.0, math.log10(20.0), 0.5))


def test_kon_population_prior_from_skempi():
    df = pd.read_csv(require_shared("affinity", "skempi_v2.csv"), sep=";")
    kon = pd.to_numeric(df["kon_wt_parsed"], errors="coerce").dropna().to_numpy()
    prior = kon_population_prior("kon", kon, model_unit="nM")
    logs = np.log10(kon[kon > 0])
    assert prior.mean == pytest.approx(logs.mean() - 9) and prior.sd == pytest.approx(logs.std(ddof=1))
    assert 3 < prior.mean + 9 < 8  # protein-protein association: 10^3 - 10^8 per M per s


def test_evidence_adds_to_the_posterior_and_switches_off():
    problem = binding_problem()
    ev = AffinityEvidence("kon", "koff", value=10.0, unit="nM", sd=1.0)
    evidence = Evidence(problem, [ev, RateEvidence("koff", 0.1, 0.3)])
    theta = jnp.log10(jnp.array([0.02, 0.3]))
    base = float(problem.log_posterior(theta))
    terms = np.asarray(evidence.term_log_densities(theta))
    assert terms[0] == pytest.approx(float(ev.log_density({"kon": 0.02, "koff": 0.3})))
    assert float(evidence.log_density(theta)) == pytest.approx(base + terms.sum(), rel=1e-12)
    assert float(evidence.switched(False).log_density(theta)) == pytest.approx(base, rel=1e-12)
    with pytest.raises(CelltwinInputError, match="no parameter 'k9'"):
        Evidence(problem, [RateEvidence("k9", 1.0, 1.0)])


def cycle_model() -> Model:
    """A + B <-> AB, AB + C <-> ABC, B + C <-> BC, BC + A <-> ABC: a thermodynamic cycle."""
    m = Model("cycle")
    for s in ("A", "B", "C", "AB", "BC", "ABC"):
        m.add_species(s, 1.0)
    for r, eq in (("r1", "A + B -> AB"), ("r2", "AB + C -> ABC"), ("r3", "B + C -> BC"), ("r4", "BC + A -> ABC")):
        m.add_parameter(f"{r}_on", 1.0)
        m.add_parameter(f"{r}_off", 1.0)
        left, right = (side.strip().replace(" + ", " * ") for side in eq.split("->"))
        m.add_reaction(r, eq, rate=f"{r}_on * {left} - {r}_off * {right}")
    return m


def test_detailed_balance_violations_are_found_around_cycles():
    from celltwin.evidence import detailed_balance_violations

    m = cycle_model()

    def terms(kd4):  # Kd1 Kd2 = Kd3 Kd4 is detailed balance: 1e-8 * 1e-6 = 1e-7 * 1e-7
        kds = {"r1": 1e-8, "r2": 1e-6, "r3": 1e-7, "r4": kd4}
        return [AffinityEvidence.for_reaction(m, r, kd, unit="M", sd=0.5) for r, kd in kds.items()]

    assert terms(1e-7)[0].kon == "r1_on" and terms(1e-7)[0].koff == "r1_off"
    assert detailed_balance_violations(m, terms(1e-7)) == []
    assert detailed_balance_violations(m, terms(10**-7.5)) == []  # 0.5 log10 off, sd of the sum 1.0
    messages = detailed_balance_violations(m, terms(1e-10))  # 3 log10 units off
    assert len(messages) == 1 and "r4" in messages[0]
    assert "+3.00 log10" in messages[0] or "-3.00 log10" in messages[0]
    problem_like = type("P", (), {"model": m, "parameters": type("S", (), {"ids": list(m.parameters)})(), "name": "cycle"})
    with pytest.warns(UserWarning, match="closed cycle"):
        Evidence(problem_like, terms(1e-10))
    # two reactions without a cycle: nothing to check
    assert detailed_balance_violations(m, terms(1e-10)[:2]) == []
