"""One-line errors and warnings for the terminal: no traceback, exit code 2 for bad input."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import typer
from rich.console import Console

from synthpatient.errors import SynthPatientError

err = Console(stderr=True, highlight=False, soft_wrap=True)
BAD_INPUT = 2
INTERRUPTED = 130


def _show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    err.print(f"[yellow]Warning:[/] {message}", markup=True)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn our errors into one line on stderr and exit 2; Ctrl-C into a clean exit 130."""
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    except SynthPatientError as exc:
        err.print(f"[red]Error:[/] {_escape(str(exc))}", markup=True)
        raise typer.Exit(BAD_INPUT) from None
    except KeyboardInterrupt:
        err.print("[red]Interrupted:[/] nothing was written.", markup=True)
        raise typer.Exit(INTERRUPTED) from None
    except MemoryError:
        err.print("[red]Error:[/] out of memory. Ask for fewer rows, or sample in batches.",
                  markup=True)
        raise typer.Exit(1) from None
    finally:
        warnings.showwarning = previous


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
