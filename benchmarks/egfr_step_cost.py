"""Where the time of one EGFR log-likelihood and gradient goes (the speed goal of issue 3).

    python benchmarks/egfr_step_cost.py

Prints, for the EGFR example at the seed's tolerances (rtol 1e-6, atol 1e-5): the
log-likelihood and gradient times (median of 5), the batched gradient cost per parameter
set (vmap over 4 and 16 sets), the solver steps per EGF dose and the time per step, and the
cost of the pieces of one Rodas5P step measured in isolation (each piece repeated 2000
times inside one compiled loop, so dispatch is excluded): right-hand side, Jacobian, LU
factorisation, one LU solve, the inverse and one matrix-vector product of the 23 x 23
system. A Rodas5P step is one Jacobian, one factorisation (or inversion) and 8 right-hand
sides and solves (or matrix-vector products): the stage solves use the inverse at this
size (``linear_solve="auto"``, ``benchmarks/linear_solve.py``). Results:
``benchmarks/results/egfr_step_cost.tsv``.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from _common import EGFR_CASE as CASE
from _common import RESULTS, median_ms


def main() -> None:
    import diffrax
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    from celltwin.evidence import Evidence, read_affinity_table
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings
    from celltwin.simulate._solve import _term
    from celltwin.twin import read_case

    case = read_case(CASE)
    problem = from_petab(case.problem, settings=SolverSettings(**case.solver))
    evidence = Evidence(problem, read_affinity_table(case.evidence, problem.model, weight=case.evidence_weight))
    x = jnp.asarray(problem.x_nominal)
    rows = [("log-posterior", "ms", median_ms(jax.jit(evidence.log_density), x)),
            ("gradient (reverse mode)", "ms", median_ms(jax.jit(jax.grad(evidence.log_density)), x))]
    batched = jax.jit(jax.vmap(jax.grad(evidence.log_density)))
    rng = np.random.default_rng(0)
    for n in (4, 16):
        xs = x + 0.05 * jnp.asarray(rng.standard_normal((n, x.size)))
        rows.append((f"gradient, vmap over {n} parameter sets, per set", "ms", median_ms(batched, xs, repeats=3) / n))

    cm, settings = problem.compiled, problem.settings
    pool = problem._pool(x)
    group = problem.arrays.groups[0]
    for c in range(len(group.p_refs)):
        p = pool[group.p_refs[c]]
        x0 = jnp.where(group.x0_mask[c], pool[group.x0_refs[c]], cm.x0(p))
        ts = jnp.asarray(group.ts[c])
        solve = jax.jit(lambda p, x0, ts=ts: diffrax.diffeqsolve(
            _term(cm), settings.solver, 0.0, ts[-1], None, x0, args=(p, cm.derived(p)), saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=settings.controller(), max_steps=settings.max_steps, throw=False))
        steps = int(solve(p, x0).stats["num_steps"])
        ms = median_ms(lambda p, x0, solve=solve: solve(p, x0).ys, p, x0, repeats=10)
        rows += [(f"dose {c}: solver steps", "count", steps), (f"dose {c}: time per step", "us", 1e3 * ms / steps)]

    p = pool[group.p_refs[0]]
    d = cm.derived(p)
    x0 = cm.x0(p)
    n_rep = 2000
    W = jnp.eye(x0.size) * 3 + 0.01 * jnp.asarray(rng.standard_normal((x0.size, x0.size)))
    lu = jsl.lu_factor(W)
    pieces = {
        "right-hand side": lambda y: y + 1e-6 * cm.rhs(0.0, y, p, d),
        "Jacobian": lambda y: y + 1e-6 * cm.jacobian(0.0, y, p, d)[0][:, 0],
        "LU factorisation": lambda y: y + 1e-6 * jsl.lu_factor(W + 1e-9 * y[0])[0][:, 0],
        "LU solve": lambda y: 0.5 * y + 1e-6 * jsl.lu_solve(lu, y),
        "matrix inverse": lambda y: y + 1e-6 * jnp.linalg.inv(W + 1e-9 * y[0])[:, 0],
        "matrix-vector product": lambda y: 0.5 * y + 1e-6 * (W @ y),
    }
    for name, body in pieces.items():
        loop = jax.jit(lambda y, body=body: jax.lax.fori_loop(0, n_rep, lambda i, y: body(y), y))
        rows.append((f"piece: {name}", "us", 1e3 * median_ms(loop, x0, repeats=3) / n_rep))

    table = pd.DataFrame(rows, columns=["quantity", "unit", "value"])
    table.insert(0, "device", str(jax.devices()[0]))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    out = RESULTS / "egfr_step_cost.tsv"
    table.to_csv(out, sep="\t", index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
