"""The native engine answers a batch row it solved before from memory
(simulate/_row_memo.py): the repeated rows of a lockstep sampler batch get the same
values and gradients as solved ones, checked against the closed form."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from celltwin.model import Model
from celltwin.problem import Problem
from celltwin.simulate import SolverSettings, _row_memo
from celltwin.simulate._row_memo import RowMemo

A0, TIMES = 3.0, np.array([0.5, 1.0, 2.0])
MEASURED = np.array([2.0, 1.5, 0.6])


def decay_problem() -> Problem:
    m = Model("decay")
    m.add_compartment("cell", 1.0)
    m.add_species("A", A0, compartment="cell")
    m.add_parameter("k", 0.5)
    m.add_reaction("deg", "A ->", rate="k * A")
    observables = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": ["0.1"]},
                               index=pd.Index(["obs_A"], name="observableId"))
    measurements = pd.DataFrame({"observableId": "obs_A", "simulationConditionId": "c0", "time": TIMES,
                                 "measurement": MEASURED})
    parameters = pd.DataFrame([["k", "lin", 0.01, 10.0, 0.5, 1]],
                              columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                       "estimate"]).set_index("parameterId")
    return Problem.from_tables(m, measurements=measurements, observables=observables, parameters=parameters,
                               # a tolerance no other test uses: this test's solver (and memo) is new
                               settings=SolverSettings(rtol=1.2345e-10, atol=1e-12, backend="native"))


def closed_form(k: float) -> tuple[float, float]:
    y = A0 * np.exp(-k * TIMES)
    r = MEASURED - y
    llh = float(np.sum(-0.5 * math.log(2 * math.pi * 0.01) - 0.5 * r**2 / 0.01))
    return llh, float(np.sum(r / 0.01 * (-TIMES * y)))


def test_repeated_rows_are_not_solved_again_and_keep_their_values(monkeypatch):
    memos: list[RowMemo] = []
    init = RowMemo.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        memos.append(self)

    monkeypatch.setattr(_row_memo.RowMemo, "__init__", recording)
    monkeypatch.setenv("CELLTWIN_ROW_MEMO", "1")
    problem = decay_problem()
    batched = jax.jit(jax.vmap(jax.value_and_grad(problem.log_likelihood)))
    for ks in ([0.4, 0.7], [0.4, 0.9], [0.9, 0.4]):  # the second and third repeat rows of earlier batches
        values, grads = batched(jnp.asarray(ks)[:, None])
        for k, v, g in zip(ks, values, grads[:, 0]):
            expected, dk = closed_form(k)
            assert float(v) == pytest.approx(expected, abs=1e-6)
            assert float(g) == pytest.approx(dk, rel=1e-6)
    solved = [m for m in memos if m.hits + m.misses]
    assert solved and max(m.hits for m in solved) >= 3  # rows 0.4, 0.9, 0.4 of the later batches
    assert min(m.misses for m in solved) <= 3  # 0.4, 0.7, 0.9: each solved once


def test_the_memo_keeps_the_most_recently_used_rows_within_its_budget():
    memo = RowMemo(max_bytes=3 * (8 + 8 + 8))  # three rows of an 8-byte key and two 8-byte outputs
    keys = RowMemo.keys([np.arange(5.0)[:, None]])
    memo.store(keys[:3], (np.arange(3.0), np.arange(3.0) * 10))
    assert memo.missing(keys[:3]).size == 0
    out = (np.zeros(1), np.zeros(1))
    memo.gather(keys[:1], out, np.array([0]))  # row 0 used: row 1 is now the oldest
    assert out[0][0] == 0.0 and out[1][0] == 0.0
    memo.store(keys[3:4], (np.array([3.0]), np.array([30.0])))
    assert list(memo.missing(keys[:4])) == [1]
    assert memo.bytes <= memo.max_bytes


def test_the_memo_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("CELLTWIN_ROW_MEMO", "0")
    memo = RowMemo()
    keys = RowMemo.keys([np.ones((2, 3))])
    memo.store(keys, (np.ones(2),))
    assert list(memo.missing(keys)) == [0, 1]


def test_a_batch_of_one_row_is_solved_without_keys():
    """Repeats come from lockstep batches: a single row is solved every time, nothing kept."""
    memo, solved = RowMemo(max_bytes=1 << 20), []
    out = (np.zeros(1),)

    def solve(rows):
        solved.append(list(rows))
        out[0][rows] = 7.0

    for _ in range(2):
        memo.fill([np.ones((1, 3))], out, solve)
    assert solved == [[0], [0]] and not memo.rows and memo.hits == memo.misses == 0
    memo.fill([np.ones((2, 3))], (np.zeros(2),), lambda rows: None)  # two rows: remembered
    assert len(memo.rows) == 1 and memo.misses == 2 and memo.hits == 0
