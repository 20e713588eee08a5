"""Where the CLI writes: results to stdout, progress and messages to stderr."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# Progress, warnings and error messages: never on stdout, so `--format json` stays clean.
# Created per use so that redirected or captured streams (tests) are honoured.


def err_console() -> Console:
    from rich.console import Console  # here: `celltwin --help` must not wait for it

    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def out_console() -> Console:
    from rich.console import Console  # here: `celltwin --help` must not wait for it

    return Console(file=sys.stdout, highlight=False)


@contextlib.contextmanager
def status(message: str):
    """A spinner on stderr while a step runs (plain text when stderr is not a terminal)."""
    console = err_console()
    if console.is_terminal:
        with console.status(_escape(message)):
            yield
    else:
        console.print(f"{message}", markup=False)
        yield


def note(message: str) -> None:
    """One plain line on stderr (e.g. which engine solves the model)."""
    err_console().print(message, markup=False)


def warn(message: str) -> None:
    err_console().print(f"[yellow]warning:[/yellow] {_escape(message)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
