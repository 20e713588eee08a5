"""The typer application: global options and the command table.

`celltwin --help` imports every command module, so they hold only typer signatures and help
at the top and import numpy, pandas and JAX inside the command (tests/test_progress.py checks).
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from ._affinity import affinity_app
from ._bench import bench_app
from ._check import check
from ._diagnose import diagnose
from ._discover import discover
from ._errors import STATE, debug_from_env, report
from ._fit import fit
from ._hybrid import hybrid
from ._profile import profile
from ._quickstart import quickstart
from ._report import report as report_command
from ._sample import sample
from ._scenario import scenario
from ._screen import screen_app
from ._simulate import simulate
from ._twin_demo import demo


class _CommandGroup(TyperGroup):
    """A command group whose ``--help`` flag defaults to False.

    typer (0.29) passes a flag's missing value (None) through a pydantic validator, which
    imports pydantic: 0.2 s on every ``celltwin CMD --help`` for the group's own flag.
    """

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option


app = typer.Typer(
    cls=_CommandGroup,
    name="celltwin",
    help="celltwin: ODE models of cell signalling (SBML/PEtab), simulated and differentiated in JAX.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Plain help: rich's help panels take 0.3 s to import and draw; --help should be instant.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"celltwin {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """celltwin: ODE models of cell signalling (SBML/PEtab), simulated and differentiated in JAX.

    Exit status: 0 success, 2 bad input (the message names the file and field), 1 internal error.
    """
    STATE.debug = debug or debug_from_env()  # set on every invocation (tests run many in one process)


app.command("check")(check)
app.command("simulate")(simulate)
app.command("fit")(fit)
app.command("profile")(profile)
app.command("sample")(sample)
app.command("report")(report_command)
app.command("scenario")(scenario)
app.command("demo")(demo)
app.command("quickstart")(quickstart)
app.command("diagnose")(diagnose)
app.command("discover")(discover)
app.add_typer(screen_app, name="screen", cls=_CommandGroup)
app.add_typer(bench_app, name="bench", cls=_CommandGroup)
app.add_typer(affinity_app, name="affinity", cls=_CommandGroup)
app.command("hybrid")(hybrid)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``celltwin`` console script."""
    try:
        app(args=argv, prog_name="celltwin")
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - errors outside a command (option parsing, callbacks)
        sys.exit(report(exc))
