"""Helpers shared by the experiments that read a twin case's draws (``celltwin demo``
output folders and checkpoints): the draws as a table, log10 Kd per evidence reaction, the
held-out RMSE of the posterior median prediction, the log density the sampler ran on."""

from __future__ import annotations

import numpy as np
import pandas as pd


def posterior_array(idata, ids) -> np.ndarray:
    """The draws of parameters ``ids`` in an InferenceData, shape (chains, draws, parameters)."""
    return np.stack([np.asarray(idata.posterior[p]) for p in ids], axis=-1)


def draws_of(path, ids) -> pd.DataFrame:
    """The draws of an InferenceData file (``baseline.nc``, ...), chains one after the other."""
    import arviz as az

    theta = posterior_array(az.from_netcdf(str(path)), ids)
    return pd.DataFrame(theta.reshape(-1, len(ids)), columns=ids)


def log10_kds(problem, terms, draws: pd.DataFrame) -> dict[str, np.ndarray]:
    """log10 Kd (M) of every evidence reaction at every draw (as the twin's Kd table)."""
    from celltwin.units import CONCENTRATION_UNITS

    linear = pd.DataFrame(problem.to_linear(draws[problem.parameter_ids].to_numpy()), columns=problem.parameter_ids)
    return {term.reaction or term.label: np.asarray(np.log10(linear[term.koff]) - np.log10(linear[term.kon])
                                                    + CONCENTRATION_UNITS[term.model_unit]) for term in terms}


def held_out_rmse(test_problem, draws: pd.DataFrame, n: int = 400) -> float:
    """RMSE of the posterior median prediction of ``test_problem``'s measurements (``n``
    draws evenly spaced; draws whose simulation fails are left out)."""
    import jax

    thin = draws.iloc[np.linspace(0, len(draws) - 1, n).astype(int)][test_problem.parameter_ids].to_numpy()
    y = np.asarray(jax.jit(jax.vmap(lambda th: test_problem.simulate(th).observables))(thin))
    ok = np.all(np.isfinite(y), axis=1)
    return float(np.sqrt(np.mean((np.median(y[ok], axis=0) - np.asarray(test_problem.measurements)) ** 2)))


def case_log_density_z(case_path, run: str, **solver):
    """``(problem, f)``: the case's problem and the log density that its ``run`` (baseline or
    augmented) samples, ``f(z)`` in the sampler's unconstrained space (the bounded transform's
    log Jacobian included); ``solver``: settings that replace the case's."""
    from celltwin.twin import case_evidence, read_case

    evidence = case_evidence(read_case(case_path), **solver)
    problem, density = evidence.problem, evidence.switched(run == "augmented").log_density
    space = problem.bounded_transform
    return problem, lambda z: density(space.theta(z)) + space.log_jacobian(z)


def add_checkpoint_arguments(parser) -> None:
    """The arguments of the experiments that read a running sampler's checkpoint: CASE,
    CHECKPOINT and ``--run``."""
    parser.add_argument("case")
    parser.add_argument("checkpoint", help="a run's checkpoint (DIR/RUN.checkpoint.npz) or, once done, DIR/RUN.nc")
    parser.add_argument("--run", choices=("baseline", "augmented"), default="baseline")


def read_checkpoint(path, problem=None) -> dict:
    """A NUTS checkpoint from its draw phase: its arrays, and ``inverse_mass`` the first chain's
    adapted inverse mass matrix as a dense matrix. A finished run's ``RUN.nc`` (``problem``
    needed) gives its draws in the sampler's space and statistics under the checkpoint's names;
    it holds no adaptation, so ``inverse_mass`` is the draws' covariance (what a dense, pooled
    warm-up estimates) and ``step_size`` is NaN."""
    if str(path).endswith(".nc"):
        import arviz as az

        idata = az.from_netcdf(str(path))
        draws_z = np.asarray(problem.bounded_transform.z(posterior_array(idata, problem.parameter_ids)))
        stats = {f"stat_{k}": np.asarray(v) for k, v in idata.sample_stats.items()}
        chains = draws_z.shape[0]
        return {"draws_z": draws_z, **stats, "position": draws_z[:, -1], "step_size": np.full(chains, np.nan),
                "inverse_mass": np.cov(draws_z.reshape(-1, draws_z.shape[-1]), rowvar=False)}
    with np.load(path) as record:
        if "draws_z" not in record:
            raise SystemExit(f"{path}: no draws yet (the run is still in its warm-up)")
        arrays = dict(record)
    matrix = arrays["inverse_mass_matrix"][0]
    arrays["inverse_mass"] = np.diag(matrix) if matrix.ndim == 1 else matrix
    return arrays
