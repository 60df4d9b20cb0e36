"""One-line errors and warnings for the terminal: no traceback, exit code 2 for bad input.

Ctrl-C and SIGTERM both unwind through every ``with`` block (so temporary files are removed
and nothing is half-written) and end with one line naming what had been written: exit 130
for Ctrl-C and 143 for SIGTERM, the shell's 128 + signal number.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import typer
from rich.console import Console

from synthpatient._atomic import recording_writes
from synthpatient.errors import (
    SynthPatientError,
    Terminated,  # noqa: F401  (defined in errors.py; re-exported)
)

err = Console(stderr=True, highlight=False, soft_wrap=True)
BAD_INPUT = 2
INTERRUPTED = 130
TERMINATED = 143

# numpy's words when an array cannot even be described (too many elements for the index type)
_TOO_BIG = (
    "array is too big",
    "maximum allowed dimension exceeded",
    "maximum allowed size exceeded",
)
_OUT_OF_MEMORY = (
    "out of memory. Ask for fewer rows, or sample in batches (several runs with "
    "different --seed values)."
)


# Python wording in library warnings -> what a command-line user does instead
_CLI_WORDS = {
    "(ColumnSpec minimum/maximum/categories)": (
        "(write a schema file with `synthpatient schema`, set each column's minimum, maximum "
        "or categories in it, and pass it with --schema)"
    ),
}
# Warnings about a library's internals that a user cannot act on. opacus's accountant warns
# when the best Renyi order is at the edge of its range: epsilon is then slightly
# overestimated (a safe bound), which the spent-budget line already reports.
_INTERNAL_WARNINGS = (("Optimal order is the (smallest|largest) alpha", "opacus"),)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    text = str(message)
    for python, cli in _CLI_WORDS.items():
        text = text.replace(python, cli)
    err.print(f"[yellow]Warning:[/] {_escape(text)}", markup=True)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn our errors into one line on stderr and exit 2; Ctrl-C into exit 130 and SIGTERM
    into exit 143, each after the partial work was cleaned up."""
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        with warnings.catch_warnings(), recording_writes() as written, _sigterm_unwinds():
            for message, module in _INTERNAL_WARNINGS:
                warnings.filterwarnings("ignore", message=message, module=module)
            try:
                yield
            except SynthPatientError as exc:
                err.print(f"[red]Error:[/] {_escape(str(exc))}", markup=True)
                raise typer.Exit(BAD_INPUT) from None
            except KeyboardInterrupt:
                err.print(
                    f"[red]Interrupted:[/] {_escape(_what_was_written(written))}", markup=True
                )
                raise typer.Exit(INTERRUPTED) from None
            except Terminated:
                err.print(f"[red]Terminated:[/] {_escape(_what_was_written(written))}", markup=True)
                raise typer.Exit(TERMINATED) from None
            except MemoryError:
                err.print(f"[red]Error:[/] {_OUT_OF_MEMORY}", markup=True)
                raise typer.Exit(BAD_INPUT) from None
            except (ValueError, OverflowError) as exc:
                if not _array_too_big(exc):
                    raise
                err.print(f"[red]Error:[/] {_OUT_OF_MEMORY}", markup=True)
                raise typer.Exit(BAD_INPUT) from None
    finally:
        warnings.showwarning = previous


def _what_was_written(written: list[Path]) -> str:
    if not written:
        return "nothing was written."
    names = ", ".join(f"'{path}'" for path in written)
    return f"{names} {'was' if len(written) == 1 else 'were'} written; nothing else was."


def _array_too_big(exc: BaseException) -> bool:
    text = str(exc).lower()
    if isinstance(exc, OverflowError):  # a count past C's integer range, from numpy or pandas
        return "too large to convert" in text or "int too large" in text
    return any(words in text for words in _TOO_BIG)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread.

    A second SIGTERM during the clean-up kills at once (the default), as a user insisting
    expects; the temporaries it leaves are removed by the next write of the same target. An
    ignored SIGTERM (a parent asked for that) stays ignored.
    """
    installed = False
    previous = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        previous = signal.getsignal(signal.SIGTERM)
        if previous is not signal.SIG_IGN:
            signal.signal(signal.SIGTERM, _raise_terminated)
            installed = True
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
