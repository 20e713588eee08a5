"""The solver kernels compiled in a second process during a cold start (``_native_prebuild``)."""

import json
import os
import subprocess
import sys
import time

import pytest

from celltwin.simulate import _native_prebuild


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    folder = tmp_path / "native"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("CELLTWIN_NATIVE_CACHE", str(folder))
    monkeypatch.delenv("CELLTWIN_KERNELS_JOB", raising=False)
    _native_prebuild.cache_folder.cache_clear()
    yield folder
    _native_prebuild.cache_folder.cache_clear()


def test_no_job_once_the_kernels_are_compiled_or_inside_the_job(fresh_cache, monkeypatch):
    monkeypatch.setenv("CELLTWIN_KERNELS_JOB", "1")  # the job itself starts no other
    assert _native_prebuild.start() is None
    monkeypatch.delenv("CELLTWIN_KERNELS_JOB")
    _native_prebuild.mark_compiled()
    assert _native_prebuild.start() is None
    _native_prebuild.finish(None)


def test_a_hanging_job_is_stopped(monkeypatch):
    monkeypatch.setattr(_native_prebuild, "WAIT_S", 0.2)
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = time.perf_counter()
    _native_prebuild.finish(job)
    assert job.returncode is not None and time.perf_counter() - start < 10


# What a later process finds: the kernels compiled by the job, from numba's cache.
PROBE = """
import json
from celltwin.model import Model, compile_model
from celltwin.simulate import _native
m = Model("growth"); m.add_species("A", 2.0); m.add_species("B", 0.0); m.add_parameter("k", 0.5)
m.add_reaction("r", "A -> B", rate="k*A")
gen = _native.generated(compile_model(m))
stats = [_native._kernels().forward.stats, _native._kernels().adjoint.stats]
print(json.dumps({"hits": sum(sum(s.cache_hits.values()) for s in stats),
                  "misses": sum(sum(s.cache_misses.values()) for s in stats)}))
"""


@pytest.mark.slow  # the kernels compile from scratch (~30 s)
def test_the_job_fills_the_cache_that_a_later_process_loads(fresh_cache):
    env = {**os.environ, "CELLTWIN_NATIVE_CACHE": str(fresh_cache)}
    job = _native_prebuild.start()
    assert job is not None
    _native_prebuild.finish(job)
    assert job.returncode == 0
    assert _native_prebuild._marker().exists()
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    counts = json.loads(probe.stdout.strip().splitlines()[-1])
    assert counts["hits"] >= 2 and counts["misses"] == 0, counts


@pytest.mark.parametrize("min_nodes, started", [(10**9, False), (1, True)])
def test_the_job_starts_only_for_a_model_whose_code_takes_long(fresh_cache, monkeypatch, min_nodes, started):
    from celltwin.model import Model, compile_model
    from celltwin.simulate import _native

    _native._kernels()  # (loaded from the usual folder before the test's)
    calls = []
    monkeypatch.setattr(_native, "PREBUILD_MIN_NODES", min_nodes)
    monkeypatch.setattr(_native_prebuild, "start", lambda: calls.append(1))  # (no process)
    m = Model("small")
    m.add_species("A", 1.0)
    m.add_parameter("k", 0.3)
    m.add_reaction("r", "A -> ", rate="k*A")
    _native.generated(compile_model(m))
    assert bool(calls) == started
