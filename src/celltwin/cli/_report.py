"""``celltwin report``: an HTML report of a ``celltwin sample`` result."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._load import load_posterior
from ._output import out_console, status


def report(
    posterior_nc: Path = typer.Argument(..., metavar="POSTERIOR.nc", help="Result of `celltwin sample`."),
    out: Path = typer.Option(..., "--out", "-o", metavar="REPORT.html", help="Where to write the report."),
    title: str | None = typer.Option(None, "--title", help="Page title (default: from the problem's name)."),
) -> None:
    """Write a self-contained HTML report of a sampling result.

    The report shows the run's settings, the convergence diagnostics and their warnings,
    the data against the posterior predictive 50 % and 90 % intervals per observable and
    condition, trace and rank plots, marginal posteriors against the priors, and a pair
    plot of the most correlated parameters. Figures are embedded: the file can be mailed
    or archived on its own.
    """
    from ..inference import write_report

    writable_file(out, "--out")
    idata = load_posterior(posterior_nc)
    try:
        with status(f"writing the report of {posterior_nc}"):
            write_report(idata, out, title=title)
    except CelltwinInputError as exc:
        raise CelltwinInputError(f"{posterior_nc}: {exc}") from None
    out_console().print(f"wrote {out}", markup=False, soft_wrap=True)  # a long path stays on one line


report = guarded(report)
