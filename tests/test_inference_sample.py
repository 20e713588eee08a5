"""Posterior sampling: NUTS, the ensemble sampler and SMC against the closed-form posterior of a
linear-Gaussian model (several seeds), reproducibility, failed simulations as rejected
proposals, diagnostics, and checkpoint / resume (in-process and by killing the CLI)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from test_inference_profile import SIGMA, TIMES, production_problem

from celltwin.inference import SamplerSettings, diagnose, sample
from celltwin.inference import _checkpoint as checkpoint_module
from celltwin.model import Model
from celltwin.problem import Problem
from celltwin.simulate import SolverSettings

ROOT = Path(__file__).resolve().parents[1]


def linear_gaussian(seed: int):
    """Data, the problem, and its exact posterior N(beta, cov) (flat prior; the bounds
    [-10, 10] are > 30 posterior sd away, so truncation is negligible)."""
    rng = np.random.default_rng(100 + seed)
    measured = 1.3 + 0.7 * TIMES + SIGMA * rng.normal(size=TIMES.size)
    X = np.column_stack([np.ones_like(TIMES), TIMES])
    beta = np.linalg.lstsq(X, measured, rcond=None)[0]
    cov = SIGMA**2 * np.linalg.inv(X.T @ X)
    return production_problem(measured), beta, cov


def assert_matches_gaussian(idata, beta, cov):
    """Mean within 4 Monte Carlo standard errors (from the bulk ESS); covariance within 25 %
    of the scale sqrt(var_i var_j) (the sampling error of a variance at ESS ~ 500 is ~6 %)."""
    draws = np.stack([idata.posterior[p].values.ravel() for p in ("a0", "r")], axis=1)
    diag = diagnose(idata)
    sd = np.sqrt(np.diag(cov))
    for k, p in enumerate(("a0", "r")):
        ess = float(diag.table.loc[p, "ess_bulk"])
        assert ess > 200, diag.table
        assert abs(draws[:, k].mean() - beta[k]) < 4 * sd[k] / math.sqrt(ess), (p, draws[:, k].mean(), beta[k], ess)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_array_less(np.abs(np.cov(draws.T) - cov) / scale, 0.25)


CASES = [("nuts", 0), ("ensemble", 0), ("ensemble", 1), ("smc", 0),
         pytest.param("nuts", 1, marks=pytest.mark.slow), pytest.param("nuts", 2, marks=pytest.mark.slow),
         pytest.param("ensemble", 2, marks=pytest.mark.slow), pytest.param("smc", 1, marks=pytest.mark.slow),
         pytest.param("smc", 2, marks=pytest.mark.slow)]


def log_evidence(problem, beta, cov) -> float:
    """log p(data): the Gaussian integral of the likelihood times the flat prior 1/400 on
    [-10, 10]^2 (truncation negligible, as above)."""
    return (float(problem.log_likelihood(beta)) + 0.5 * math.log(np.linalg.det(2 * math.pi * cov))
            - math.log(20.0**2))


@pytest.mark.parametrize("method, seed", CASES)
def test_samplers_recover_the_closed_form_posterior(method, seed):
    problem, beta, cov = linear_gaussian(seed)
    if method == "nuts":
        settings = SamplerSettings(method="nuts", chains=4, draws=400, warmup=300, seed=seed, block=400)
    elif method == "ensemble":
        settings = SamplerSettings(method="ensemble", chains=16, draws=1000, warmup=300, seed=seed, thin=2, block=1000)
    else:  # SMC starts from the prior, not at beta
        settings = SamplerSettings(method="smc", chains=4, draws=500, seed=seed)
    idata = sample(problem, settings, init=beta, predictive=False, progress=False)
    assert idata.posterior.sizes["chain"] == settings.chains and idata.posterior.sizes["draw"] == settings.draws
    assert_matches_gaussian(idata, beta, cov)
    if method == "smc":  # each run's log marginal likelihood (its sd is ~0.05 with 500 particles)
        exact = log_evidence(problem, beta, cov)
        np.testing.assert_allclose(json.loads(idata.posterior.attrs["log_evidence"]), exact, atol=0.3)
    if method == "nuts":
        assert int(idata.sample_stats["diverging"].sum()) == 0
        assert {"tree_depth", "acceptance_rate", "energy", "lp"} <= set(idata.sample_stats.data_vars)


def blow_up_problem(max_steps: int = 10_000) -> Problem:
    """dA/dt = k A^2, A(0) = 1: A = 1 / (1 - k t) blows up at t = 1/k, so for k > 1/1.5 the
    simulation to t = 1.5 fails (after ``max_steps`` ever shorter steps); the data say k ~ 0.3."""
    m = Model("blowup")
    m.add_species("A", 1.0)
    m.add_parameter("k", 0.3)
    m.add_reaction("grow", "-> A", rate="k * A^2")
    t = np.linspace(0, 1.5, 6)
    meas = pd.DataFrame({"observableId": "obs", "simulationConditionId": "c", "time": t,
                         "measurement": 1 / (1 - 0.3 * t)})
    obs = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": ["0.5"]}, index=pd.Index(["obs"], name="observableId"))
    par = pd.DataFrame([["k", "lin", 0.01, 2.0, 0.3, 1]], columns=["parameterId", "parameterScale", "lowerBound",
                       "upperBound", "nominalValue", "estimate"]).set_index("parameterId")
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par,
                               settings=SolverSettings(max_steps=max_steps))


def test_failed_simulations_are_rejected_proposals_not_errors():
    problem = blow_up_problem()
    assert not np.isfinite(float(problem.log_posterior(jnp.array([1.5]))))
    # Walkers start around k = 0.3; the posterior (sd ~0.1) makes many proposals beyond 2/3.
    settings = SamplerSettings(method="ensemble", chains=8, draws=150, warmup=50, seed=0, block=150, init_scale=0.5)
    idata = sample(problem, settings, init=np.array([0.3]), predictive=False, progress=False)
    k = idata.posterior["k"].values
    assert np.all(k < 1 / 1.5) and np.all(np.isfinite(idata.sample_stats["lp"].values))
    assert k.max() > 0.45  # the walkers did explore up towards the failing region


@pytest.mark.slow  # ~1 min on 2 idle cores (proposals into the failing region run to max_steps)
def test_smc_gives_failed_simulations_zero_weight():
    """Two thirds of the flat prior on k lie where the simulation fails (k > 2/3): SMC starts
    from the simulable part of the prior; the draws are the posterior there, and the log
    evidence (corrected by the simulable fraction) matches quadrature of the closed form."""
    from scipy import integrate

    problem = blow_up_problem(max_steps=300)  # failing proposals: fail them fast
    idata = sample(problem, SamplerSettings(method="smc", chains=2, draws=300, seed=0), predictive=False, progress=False)
    k = idata.posterior["k"].values
    assert np.all(k < 1 / 1.5) and np.all(np.isfinite(idata.sample_stats["lp"].values))
    assert abs(float(np.median(k)) - 0.3) < 0.1
    t = np.linspace(0, 1.5, 6)
    data = 1 / (1 - 0.3 * t)

    def likelihood(kk):  # Gaussian noise sd 0.5 around A(t) = 1 / (1 - k t)
        return np.exp(np.sum(-0.5 * ((data - 1 / (1 - kk * t)) / 0.5) ** 2 - np.log(0.5 * np.sqrt(2 * np.pi))))

    evidence = integrate.quad(likelihood, 0.01, 1 / 1.5 - 1e-9, limit=200)[0] / (2.0 - 0.01)  # flat prior on [0.01, 2]
    log_z = np.array(json.loads(idata.posterior.attrs["log_evidence"]))
    assert np.all(np.abs(log_z - np.log(evidence)) < 0.3), (log_z, np.log(evidence))


def test_same_seed_same_draws_and_predictive_groups():
    problem, beta, _ = linear_gaussian(0)
    settings = SamplerSettings(method="ensemble", chains=8, draws=40, warmup=10, seed=7, block=15)
    a = sample(problem, settings, init=beta, progress=False)
    b = sample(problem, settings, init=beta, predictive=False, progress=False)
    np.testing.assert_array_equal(a.posterior["r"].values, b.posterior["r"].values)
    c = sample(problem, SamplerSettings(method="ensemble", chains=8, draws=40, warmup=10, seed=8, block=15),
               init=beta, predictive=False, progress=False)
    assert not np.array_equal(a.posterior["r"].values, c.posterior["r"].values)
    assert set(a.groups()) >= {"posterior", "sample_stats", "log_likelihood", "posterior_predictive", "observed_data"}
    assert a.log_likelihood["y"].shape == (8, 40, TIMES.size)
    # The pointwise log-likelihood sums to the problem's log-likelihood at each draw.
    theta = np.array([a.posterior["a0"].values[0, 0], a.posterior["r"].values[0, 0]])
    assert float(a.log_likelihood["y"].values[0, 0].sum()) == pytest.approx(float(problem.log_likelihood(theta)), rel=1e-10)
    np.testing.assert_allclose(a.observed_data["y"].values, problem.measurements)
    assert a.posterior.attrs["seed"] == 7 and a.posterior.attrs["method"] == "ensemble"


def stop_after_saves(monkeypatch, n: int) -> list:
    """Make the sampler's n-th checkpoint write raise KeyboardInterrupt once written (an
    interruption right after a checkpoint); returns the list of (file name, array names)
    written, and ``monkeypatch.undo()`` restores the real writer."""
    real_save = checkpoint_module.save_checkpoint
    seen = []

    def interrupted_save(path, arrays, meta):
        real_save(path, arrays, meta)
        seen.append((Path(path).name, sorted(arrays)))
        if len(seen) == n:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", interrupted_save)
    return seen


RESUME_CASES = [SamplerSettings(method="nuts", chains=2, draws=30, warmup=20, seed=3, block=10),
                SamplerSettings(method="smc", chains=2, draws=100, seed=3)]


@pytest.mark.slow  # three runs each (~4 min on 2 cores); the killed-CLI test below covers resume by default
@pytest.mark.parametrize("settings", RESUME_CASES, ids=lambda s: s.method)
def test_resume_after_an_interruption_gives_the_uninterrupted_draws(tmp_path, monkeypatch, settings):
    problem, beta, _ = linear_gaussian(0)
    full = sample(problem, settings, init=beta, predictive=False, progress=False)
    ckpt = tmp_path / "run.npz"
    stop_after_saves(monkeypatch, 3)  # after warm-up (SMC: the prior draws) and two blocks (stages)
    with pytest.raises(KeyboardInterrupt):
        sample(problem, settings, init=beta, checkpoint=ckpt, predictive=False, progress=False)
    monkeypatch.undo()
    resumed = sample(problem, settings, init=beta, checkpoint=ckpt, resume=True, predictive=False, progress=False)
    np.testing.assert_array_equal(full.posterior["a0"].values, resumed.posterior["a0"].values)
    np.testing.assert_array_equal(full.sample_stats["lp"].values, resumed.sample_stats["lp"].values)
    # Other settings than the checkpoint's are refused.
    from celltwin.errors import CelltwinInputError

    with pytest.raises(CelltwinInputError, match="seed"):
        sample(problem, dataclasses.replace(settings, seed=4), checkpoint=ckpt, resume=True, progress=False)


@pytest.mark.parametrize("pooled", [False, pytest.param(True, marks=pytest.mark.slow)])  # ~2.5 min each
def test_nuts_warmup_interrupted_midway_resumes_to_the_same_draws(tmp_path, monkeypatch, capsys, pooled):
    """The warm-up runs in checkpointed blocks too: a run stopped after two of its three
    warm-up blocks and resumed gives the uninterrupted run's draws (dense mass matrix, per
    chain or pooled). The checkpoint is described as 20 of 30 warm-up steps done, and the
    resumed run's progress lines (stderr is no terminal here) count on from there."""
    from celltwin.inference import describe_checkpoint

    problem, beta, _ = linear_gaussian(0)
    settings = SamplerSettings(method="nuts", chains=2, draws=20, warmup=30, seed=5, block=10, dense_mass=True,
                               pooled_mass=pooled)
    full = sample(problem, settings, init=beta, predictive=False, progress=False)
    assert full.posterior.attrs["dense_mass"] == 1 and full.posterior.attrs["pooled_mass"] == int(pooled)
    ckpt = tmp_path / "run.npz"
    seen = stop_after_saves(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        sample(problem, settings, init=beta, checkpoint=ckpt, predictive=False, progress=False)
    monkeypatch.undo()
    with np.load(ckpt) as data:
        assert int(data["warmup_done"]) == 20 and "position" not in data.files
        assert float(data["sampling_seconds"]) > 0  # the interrupted invocation's sampling time
    assert describe_checkpoint(ckpt) == "warm-up 20 of 30 steps done, no draws yet"
    # the time a checkpoint holds is added to, not replaced: set it to 1000 s
    arrays, meta = checkpoint_module.load_checkpoint(ckpt)
    checkpoint_module.save_checkpoint(ckpt, {**arrays, "sampling_seconds": np.array(1000.0)}, meta)
    monkeypatch.setenv("CELLTWIN_PROGRESS_INTERVAL", "0")
    capsys.readouterr()
    start = time.perf_counter()
    resumed = sample(problem, settings, init=beta, checkpoint=ckpt, resume=True, predictive=False, progress=True)
    assert 1000 < resumed.posterior.attrs["sampling_seconds_all_invocations"] < 1000 + time.perf_counter() - start
    err = capsys.readouterr().err.splitlines()
    mass = "dense, pooled" if pooled else "dense"
    warmup = [line for line in err if line.startswith("NUTS warm-up")]
    assert len(warmup) == 1 and warmup[0].startswith(f"NUTS warm-up: 2 chains x 30 steps ({mass} mass matrix): "
                                                      "30/30 steps, ")
    draws = [line for line in err if line.startswith("nuts: ")]
    assert [line.split(",")[0] for line in draws] == [f"nuts: 2 chains x 20 draws: {n}/20 draws per chain"
                                                       for n in (10, 20)]
    assert draws[-1].endswith(f", {int(resumed.sample_stats['diverging'].values.sum())} divergent")
    for name in ("a0", "r"):
        np.testing.assert_array_equal(full.posterior[name].values, resumed.posterior[name].values)
    assert "inverse_mass_matrix" not in seen[0][1] and "warmup_leaf_0" in seen[0][1]


def welford_states(samples: np.ndarray, dense: bool):
    """blackjax's mass-matrix adaptation state of each chain after its rows of ``samples``
    (chains, draws, dimension)."""
    from blackjax.adaptation.mass_matrix import mass_matrix_adaptation

    init, update, _ = mass_matrix_adaptation(is_diagonal_matrix=not dense)

    def one(chain):
        return jax.lax.scan(lambda st, x: (update(st, x), None), init(chain.shape[1]), chain)[0]

    return jax.vmap(one)(jnp.asarray(samples))


@pytest.mark.parametrize("dense", [False, True])
def test_pooled_mass_matrix_is_the_covariance_of_all_chains_draws(dense):
    """Merging the chains' Welford estimates gives numpy's covariance of all draws together
    (within- plus between-chain spread, chains centred far apart), regularised as Stan does:
    n/(n+5) cov + 1e-3 * 5/(n+5), the same matrix for every chain; and their mean."""
    from celltwin.inference._warmup import Warmup

    rng = np.random.default_rng(3)
    samples = rng.normal(size=(4, 30, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.3], [0.0, 0.0, 0.1]])
    samples += np.array([[0.0, 0, 0], [3, 0, 0], [0, -2, 0], [1, 1, 1]])[:, None, :]
    warm = Warmup(lambda z: -0.5 * jnp.sum(z**2), dense_mass=dense, pooled=True)
    pooled, grand = warm._pooled_final(welford_states(samples, dense))
    n = samples.shape[0] * samples.shape[1]
    np.testing.assert_allclose(grand, samples.reshape(n, 3).mean(0), rtol=1e-12)  # the proposals' centre
    cov = np.cov(samples.reshape(n, 3).T)
    expected = n / (n + 5) * cov + 1e-3 * 5 / (n + 5) * np.eye(3)
    expected = expected if dense else np.diag(expected)
    for chain in range(4):
        np.testing.assert_allclose(pooled.inverse_mass_matrix[chain], expected, rtol=1e-12, atol=1e-14)
        assert int(pooled.wc_state.sample_size[chain]) == 0  # a fresh estimate for the next window


def test_pooled_warmup_adapts_one_step_size_to_the_mean_acceptance():
    """Four chains on a standard normal in 4 dimensions, two of them started 30 sd out: with
    pooled adaptation every chain gets the same step size, one dual averaging of the chains'
    mean acceptance. Replaying that dual averaging (blackjax's, an independent copy) on the
    recorded mean acceptances gives the same step size; the draws after it accept at about
    the target rate (0.8)."""
    from blackjax.adaptation.step_size import dual_averaging_adaptation

    from celltwin.inference._warmup import Warmup, schedule

    def logdensity(z):
        return -0.5 * jnp.sum(z**2)

    z0 = jnp.asarray([[0.0] * 4, [30.0] * 4, [0.1] * 4, [-30.0] * 4])
    warm = Warmup(logdensity, pooled=True)
    n = 150
    state, (_, _, acceptance) = warm.steps(warm.init(z0), jax.random.split(jax.random.PRNGKey(0), 4), 0, n, n)
    _, step, _, _ = warm.final(state)
    np.testing.assert_array_equal(np.asarray(step), np.asarray(step)[0])
    init, update, final = dual_averaging_adaptation(0.8)
    da = init(1.0)
    _, window_end = schedule(n)
    for k in range(n):
        da = update(da, float(np.mean(np.asarray(acceptance)[:, k])))
        if window_end[k]:
            da = init(float(final(da)))
    assert float(step[0]) == pytest.approx(float(final(da)), rel=1e-9)
    settings = SamplerSettings(method="nuts", chains=4, draws=200, warmup=n, pooled_mass=True)
    from celltwin.inference import nuts_draws

    _, stats = nuts_draws(logdensity, z0, settings, jax.random.PRNGKey(0))
    assert 0.7 < float(np.mean(np.asarray(stats["acceptance_rate"]))) < 0.95


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pooled_warmup_adapts_one_mass_matrix_near_the_target_covariance(seed):
    """On a strongly correlated Gaussian (correlation 0.95, scales 1 and 10), the pooled
    dense warm-up gives every chain the same inverse mass matrix, close to the covariance:
    the relative condition number of M^-1 against the covariance stays below 2 (the unit
    matrix: 1044), and the chains' draws after it recover the covariance within 25 %."""
    from celltwin.inference import nuts_draws
    from celltwin.inference._warmup import Warmup

    sd = np.array([1.0, 10.0])
    cov = np.array([[1.0, 0.95], [0.95, 1.0]]) * np.outer(sd, sd)
    prec = jnp.asarray(np.linalg.inv(cov))

    def logdensity(z):
        return -0.5 * z @ prec @ z

    key = jax.random.PRNGKey(seed)
    z0 = 0.1 * jax.random.normal(jax.random.PRNGKey(100 + seed), (4, 2))
    _, step, inv_mass, _ = Warmup(logdensity, dense_mass=True, pooled=True).run(z0, key, 400)
    inv_mass = np.asarray(inv_mass)
    np.testing.assert_array_equal(inv_mass, np.broadcast_to(inv_mass[0], inv_mass.shape))
    np.testing.assert_array_equal(np.asarray(step), np.asarray(step)[0])  # one step size too
    eig = np.linalg.eigvals(np.linalg.solve(cov, inv_mass[0])).real
    assert eig.max() / eig.min() < 2.0, eig
    settings = SamplerSettings(method="nuts", chains=4, draws=500, warmup=400, dense_mass=True, pooled_mass=True)
    draws, stats = nuts_draws(logdensity, z0, settings, key)
    np.testing.assert_array_less(np.abs(np.cov(np.asarray(draws).reshape(-1, 2).T) - cov) / np.outer(sd, sd), 0.25)
    assert not bool(np.asarray(stats["diverging"]).any())


def test_pooled_mass_needs_the_chains_in_one_process():
    from celltwin.errors import CelltwinInputError

    problem, beta, _ = linear_gaussian(0)
    settings = SamplerSettings(method="nuts", chains=4, draws=10, warmup=10, pooled_mass=True)
    with pytest.raises(CelltwinInputError, match="pooled_mass.*workers=1"):
        sample(problem, settings, init=beta, progress=False, workers=2)


def test_stopping_rule_judges_r_hat_and_bulk_ess():
    """``converged`` against draws whose diagnostics are known: independent normal draws (R-hat
    about 1, bulk ESS about the number of draws) meet R-hat <= 1.01 and ESS >= 400; one chain
    shifted by 3 sd fails R-hat <= 1.01 (its R-hat is about 1.5); AR(1) chains with rho = 0.99
    (ESS ~ n (1 - rho) / (1 + rho), about 4 of 800) fail ESS >= 400 but meet ESS >= 1."""
    from celltwin.inference import converged

    rng = np.random.default_rng(0)
    iid = rng.normal(size=(4, 500, 3))
    assert converged(iid, 1.01, 400)
    shifted = iid.copy()
    shifted[0] += 3.0
    assert not converged(shifted, 1.01, None) and converged(shifted, 2.0, None)
    ar = np.zeros((4, 200, 1))
    for t in range(1, 200):
        ar[:, t] = 0.99 * ar[:, t - 1] + math.sqrt(1 - 0.99**2) * rng.normal(size=(4, 1))
    assert not converged(ar, None, 400) and converged(ar, None, 1)
    assert not converged(iid[:, :2], 1.01, None)  # too few draws for R-hat: NaN, not met


def test_stopping_rule_judges_tail_ess_too():
    """Independent normal draws with one excursion of 40 draws at +5 sd per chain: the ranks
    mix well enough for bulk ESS >= 400 (arviz: about 490) but the 95 % quantile's indicator
    is stuck for 40 draws at a time (tail ESS about 130), so ESS >= 400 is not met; the same
    draws without the excursions meet it."""
    import arviz as az
    from celltwin.inference import converged

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 1000, 1))
    assert converged(x, None, 400)
    for c in range(4):
        start = rng.integers(0, 960)
        x[c, start:start + 40, 0] = 5 + 0.1 * rng.normal(size=40)
    assert az.ess(x[..., 0], method="bulk") >= 400 > az.ess(x[..., 0], method="tail")
    assert not converged(x, None, 400)


def test_convergence_progress_note_names_the_worst_measures_and_their_bounds():
    """The note shown after every block of a run with the stopping rule: independent normal
    draws (R-hat about 1, ESS about the number of draws, 2000 here) against one chain shifted
    by 3 sd (R-hat about 1.5); too few draws give NaN, which meets no bound."""
    from celltwin.inference._driver import convergence

    rng = np.random.default_rng(1)
    iid = rng.normal(size=(4, 500, 2))
    good = convergence(iid)
    assert good.max_rhat < 1.01 and 1500 < good.min_bulk_ess and 1000 < good.min_tail_ess
    shifted = iid.copy()
    shifted[0, :, 1] += 3.0
    bad = convergence(shifted)
    assert 1.3 < bad.max_rhat < 1.8 and not bad.meets(1.01, None) and bad.meets(2.0, 1)
    note = bad.note(1.01, 400)
    assert note.startswith(f"R-hat {bad.max_rhat:.3f} (<= 1.01), ESS bulk ") and note.endswith("(>= 400)")
    assert bad.note(None, 400).startswith("ESS bulk") and "ESS" not in bad.note(1.01, None)
    assert not convergence(iid[:, :2]).meets(1.01, None)


STOP_PLAIN = SamplerSettings(method="nuts", chains=4, draws=300, warmup=50, seed=2, block=25, max_tree_depth=3)
STOP_RULE = dataclasses.replace(STOP_PLAIN, stop_rhat=1.05, stop_ess=100)


def test_nuts_stops_at_the_first_block_where_the_rule_holds(tmp_path):
    """With stop_rhat / stop_ess the draws end at the first block boundary where every R-hat
    <= 1.05 and every bulk and tail ESS >= 100 (arviz on the posterior Dataset, checked here
    block by block), and a resumed stopped run returns the same draws without drawing more."""
    import arviz as az

    problem, beta, _ = linear_gaussian(0)
    ckpt = tmp_path / "run.npz"
    stopped = sample(problem, STOP_RULE, init=beta, checkpoint=ckpt, predictive=False, progress=False)
    n = stopped.posterior.sizes["draw"]
    assert 25 < n < 300 and n % 25 == 0 and stopped.posterior.attrs["stopped_after_draws"] == n

    def rule_holds(draws: int) -> bool:
        post = stopped.posterior.isel(draw=slice(0, draws))
        rhat, bulk, tail = az.rhat(post), az.ess(post, method="bulk"), az.ess(post, method="tail")
        return all(float(rhat[p]) <= 1.05 and min(float(bulk[p]), float(tail[p])) >= 100 for p in post.data_vars)

    assert rule_holds(n) and not any(rule_holds(m) for m in range(25, n, 25))
    resumed = sample(problem, STOP_RULE, init=beta, checkpoint=ckpt, resume=True, predictive=False, progress=False)
    np.testing.assert_array_equal(resumed.posterior["a0"].values, stopped.posterior["a0"].values)


@pytest.mark.slow  # two sampling runs (~75 s on 2 cores)
def test_stopped_draws_are_the_first_blocks_of_the_run_without_the_rule():
    """Draw block b's keys do not depend on ``draws`` or the rule: the stopped run's draws are
    the same seed's run without the rule, cut at the same length."""
    problem, beta, _ = linear_gaussian(0)
    stopped = sample(problem, STOP_RULE, init=beta, predictive=False, progress=False)
    n = stopped.posterior.sizes["draw"]
    full = sample(problem, dataclasses.replace(STOP_PLAIN, draws=n), init=beta, predictive=False, progress=False)
    assert "stopped_after_draws" not in full.posterior.attrs
    for name in ("a0", "r"):
        np.testing.assert_array_equal(stopped.posterior[name].values, full.posterior[name].values)


def test_stopping_rule_refusals():
    from celltwin.errors import CelltwinInputError

    problem, beta, _ = linear_gaussian(0)
    with pytest.raises(CelltwinInputError, match="stop NUTS runs"):
        SamplerSettings(method="ensemble", chains=8, stop_ess=100)
    with pytest.raises(CelltwinInputError, match="stop_rhat must be above 1"):
        SamplerSettings(stop_rhat=1.0)
    with pytest.raises(CelltwinInputError, match="stop_ess must be positive"):
        SamplerSettings(stop_ess=0)
    settings = SamplerSettings(method="nuts", chains=4, draws=10, warmup=10, stop_rhat=1.01)
    with pytest.raises(CelltwinInputError, match="stop_ess judge all chains together.*workers=1"):
        sample(problem, settings, init=beta, progress=False, workers=2)


def _cli(*args):
    return [sys.executable, "-m", "celltwin.cli", "sample", *args]


def test_killed_cli_run_resumes_without_loss(tmp_path, shared_data):
    """SIGKILL (no chance to clean up) after the second checkpoint; --resume says where it
    continues from and finishes; the posterior equals an uninterrupted run's draw for draw.
    The uninterrupted run's stderr goes to a file (as in a batch job): with
    $CELLTWIN_PROGRESS_INTERVAL 0 it holds a plain progress line after every block."""
    import arviz as az

    problem_yaml = shared_data / "petab-test-suite" / "v1.0.0" / "sbml" / "0001" / "_0001.yaml"
    if not problem_yaml.is_file():
        pytest.skip("PEtab test suite not found")
    common = [str(problem_yaml), "--method", "ensemble", "--chains", "8", "--draws", "60", "--warmup", "20",
              "--seed", "11", "--block", "10"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole = tmp_path / "whole.nc"
    log = tmp_path / "whole.log"
    with open(log, "w") as stderr:
        done = subprocess.run(_cli(*common, "--out", str(whole)), stdout=subprocess.PIPE, stderr=stderr, text=True,
                              env={**env, "CELLTWIN_PROGRESS_INTERVAL": "0"}, timeout=600)
    assert done.returncode == 0, log.read_text()
    progress = [line.split(",")[0] for line in log.read_text().splitlines() if line.startswith("ensemble: ")]
    assert progress == [f"ensemble: 8 chains x 60 draws: {n}/60 draws per chain" for n in range(10, 61, 10)]
    out = tmp_path / "killed.nc"
    ckpt = tmp_path / "killed.nc.checkpoint.npz"
    proc = subprocess.Popen(_cli(*common, "--out", str(out)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if ckpt.is_file():
            with np.load(ckpt) as data:
                if int(data["blocks_done"]) >= 2:
                    break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    with np.load(ckpt) as data:
        drawn = data["draws_z"].shape[1]
    again = subprocess.run(_cli(*common, "--out", str(out)), capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr  # refuses to overwrite the checkpoint
    resumed = subprocess.run(_cli(*common, "--out", str(out), "--resume"), capture_output=True, text=True, env=env,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from checkpoint {ckpt}: burn-in finished, {drawn} of 60 draws per walker done" in resumed.stderr
    a, b = az.from_netcdf(whole), az.from_netcdf(out)
    for name in a.posterior.data_vars:
        np.testing.assert_array_equal(a.posterior[name].values, b.posterior[name].values)
    assert not ckpt.exists()
    assert "ess_bulk" in resumed.stdout


def test_forward_mode_log_posterior_has_the_reverse_mode_gradient():
    problem = blow_up_problem().with_tables(settings=SolverSettings(backend="diffrax"))
    assert problem.gradient_mode() == "forward"
    theta = jnp.array([0.4])
    value, grad = jax.value_and_grad(problem.differentiable_log_posterior())(theta)
    ref_value, ref_grad = jax.value_and_grad(problem.log_posterior)(theta)
    assert float(value) == pytest.approx(float(ref_value), rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-6)
    batched = jax.vmap(jax.grad(problem.differentiable_log_posterior()))(jnp.array([[0.2], [0.4]]))
    np.testing.assert_allclose(batched[1], ref_grad, rtol=1e-6)
    # On the default (native) engine, forward mode asked for explicitly runs on diffrax.
    native = blow_up_problem()
    assert native.engine == "native" and native.gradient_mode("forward") == "forward"
    value, grad = jax.value_and_grad(native.differentiable_log_posterior("forward"))(theta)
    assert float(value) == pytest.approx(float(ref_value), rel=1e-7)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5)


def test_cli_smc_run_reports_the_log_marginal_likelihood(tmp_path, shared_data):
    import arviz as az

    problem_yaml = shared_data / "petab-test-suite" / "v1.0.0" / "sbml" / "0001" / "_0001.yaml"
    if not problem_yaml.is_file():
        pytest.skip("PEtab test suite not found")
    out = tmp_path / "smc.nc"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    refused = subprocess.run(_cli(str(problem_yaml), "--method", "smc", "--init", str(tmp_path / "fits.tsv"),
                                  "--out", str(out)), capture_output=True, text=True, env=env, timeout=600)
    assert refused.returncode == 2 and "SMC starts from draws of the prior" in refused.stderr
    done = subprocess.run(_cli(str(problem_yaml), "--method", "smc", "--chains", "2", "--draws", "100", "--seed", "1",
                               "--no-predictive", "--out", str(out)), capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "log marginal likelihood per SMC run" in done.stdout
    idata = az.from_netcdf(out)
    assert idata.posterior.sizes["chain"] == 2 and idata.posterior.sizes["draw"] == 100
    assert len(json.loads(idata.posterior.attrs["log_evidence"])) == 2


# --- NUTS chains in groups (workers > 1) ---------------------------------------------------------

def _draws(idata):
    return np.stack([idata.posterior[p].values for p in ("a0", "r")], axis=-1)


@pytest.mark.slow  # six compilations (~3 min on 2 cores); the worker-process test below runs by default
def test_chain_groups_give_the_one_process_draws_and_resume(tmp_path, monkeypatch):
    """Four chains in two groups (run one after another here) use each chain's own keys:
    the draws are the one-process draws up to rounding (the batch size changes the order of
    some sums). A run stopped inside the first group resumes from that group's checkpoint,
    refuses another number of groups, and leaves only the merged checkpoint."""
    from celltwin.errors import CelltwinInputError
    from celltwin.inference import checkpoint_files

    problem, beta, _ = linear_gaussian(0)
    settings = SamplerSettings(method="nuts", chains=4, draws=10, warmup=10, seed=2, block=5)
    one = sample(problem, settings, init=beta, predictive=False, progress=False)
    ckpt = tmp_path / "run.npz"
    saves = stop_after_saves(monkeypatch, 2)  # the first group's first warm-up block and its second
    with pytest.raises(KeyboardInterrupt):
        sample(problem, settings, init=beta, checkpoint=ckpt, predictive=False, progress=False, workers=2,
               executor="serial")
    monkeypatch.undo()
    assert [name for name, _ in saves] == ["run.chains0-1.npz"] * 2
    assert [f.name for f in checkpoint_files(ckpt)] == ["run.chains0-1.npz"]
    with pytest.raises(CelltwinInputError, match="same number of workers"):
        sample(problem, settings, init=beta, checkpoint=ckpt, resume=True, progress=False, workers=4,
               executor="serial")
    resumed = sample(problem, settings, init=beta, checkpoint=ckpt, resume=True, predictive=False, progress=False,
                     workers=2, executor="serial")
    assert [f.name for f in checkpoint_files(ckpt)] == ["run.npz"]
    np.testing.assert_allclose(_draws(resumed), _draws(one), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(resumed.sample_stats["lp"].values, one.sample_stats["lp"].values, rtol=1e-9)
    assert not np.array_equal(_draws(resumed)[0], _draws(resumed)[2])  # the chains differ from each other


def test_chain_groups_in_worker_processes_with_evidence_terms():
    """Two worker processes, each rebuilding the problem and the evidence terms from their
    pickled recipe, give the draws of one process (no warm-up, to compile less: the
    warm-up's keys are checked in the test above)."""
    from celltwin.evidence import Evidence, RateEvidence

    problem, beta, _ = linear_gaussian(0)
    evidence = Evidence(problem, [RateEvidence("r", 0.7, 0.2)])
    settings = SamplerSettings(method="nuts", chains=2, draws=10, warmup=0, seed=1, block=10)
    one = sample(problem, settings, init=beta, log_density=evidence.log_density, predictive=False, progress=False)
    two = sample(problem, settings, init=beta, log_density=evidence.log_density, predictive=False, progress=False,
                 workers=2)
    np.testing.assert_allclose(_draws(two), _draws(one), rtol=1e-7, atol=1e-9)
    assert two.posterior.sizes["chain"] == 2


def test_chain_groups_refuse_what_cannot_be_sent_or_split():
    from celltwin.errors import CelltwinInputError

    problem, _, _ = linear_gaussian(0)
    with pytest.raises(CelltwinInputError, match="cannot be sent to worker processes"):
        sample(problem, SamplerSettings(chains=2, draws=5, warmup=5), log_density=lambda th: -jnp.sum(th**2),
               workers=2, progress=False)
    with pytest.raises(CelltwinInputError, match="runs in one process"):
        sample(problem, SamplerSettings(method="ensemble", chains=8), workers=2, progress=False)


def test_nuts_draws_start_from_a_given_adaptation():
    """``adapted=(step, inverse mass)`` replaces the warm-up: on a standard normal a step of
    1e-3 never turns within 2**3 - 1 leapfrog steps (the depth limit ends every tree at 7),
    a step of 1.5 turns within a few, and the draws of a unit mass at step 0.5 have the
    target's variance."""
    from celltwin.inference import NUTSSettings, nuts_draws

    def logdensity(z):
        return -0.5 * jnp.sum(z**2)

    z0 = jnp.zeros((4, 3))
    settings = NUTSSettings(chains=4, draws=400, warmup=0, max_tree_depth=3)
    unit = jnp.ones((4, 3))
    key = jax.random.PRNGKey(3)
    _, tiny = nuts_draws(logdensity, z0, settings, key, adapted=(jnp.full(4, 1e-3), unit))
    _, large = nuts_draws(logdensity, z0, settings, key, adapted=(jnp.full(4, 1.5), unit))
    assert np.all(np.asarray(tiny["n_steps"]) == 7)
    assert float(np.mean(np.asarray(large["n_steps"]))) < 4
    draws, _ = nuts_draws(logdensity, z0, dataclasses.replace(settings, draws=2000), key,
                          adapted=(jnp.full(4, 0.5), unit))
    assert np.var(np.asarray(draws)) == pytest.approx(1.0, abs=0.12)
