"""The executor's ``poll`` hook: called while long tasks run (the sampler's groups of chains
show their checkpointed progress with it), on local worker processes and on Dask."""

from __future__ import annotations

import time

import pytest

from celltwin.inference import Executor


def _polls_while_waiting(spec, **kwargs) -> tuple[list, int]:
    polls = []
    with Executor(spec, **kwargs) as pool:
        results = sorted(pool.map_unordered(time.sleep, [(2.0,), (2.0,)], poll=lambda: polls.append(1),
                                            poll_seconds=0.25))
    return results, len(polls)


def test_local_workers_poll_while_tasks_run():
    results, polls = _polls_while_waiting("local", workers=2)
    assert results == [(0, None), (1, None)]
    assert polls >= 4  # 2 s of tasks, a poll every 0.25 s (fewer if the machine is slow to start them)


def test_dask_workers_poll_while_tasks_run():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        results, polls = _polls_while_waiting(cluster.scheduler_address)
    assert results == [(0, None), (1, None)]
    assert polls >= 4


def test_no_poll_without_a_hook():
    with Executor("serial") as pool:
        assert list(pool.map_unordered(abs, [(-1,), (2,)])) == [(0, 1), (1, 2)]
