"""The FFI handler through which jitted code calls the native engine's host functions
(celltwin.simulate._host_call): results, batching, errors, the pure_callback fallback, and
keys that mean the same function in every process (JAX's persistent cache keeps executables)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_native_backend import NATIVE, michaelis_menten_problem
from test_problem import MEASURED, TIMES, decay_problem

from celltwin.simulate import _host_call
from celltwin.simulate._build import c_compiler

needs_handler = pytest.mark.skipif(c_compiler() is None, reason="no C compiler: the handler cannot be built")


def _double(x, out):
    out[...] = 2.0 * x


def _fail(x, out):
    raise ValueError("the host function refused x")


def _both_ways(function):
    """``function()`` through the FFI handler and through jax.pure_callback."""
    results = []
    for use_ffi in (True, False):
        _host_call.USE_FFI = use_ffi
        try:
            jax.clear_caches()  # the choice is made when tracing
            results.append(function())
        finally:
            _host_call.USE_FFI = True
    return results


@needs_handler
def test_the_handler_is_built_where_a_compiler_is():
    assert _host_call._handler() == _host_call.TARGET


@pytest.mark.parametrize("use_ffi", [True, False])
def test_a_host_function_writes_its_results_also_under_vmap(use_ffi, monkeypatch):
    monkeypatch.setattr(_host_call, "USE_FFI", use_ffi)
    key = _host_call.register("test double", _double)

    def call(x):
        return _host_call.host_call(key, jax.ShapeDtypeStruct(x.shape, x.dtype), x)

    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(jax.jit(call)(x)), 2.0 * np.arange(6.0).reshape(2, 3))
    batched = jax.jit(jax.vmap(jax.vmap(call)))(jnp.arange(24.0).reshape(4, 2, 3))
    np.testing.assert_array_equal(np.asarray(batched), 2.0 * np.arange(24.0).reshape(4, 2, 3))


@pytest.mark.parametrize("use_ffi", [True, False])
def test_an_exception_in_the_host_function_reaches_the_caller_with_its_message(use_ffi, monkeypatch):
    monkeypatch.setattr(_host_call, "USE_FFI", use_ffi)
    key = _host_call.register("test fail", _fail)
    x = jnp.ones(3)
    with pytest.raises(Exception, match="the host function refused x"):
        jax.jit(lambda x: _host_call.host_call(key, jax.ShapeDtypeStruct(x.shape, x.dtype), x))(x).block_until_ready()


def test_the_native_solves_agree_through_both_calls_and_with_the_closed_form():
    p = decay_problem().with_tables(settings=NATIVE)
    theta = jnp.asarray(p.x_nominal)

    def closed_form(theta):
        k, a0, sigma = 10 ** theta[0], jnp.exp(theta[1]), theta[2]
        return jnp.sum(jax.scipy.stats.norm.logpdf(MEASURED, a0 * jnp.exp(-k * TIMES), sigma))

    thetas = theta + 0.05 * jnp.asarray(np.random.default_rng(1).standard_normal((3, p.n_parameters)))
    for value, grad, batch in _both_ways(lambda: (*p.value_and_grad()(theta), jax.jit(jax.vmap(p.log_likelihood))(thetas))):
        assert float(value) == pytest.approx(float(closed_form(theta)), rel=1e-8)
        np.testing.assert_allclose(np.asarray(grad), np.asarray(jax.grad(closed_form)(theta)), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(batch), np.asarray(jax.vmap(closed_form)(thetas)), rtol=1e-8)


def test_a_larger_model_gives_the_same_numbers_through_both_calls():
    p = michaelis_menten_problem(NATIVE)
    theta = jnp.asarray(p.x_nominal)
    (v1, g1), (v2, g2) = _both_ways(lambda: p.value_and_grad()(theta))
    assert float(v1) == float(v2)
    np.testing.assert_array_equal(np.asarray(g1), np.asarray(g2))


def test_keys_are_the_same_in_every_process():
    script = ("import json; from celltwin.simulate._host_call import register; "
              "print(json.dumps([register(n, print) for n in ('a', 'native x 1e-08')]))")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == [_host_call.register(n, print) for n in ("a", "native x 1e-08")]
    assert len({_host_call.register(n, print) for n in ("a", "b", "c")}) == 3


@needs_handler
def test_a_second_process_runs_the_executable_from_the_persistent_cache(tmp_path):
    """The executable holds the handler's key: loaded by another process from JAX's disk
    cache, it must reach that process's host function (an object's address would not)."""
    script = """
import json, jax, jax.numpy as jnp, sys
sys.path.insert(0, sys.argv[1])
from test_problem import decay_problem
from celltwin.simulate import SolverSettings
p = decay_problem().with_tables(settings=SolverSettings(backend="native"))
value, grad = jax.jit(p.value_and_grad())(jnp.asarray(p.x_nominal))
print(json.dumps([float(value), [float(g) for g in grad]]))
"""
    env = dict(os.environ, CELLTWIN_JAX_CACHE=str(tmp_path / "jax"), CELLTWIN_NO_JAX_CACHE="0",
               PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    tests = str(Path(__file__).resolve().parent)
    runs = [subprocess.run([sys.executable, "-c", script, tests], capture_output=True, text=True, env=env, timeout=300)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    assert any((tmp_path / "jax").iterdir())  # the second process found executables on disk
    assert json.loads(runs[0].stdout) == json.loads(runs[1].stdout)
