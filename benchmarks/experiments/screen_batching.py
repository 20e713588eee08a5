"""Error of estimated perturbation effects under different batching designs (issue 7, item 3).

    PYTHONPATH=src python benchmarks/experiments/screen_batching.py

A fixed budget: 24 perturbations x 96 cells and 192 control cells, split over 1, 4 or 8
batches; controls in every batch or all in batch 0; each perturbation in one batch or spread
over all. Cell noise sd 1, batch offsets sd 0.3 (log scale). Prints the simulated RMSE of the
effect estimates (20 simulated screens per design) next to the closed form.
"""

from celltwin.perturb import BatchingDesign, batching_table


def main() -> None:
    designs = [BatchingDesign(1, 96, 192)]
    for n in (4, 8):
        for spread in (False, True):
            for every in (True, False):
                designs.append(BatchingDesign(n, 96, 192 // n, controls_in_every_batch=every,
                                              spread_perturbations=spread))
    table = batching_table(designs, replicates=20, seed=0)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
