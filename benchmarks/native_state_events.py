"""Events triggered by the state: the native engine against diffrax on the same models.

    python benchmarks/native_state_events.py [--repeats 21]

Two small models, both engines in one process at rtol 1e-8 / atol 1e-10 (the defaults):
``reset`` (A decays and is reset to 1 when it reaches 0.5: three firings before t = 5) and
``pulses`` (explicit time; B drops to a fifth whenever it reaches a threshold, four
firings, and a time event); and the PEtab v2 test-suite cases with such events (0016: a
period's change makes the trigger true; 0023: the event fires during pre-equilibration) as
problems, where ``$CELLTWIN_SHARED_DATA`` has the suite. For each: compile time (first
call), the time course's sum of squares (the problem's log-likelihood), its gradient, and
the gradient of a batch of 8 parameter sets per set (``vmap``), medians of interleaved
repeats; the largest difference between the engines' values and gradients. Results:
``benchmarks/results/native_state_events.tsv`` (with the load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from celltwin.model import Model, compile_model
from celltwin.simulate import SolverSettings, solve_time_course

BACKENDS = ("diffrax", "native")
BATCH = 8


def reset():
    m = Model("reset")
    m.add_compartment("c", 1.0)
    m.add_species("A", 1.0, compartment="c")
    m.add_species("N", 0.0, compartment="c")
    m.add_parameter("k", 0.5)
    m.add_reaction("decay", "A ->", rate="k*A")
    m.add_event("reset", None, {"A": "1", "N": "N + 1"}, when="A <= 0.5")
    return m, jnp.linspace(0.0, 5.0, 11)


def pulses():
    m = Model("pulses")
    m.add_compartment("c", 1.0)
    m.add_species("A", 0.0, compartment="c")
    m.add_species("B", 0.0, compartment="c")
    for pid, value in {"kin": 1.0, "k1": 0.8, "k2": 0.5, "th": 1.0}.items():
        m.add_parameter(pid, value)
    m.add_reaction("make", "-> A", rate="kin*exp(-time/10)")
    m.add_reaction("conv", "A -> B", rate="k1*A")
    m.add_reaction("deg", "B ->", rate="k2*B")
    m.add_event("pulse", None, {"B": "0.2*B"}, when="B >= th")
    m.add_event("dose", "4", {"A": "A + 1"})
    return m, jnp.linspace(0.5, 10.0, 20)


def functions(model, ts, backend):
    cm = compile_model(model)
    settings = SolverSettings(backend=backend)
    times = jnp.asarray([jnp.inf if ev.condition is not None else float(ev.time) for ev in cm.events])

    def loss(p):
        xs, _ = solve_time_course(cm, p, cm.x0(p), ts, event_times=times, settings=settings)
        return jnp.sum(xs**2)

    p = jnp.asarray(cm.parameter_values, dtype=float)
    batch = p * (1.0 + 0.05 * jnp.linspace(-1.0, 1.0, BATCH))[:, None]
    return p, batch, {"value": jax.jit(loss), "gradient": jax.jit(jax.grad(loss)),
                      "batch gradient": jax.jit(jax.vmap(jax.grad(loss)))}


def suite_case(case: str):
    """A builder for PEtab v2 test-suite case ``case`` as a problem (None: no suite here)."""
    root = os.environ.get("CELLTWIN_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    yaml = Path(root) / "petab-test-suite" / "v2.0.0" / "sbml" / case / f"_{case}.yaml"
    if not yaml.exists():
        return None

    def build(backend):
        from celltwin.problem import from_petab

        problem = from_petab(yaml, settings=SolverSettings(backend=backend))
        theta = jnp.asarray(problem.x_nominal, dtype=float)
        batch = theta * (1.0 + 0.05 * jnp.linspace(-1.0, 1.0, BATCH))[:, None]
        gradient = jax.jit(lambda th: problem.value_and_grad("reverse")(th)[1])
        return theta, batch, {"value": problem.jit_log_likelihood, "gradient": gradient,
                              "batch gradient": jax.jit(jax.vmap(gradient))}

    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    rows = []
    builders = {"reset": lambda b: functions(*reset(), b), "pulses": lambda b: functions(*pulses(), b)}
    for case in ("0016", "0023"):
        if suite_case(case) is not None:
            builders[f"petab v2 {case}"] = suite_case(case)
    for name, build in builders.items():
        fns, results, compile_s = {}, {}, {}
        for b in BACKENDS:
            p, batch, fns[b] = build(b)
            start = time.perf_counter()
            results[b] = {k: np.asarray(f(batch if k == "batch gradient" else p)) for k, f in fns[b].items()}
            compile_s[b] = time.perf_counter() - start
        times: dict = {(b, k): [] for b in BACKENDS for k in fns[b]}
        for _ in range(args.repeats):  # interleaved: both engines see the same load
            for b in BACKENDS:
                for k, f in fns[b].items():
                    x = batch if k == "batch gradient" else p
                    start = time.perf_counter()
                    jax.block_until_ready(f(x))
                    times[(b, k)].append((time.perf_counter() - start) / (BATCH if k == "batch gradient" else 1))
        for k in fns["native"]:
            d, n = (statistics.median(times[(b, k)]) * 1e3 for b in BACKENDS)
            # absolute, beside the size of the diffrax result (a gradient may be zero: case 0023's is)
            diff = float(np.max(np.abs(results["native"][k] - results["diffrax"][k])))
            size = float(np.max(np.abs(results["diffrax"][k])))
            rows.append((name, k, d, n, d / n, diff, size, compile_s["diffrax"], compile_s["native"]))
    load = os.getloadavg()
    header = ("model", "quantity", "diffrax_ms", "native_ms", "speedup", "max_abs_diff", "max_abs_diffrax",
              "diffrax_compile_s", "native_compile_s")
    lines = ["\t".join(header)] + ["\t".join([r[0], r[1], *(f"{v:.4g}" for v in r[2:])]) for r in rows]
    print(f"# load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} cores, medians of {args.repeats}")
    print("\n".join(lines))
    out = Path(__file__).parent / "results" / "native_state_events.tsv"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(f"# load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; medians of {args.repeats} interleaved "
                   "repeats; batch gradient per parameter set\n" + "\n".join(lines) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
