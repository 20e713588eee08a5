"""Regression pins of the samplers: the exact draws of fixed seeds, recorded from the code
before the samplers were split into one module per algorithm (issue 25).

These are not correctness tests (those compare with closed forms in
test_inference_sample.py); they say that a change of the code's layout kept every draw,
statistic and log-evidence of NUTS (diagonal, dense, pooled, no warm-up, stopping rule,
chain groups, resumed runs), the ensemble sampler and SMC. ``tests/data/sampler_pins.json``
records the commit that produced the values; after a deliberate change of the draws,
regenerate it with ``python tests/test_sampler_pins.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from celltwin.inference import (
    EnsembleSettings,
    NUTSSettings,
    SamplerSettings,
    SMCSettings,
    nuts_draws,
    sample,
)

PINS = Path(__file__).resolve().parent / "data" / "sampler_pins.json"
RTOL = ATOL = 1e-12

# Small problems and few draws: each case runs in seconds (compilation dominates).
CASES = {
    "nuts_diag": SamplerSettings(method="nuts", chains=2, draws=12, warmup=12, seed=1, block=6, max_tree_depth=4),
    "nuts_dense": SamplerSettings(method="nuts", chains=2, draws=12, warmup=12, seed=2, block=6, max_tree_depth=4,
                                  dense_mass=True),
    "nuts_dense_pooled": SamplerSettings(method="nuts", chains=3, draws=12, warmup=12, seed=3, block=6,
                                         max_tree_depth=4, dense_mass=True, pooled_mass=True),
    "nuts_no_warmup": SamplerSettings(method="nuts", chains=2, draws=8, warmup=0, seed=4, block=8, max_tree_depth=3),
    "nuts_stop_rule": SamplerSettings(method="nuts", chains=4, draws=80, warmup=40, seed=5, block=10,
                                      max_tree_depth=5, stop_rhat=1.1, stop_ess=50),  # stops after 60 draws
    "ensemble": SamplerSettings(method="ensemble", chains=6, draws=15, warmup=10, seed=6, thin=2, block=6,
                                stretch=2.5, init_scale=0.2),
    "smc": SamplerSettings(method="smc", chains=2, draws=40, seed=7, mcmc_steps=3, target_ess=0.6),
}
PREDICTIVE = {"ensemble"}  # the predictive groups use the seed's keys too
GROUPS = {"nuts_groups": ("nuts_diag", 2)}  # NUTS chains in 2 groups (serial executor): pinned on their own


def _problem():
    from test_inference_sample import linear_gaussian

    problem, beta, _ = linear_gaussian(0)
    return problem, beta


def _record(idata) -> dict:
    out = {"posterior": {k: v.values.tolist() for k, v in idata.posterior.data_vars.items()},
           "sample_stats": {k: v.values.tolist() for k, v in idata.sample_stats.data_vars.items()}}
    for group in ("log_likelihood", "posterior_predictive"):
        if group in idata.groups():
            out[group] = getattr(idata, group)["y"].values.tolist()
    out["attrs"] = {k: idata.posterior.attrs[k] for k in ("log_evidence", "smc_stages", "stopped_after_draws")
                    if k in idata.posterior.attrs}
    return out


def _run(name: str, **kwargs):
    problem, beta = _problem()
    settings = CASES[name]
    init = None if settings.method == "smc" else beta
    return sample(problem, settings, init=init, predictive=name in PREDICTIVE, progress=False, **kwargs)


def _nuts_draws_case() -> dict:
    """:func:`nuts_draws` (the traceable NUTS of SBC and the horseshoe) on a correlated Gaussian."""
    prec = jnp.asarray(np.linalg.inv(np.array([[1.0, 0.8], [0.8, 2.0]])))
    settings = SamplerSettings(method="nuts", chains=2, draws=10, warmup=15, max_tree_depth=4, dense_mass=True)
    draws, stats = nuts_draws(lambda z: -0.5 * z @ prec @ z, jnp.array([[0.1, -0.2], [0.3, 0.0]]), settings,
                              jax.random.PRNGKey(8))
    return {"draws": np.asarray(draws).tolist(), "stats": {k: np.asarray(v).tolist() for k, v in stats.items()}}


def _assert_close(actual, pinned, where: str) -> None:
    if isinstance(pinned, dict):
        assert set(actual) == set(pinned), where
        for k in pinned:
            _assert_close(actual[k], pinned[k], f"{where}.{k}")
    elif isinstance(pinned, str):
        assert actual == pinned, where
    else:
        np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(pinned, dtype=float),
                                   rtol=RTOL, atol=ATOL, err_msg=where)


@pytest.fixture(scope="module")
def pins() -> dict:
    return json.loads(PINS.read_text())["cases"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_sampler_draws_are_pinned(name, pins):
    _assert_close(_record(_run(name)), pins[name], name)


def test_nuts_chain_groups_are_pinned(pins):
    name, workers = GROUPS["nuts_groups"]
    _assert_close(_record(_run(name, workers=workers, executor="serial")), pins["nuts_groups"], "nuts_groups")


# The typed settings of each algorithm name the same run as the flat SamplerSettings.
TYPED = {"nuts_dense": NUTSSettings(chains=2, draws=12, warmup=12, seed=2, block=6, max_tree_depth=4, dense_mass=True),
         "ensemble": EnsembleSettings(walkers=6, draws=15, burn_in=10, seed=6, thin=2, block=6, stretch=2.5,
                                      init_scale=0.2),
         "smc": SMCSettings(runs=2, particles=40, seed=7, mcmc_steps=3, target_ess=0.6)}


@pytest.mark.parametrize("name", sorted(TYPED))
def test_typed_settings_give_the_pinned_draws(name, pins):
    problem, beta = _problem()
    typed = TYPED[name]
    assert SamplerSettings.of(typed) == CASES[name] and CASES[name].algorithm == typed
    idata = sample(problem, typed, init=None if name == "smc" else beta, predictive=name in PREDICTIVE,
                   progress=False)
    _assert_close(_record(idata), pins[name], f"{name} (typed settings)")


def test_nuts_draws_function_is_pinned(pins):
    _assert_close(_nuts_draws_case(), pins["nuts_draws"], "nuts_draws")


# A run interrupted right after its n-th checkpoint and resumed gives the pinned draws:
# NUTS inside its warm-up and inside its draws (and once stopped by the rule), the
# ensemble after its burn-in and a block, SMC after two tempering stages.
RESUMES = [("nuts_diag", 1), ("nuts_diag", 4), ("nuts_dense_pooled", 2), ("nuts_stop_rule", 7), ("ensemble", 2),
           ("smc", 3)]


@pytest.mark.parametrize("name, saves", RESUMES)
def test_resumed_runs_give_the_pinned_draws(name, saves, pins, tmp_path, monkeypatch):
    from test_inference_sample import stop_after_saves

    ckpt = tmp_path / "run.npz"
    stop_after_saves(monkeypatch, saves)
    with pytest.raises(KeyboardInterrupt):
        _run(name, checkpoint=ckpt)
    monkeypatch.undo()
    assert ckpt.is_file()
    _assert_close(_record(_run(name, checkpoint=ckpt, resume=True)), pins[name], f"{name} resumed")


def record_pins() -> None:
    """Write ``tests/data/sampler_pins.json`` from the code as it is now."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True,
                            cwd=PINS.parent).stdout.strip()
    cases = {name: _record(_run(name)) for name in CASES}
    cases["nuts_groups"] = _record(_run(GROUPS["nuts_groups"][0], workers=GROUPS["nuts_groups"][1],
                                        executor="serial"))
    cases["nuts_draws"] = _nuts_draws_case()
    PINS.parent.mkdir(exist_ok=True)
    note = (f"Regression pins of tests/test_sampler_pins.py, recorded from commit {commit} (before the samplers "
            f"were split into one module per algorithm, issue 25) with jax {jax.__version__}. Exact draws of fixed "
            "seeds, not correctness references.")
    PINS.write_text(json.dumps({"note": note, "commit": commit, "cases": cases}, indent=None) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    record_pins()
