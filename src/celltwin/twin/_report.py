"""``report.html`` of a twin case: what the evidence changed, in tables and figures."""

from __future__ import annotations

import datetime
import html

import numpy as np
import pandas as pd

from .._atomic import atomic_write_text
from ..report_html import CSS, figure, hide_unused, image, note, table

COLOURS = {"prior": "#bbbbbb", "baseline": "#1f77b4", "augmented": "#d62728"}


def write_case_report(path, case, summary, draws, kd, held_out, scenario, problem) -> None:
    sections = [("overview", "Overview", overview(summary)),
                ("kd", "Binding constants: posterior against prediction and literature", kd_section(kd)),
                ("gain", "Information gain", gain_section(summary)),
                ("marginals", "Marginal posteriors of the rate constants with evidence", marginals(kd, draws)),
                ("parameters", "All parameters", parameter_table(summary))]
    if held_out is not None:
        sections.insert(3, ("held-out", "Held-out prediction", held_out_section(held_out)))
    if "loo" in summary:
        sections.insert(3, ("loo", "Leave-one-out predictive accuracy (PSIS-LOO)", loo_section(summary["loo"])))
    if scenario is not None:
        sections.append(("scenario", "Intervention scenario", scenario_section(scenario, case)))
    nav = " ".join(f'<a href="#{k}">{html.escape(h)}</a>' for k, h, _ in sections)
    body = "\n".join(f'<section id="{k}">\n<h2>{html.escape(h)}</h2>\n{c}\n</section>' for k, h, c in sections)
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    title = f"celltwin: {case.name}"
    text = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n'
            f'<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header><h1>'
            f'{html.escape(title)}</h1></header>\n<nav>{nav}</nav>\n{body}\n<footer>Written by celltwin on {created}; '
            'full posterior reports: <a href="baseline_report.html">baseline</a>, '
            '<a href="augmented_report.html">augmented</a>.</footer>\n</body>\n</html>\n')
    atomic_write_text(path, text)


def overview(summary) -> str:
    rows = [("wall time (s)", f"{summary['wall_time_s']:.0f}"), ("max R-hat", f"{summary['max_rhat']:.3f}"),
            ("min bulk ESS", f"{summary['min_bulk_ess']:.0f}"),
            ("min tail ESS", f"{summary.get('min_tail_ess', float('nan')):.0f}"),
            ("total information gain, augmented vs baseline (bits)",
             f"{summary['information_gain_total_bits']['augmented_vs_baseline']:.2f}")]
    for key, value in summary.get("held_out", {}).items():
        rows.append((f"held-out {key}", f"{value:.4g}"))
    warnings = [f"{run}: {w}" for run, d in summary["diagnostics"].items() for w in d["warnings"]]
    out = table(pd.DataFrame(rows, columns=["quantity", "value"]), index=False)
    if warnings:
        out += '<div class="warnings"><p><b>Not converged:</b> treat the numbers below as provisional.</p><ul>' + \
               "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul></div>"
    return out


def kd_section(kd: pd.DataFrame) -> str:
    shown = kd.drop(columns=[c for c in kd.columns if c.endswith(("_q05", "_q95"))])
    return note("log10 Kd in M; q50 is the posterior median, width90 the width of the 90 % interval, error the "
                "distance of the median to the literature value; log10_koff and log10_kon in the model's units "
                "(kd.tsv has their 5 and 95 % quantiles too).") + table(shown, index=False)


def gain_section(summary) -> str:
    names = list(summary["parameters"])
    bits = np.array([summary["parameters"][p]["kl_bits"] for p in names])
    lo = np.array([summary["parameters"][p]["kl_bits_interval"][0] for p in names])
    hi = np.array([summary["parameters"][p]["kl_bits_interval"][1] for p in names])
    order = np.argsort(bits)[::-1][:25]
    fig, axes = figure(1, 1, panel=(9.0, 4.0))
    ax = axes[0, 0]
    ax.bar(range(len(order)), bits[order], color=COLOURS["augmented"])
    # the bootstrap interval as drawn, not as +- bars: a percentile interval of a biased
    # estimator need not contain the estimate (seen on the GPCR case)
    ax.vlines(range(len(order)), lo[order], hi[order], color="black", linewidth=1)
    ax.set_xticks(range(len(order)), [names[k] for k in order], rotation=60, fontsize=7)
    ax.set_ylabel("KL(augmented || baseline), bits")
    return note("Per-parameter KL divergence of the augmented from the baseline posterior (1-D kernel density "
                "estimates, 90 % bootstrap intervals), the 25 largest.") + image(fig, "information gain")


def loo_section(loo) -> str:
    rows = [{"posterior": run, "elpd_loo": v["elpd_loo"], "se": v["se"], "p_loo": v["p_loo"],
             "max Pareto k": v["pareto_k_max"], "points with k > 0.7": v["n_pareto_k_above_0.7"],
             "points with 0.5 < k <= 0.7": v["n_pareto_k_0.5_to_0.7"]}
            for run, v in loo.items() if isinstance(v, dict)]
    diff, se = loo["elpd_diff_augmented_minus_baseline"], loo["elpd_diff_se"]
    return note(f"Expected log predictive density of each training measurement left out in turn (Pareto-smoothed "
                f"importance sampling, arviz). Augmented minus baseline: {diff:.2f} (se {se:.2f}); a difference "
                "within two standard errors is not a difference. Points with Pareto k above 0.7 have unreliable "
                "LOO estimates; points whose log-likelihood is the same in every draw are exact and not "
                "counted.") + table(pd.DataFrame(rows), index=False)


def held_out_section(held_out) -> str:
    data = held_out["table"]
    groups = list(data.groupby(["observableId", "simulationConditionId"], sort=False).indices.items())
    fig, axes = figure(1, len(groups), panel=(4.5, 3.2))
    for ax, ((oid, cid), index) in zip(axes.flat, groups):
        t = data["time"].to_numpy()[index]
        for run, res in held_out["runs"].items():
            ax.plot(t, res["q50"][index], color=COLOURS[run], label=f"{run} (RMSE {res['rmse']:.3g})")
            ax.fill_between(t, res["q05"][index], res["q95"][index], color=COLOURS[run], alpha=0.2, lw=0)
        ax.plot(t, data["measurement"].to_numpy()[index], "ko", ms=3, label="held-out data")
        ax.set_title(f"{oid} | {cid}", fontsize=9)
        ax.legend(fontsize=7)
    return note("Posterior median and 90 % band of the held-out observables (never used in fitting).") + \
        image(fig, "held-out prediction")


def marginals(kd: pd.DataFrame, draws: dict) -> str:
    names = [p for pair in zip(kd["kon"], kd["koff"]) for p in pair]
    fig, axes = figure(int(np.ceil(len(names) / 6)), 6, panel=(2.6, 2.0))
    for ax, name in zip(axes.flat, names):
        for run in ("prior", "baseline", "augmented"):
            ax.hist(draws[run][name], bins=40, density=True, histtype="stepfilled" if run == "prior" else "step",
                    color=COLOURS[run], label=run, alpha=0.6 if run == "prior" else 1.0)
        ax.set_title(name, fontsize=8)
    hide_unused(axes, len(names))
    axes.flat[0].legend(fontsize=6)
    return note("kon and koff of every reaction with Kd evidence, on their parameter scale (log10).") + \
        image(fig, "marginal posteriors")


def parameter_table(summary) -> str:
    rows = [{"parameter": p, "nominal": v["nominal"], "prior 5%": v["prior_interval"][0],
             "prior 95%": v["prior_interval"][1], **{f"{run} {q}": v[run][q] for run in ("baseline", "augmented")
                                                    for q in ("q05", "q50", "q95")},
             "KL bits": v["kl_bits"]} for p, v in summary["parameters"].items()]
    return table(pd.DataFrame(rows), index=False)


def scenario_section(scenario: pd.DataFrame, case) -> str:
    groups = list(scenario.groupby(["observableId", "simulationConditionId"], sort=False).groups)
    fig, axes = figure(int(np.ceil(len(groups) / 3)), min(3, len(groups)), panel=(4.2, 3.0))
    styles = {"baseline": "--", "intervention": "-"}
    for ax, (oid, cid) in zip(axes.flat, groups):
        part = scenario[(scenario.observableId == oid) & (scenario.simulationConditionId == cid)]
        for (run, name), rows in part.groupby(["posterior", "scenario"], sort=False):
            rows = rows.sort_values("time")
            ax.plot(rows["time"], rows["q50"], styles.get(name, "-"), color=COLOURS[run], label=f"{run}: {name}")
            ax.fill_between(rows["time"], rows["q05"], rows["q95"], color=COLOURS[run], alpha=0.12, lw=0)
        ax.set_title(f"{oid} | {cid}", fontsize=9)
    hide_unused(axes, len(groups))
    axes.flat[0].legend(fontsize=6)
    labels = "; ".join(i.label for i in case.interventions)
    return note(f"Intervention: {labels}. Dashed: without it; bands: 90 % posterior intervals.") + \
        image(fig, "scenario")
