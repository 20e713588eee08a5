"""A self-contained HTML page of a :class:`~celltwin.causal.Diagnosis` (figures embedded)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from ._diagnose import Diagnosis
from ._resample import encode
from ._table import PredictionTable

MAX_COLOURED = 10  # strata drawn in their own colour; the rest in grey


def _num(v, digits: int = 3) -> str:
    return "&ndash;" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _figure(table: PredictionTable, column: str, reversal) -> str:
    """Measured against predicted, coloured by stratum, with the pooled and within slopes."""
    from matplotlib.figure import (
        Figure,  # no pyplot: the caller's backend is left alone
    )

    codes, names = encode(table.labels(column))
    sizes = np.bincount(codes, minlength=len(names))
    big = list(np.argsort(-sizes)[:MAX_COLOURED])
    x, y = table.predicted, table.measured
    fig = Figure(figsize=(6.0, 4.6), dpi=100)
    ax = fig.subplots()
    rest = ~np.isin(codes, big)
    if rest.any():
        ax.scatter(x[rest], y[rest], s=6, c="0.75", label="other strata", rasterized=True)
    for j in big:
        m = codes == j
        ax.scatter(x[m], y[m], s=8, label=f"{names[j]} (n={sizes[j]})", rasterized=True)
    grid = np.linspace(x.min(), x.max(), 2)
    ax.plot(grid, y.mean() + reversal.pooled * (grid - x.mean()), "k-", lw=1.5,
            label=f"pooled slope {reversal.pooled:+.2f}")
    ax.plot(grid, y.mean() + reversal.within * (grid - x.mean()), "k--", lw=1.5,
            label=f"within-strata slope {reversal.within:+.2f}")
    ax.set_xlabel("predicted pKd")
    ax.set_ylabel("measured pKd")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_html(diagnosis: Diagnosis, table: PredictionTable, path: str | Path) -> Path:
    """Write the diagnosis of ``table`` as one HTML file (tables, verdicts, scatter plots)."""
    path = Path(path)
    o = diagnosis.overall
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>celltwin diagnose</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child"
        "{text-align:left}.rev{color:#b00;font-weight:bold}</style></head><body>",
        f"<h1>Causal diagnostics of {html.escape(diagnosis.source)}</h1>",
        f"<p>{o.n} pairs, {o.compounds} compounds, {o.targets} targets. Error = predicted &minus; measured "
        f"(pKd): bias {o.bias:+.3f}, RMSE {o.rmse:.3f}, MAE {o.mae:.3f}, Pearson r {_num(o.pearson)}.</p>",
        f"<p>Settings: {html.escape(', '.join(f'{k}={v}' for k, v in diagnosis.settings.items()))}.</p>",
    ]
    for col in diagnosis.columns:
        f, r = col.focus, col.reversal
        pct = f"{100 * f.level:g} %"
        verdict = "<span class='rev'>reversal</span>" if r.reversal else "no reversal"
        slopes = {s.stratum: s for s in r.strata}
        parts += [
            f"<h2>Stratum column <code>{html.escape(col.column)}</code> ({f.k} strata)</h2>",
            f"<p>Focus &eta;&sup2; = {f.eta2:.3f} ({pct} interval {f.interval[0]:.3f}&ndash;{f.interval[1]:.3f}), "
            f"&omega;&sup2; = {f.omega2:.3f}, permutation p = {f.p_value:.2g}.</p>",
            f"<p>Simpson check: {verdict}. Pooled slope {r.pooled:+.3f} [{r.pooled_interval[0]:+.3f}, "
            f"{r.pooled_interval[1]:+.3f}], within strata {r.within:+.3f} [{r.within_interval[0]:+.3f}, "
            f"{r.within_interval[1]:+.3f}]. {html.escape(r.reason)}.</p>",
            f"<img alt='measured vs predicted by {html.escape(col.column)}' "
            f"src='data:image/png;base64,{_figure(table, col.column, r)}'>",
            "<table><tr><th>stratum</th><th>n</th><th>compounds</th><th>targets</th><th>bias</th><th>RMSE</th>"
            f"<th>MAE</th><th>r</th><th>slope</th><th>slope {pct}</th><th>focus share</th></tr>",
        ]
        for s in sorted(col.strata, key=lambda s: -s.focus_share if math.isfinite(s.focus_share) else 0.0):
            sl = slopes[s.label]
            parts.append(
                f"<tr><td>{html.escape(s.label)}</td><td>{s.n}</td><td>{s.compounds}</td><td>{s.targets}</td>"
                f"<td>{s.bias:+.3f}</td><td>{_num(s.rmse)}</td><td>{_num(s.mae)}</td><td>{_num(s.pearson)}</td>"
                f"<td>{_num(sl.slope)}</td><td>[{_num(sl.interval[0])}, {_num(sl.interval[1])}]</td>"
                f"<td>{_num(s.focus_share)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))
    return path
