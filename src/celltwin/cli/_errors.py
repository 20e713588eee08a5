"""Turning exceptions into exit statuses and one-paragraph messages.

* :class:`~celltwin.errors.CelltwinInputError` (bad input): exit status 2 and the
  message, which names the file and the field; no traceback unless ``--debug``.
* Anything else: exit status 1 and a short message (traceback with ``--debug``).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback

import typer

from ..errors import CelltwinInputError
from ._output import _escape, err_console

EXIT_INPUT = 2
EXIT_INTERNAL = 1


def debug_from_env() -> bool:
    return os.environ.get("CELLTWIN_DEBUG", "") not in ("", "0")


class _State:
    debug: bool = debug_from_env()


STATE = _State()


def one_paragraph(text: object) -> str:
    """Collapse blank lines and line breaks: messages must read as one paragraph."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def report(exc: BaseException) -> int:
    """Print ``exc`` the CLI way; returns the exit status to use."""
    if STATE.debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    console = err_console()
    if isinstance(exc, CelltwinInputError):
        console.print(f"[bold red]error:[/bold red] {_escape(one_paragraph(exc))}")
        return EXIT_INPUT
    if isinstance(exc, KeyboardInterrupt):
        console.print("[bold red]interrupted[/bold red]")
        return 130
    hint = "" if STATE.debug else " (run `celltwin --debug ...` for the traceback)"
    console.print(
        f"[bold red]internal error:[/bold red] {_escape(type(exc).__name__)}: {_escape(one_paragraph(exc))}"
        f"{_escape(hint)}. This is a bug in celltwin; please report it with the input that triggers it."
    )
    return EXIT_INTERNAL


def guarded(fn):
    """Decorate a command: exceptions become exit statuses (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own exits and usage errors
            raise
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the CLI boundary
            raise typer.Exit(report(exc)) from None

    return wrapper
