"""Building blocks of celltwin's self-contained HTML reports (sampling, digital twin,
benchmark leaderboard): the style sheet, tables, notes and matplotlib figures embedded as PNG.

Figures are built without pyplot, so that no global figure state is touched or leaked.
"""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
table.settings td { text-align: left; }
.warnings { background: #fdecea; border: 2px solid #d93025; border-radius: 4px; padding: 0.6em 1em; }
.warnings h3 { margin: 0.2em 0; color: #b3261e; }
.ok { background: #e6f4ea; border: 2px solid #1e8e3e; border-radius: 4px; padding: 0.6em 1em; }
.note { color: #555; font-style: italic; }
figure { margin: 0.8em 0; } img { max-width: 100%; height: auto; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
"""


def image(fig, alt: str) -> str:
    """``fig`` as an embedded PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    fig.clear()
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></figure>'


def table(df: pd.DataFrame, **kwargs) -> str:
    return df.to_html(escape=True, border=0, na_rep="", float_format=lambda v: f"{v:.4g}", **kwargs)


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def figure(rows: int, cols: int, *, panel: tuple[float, float] = (3.4, 2.6), **kwargs):
    """A ``rows`` x ``cols`` grid of axes (always a 2-d array) in a constrained layout."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel[0] * cols, panel[1] * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs)
    return fig, axes


def hide_unused(axes, used: int) -> None:
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
