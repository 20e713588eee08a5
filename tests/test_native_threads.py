"""How the native engine runs a batch: on the calling thread or over threads, whichever it
measured to be faster (celltwin.simulate._native._Timed)."""

import time

import pytest

from celltwin.simulate import _native


def _ways(monkeypatch, serial_s: float, parallel_s: float) -> list[str]:
    """Twelve+ calls of a batch of 8 with fake timings; which way each call went."""
    ways = []

    def kernel(lo, hi):
        ways.append("serial")
        time.sleep(serial_s)

    def in_parallel(kernel, batch):
        ways.append("parallel")
        time.sleep(parallel_s)

    monkeypatch.setattr(_native, "_in_parallel", in_parallel)
    monkeypatch.setattr(_native, "_threads", lambda: 2)
    timed = _native._Timed()
    for _ in range(2 * _native._Timed.EXPLORE):
        timed(kernel, 8)
    return ways


def test_threads_are_used_only_while_they_are_faster(monkeypatch):
    ways = _ways(monkeypatch, serial_s=0.04, parallel_s=0.002)  # threads pay
    assert ways[:2] == ["serial", "parallel"]  # both measured first
    assert ways.count("parallel") >= len(ways) - 3
    ways = _ways(monkeypatch, serial_s=0.002, parallel_s=0.04)  # a loaded machine: threads wait
    assert ways[:2] == ["serial", "parallel"]
    assert ways.count("serial") >= len(ways) - 3
    assert "parallel" in ways[2:]  # tried again now and then: the load may change


@pytest.mark.parametrize("batch", [1, 3])
def test_small_work_stays_on_the_calling_thread(monkeypatch, batch):
    calls = []
    monkeypatch.setattr(_native, "_in_parallel", lambda *a: calls.append("parallel"))
    monkeypatch.setattr(_native, "_threads", lambda: 2)
    timed = _native._Timed()
    for _ in range(40):
        timed(lambda lo, hi: calls.append("serial"), batch)  # microseconds: below PARALLEL_MIN_SECONDS
    assert set(calls) == {"serial"}
