"""Training progress on stderr, for every training loop (CTGAN, TVAE, the tabular LM).

On a terminal: a rich progress bar that disappears when done. Otherwise (a log file, a pipe,
a CI job, a notebook's captured stream): a plain line at every tenth of the run, and at least
every ``LINE_EVERY_S`` seconds, then one line when training ends, so that a long fit on a busy
machine is never silent. Nothing is shown when the synthesizer's ``progress`` is False (the
tests' setting).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: A plain line at least this often, however slow a tenth of the run is.
LINE_EVERY_S = 60.0


class _NoProgress:
    def advance(self, description: str | None = None) -> None:
        pass


class _RichProgress:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, description: str | None = None) -> None:
        if description is None:
            self._progress.advance(self._task)
        else:
            self._progress.update(self._task, advance=1, description=description)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LineProgress:
    """Plain lines: ``Training CTGANSynthesizer: 40/400 steps (10%), 12 s, about 1 min 48 s
    left`` (with the latest validation score when the loop gives one)."""

    def __init__(
        self,
        total: int,
        description: str,
        unit: str,
        stream: TextIO,
        clock: Any = time.monotonic,
    ) -> None:
        self.total, self.description, self.unit = max(1, total), description, unit
        self.stream, self.clock = stream, clock
        self.done = 0
        self.note = ""
        self.started = self.last_line = clock()
        self._next_tenth = 1

    def advance(self, description: str | None = None) -> None:
        self.done += 1
        if description is not None:
            # the loops say "Training CTGAN (validation 0.812)": keep what is in brackets
            self.note = description[description.find("(") + 1 : -1] if "(" in description else ""
        now = self.clock()
        tenth = self.done * 10 // self.total
        if tenth >= self._next_tenth or now - self.last_line >= LINE_EVERY_S:
            self._next_tenth = tenth + 1
            if self.done < self.total:  # the last one is said by finish()
                self._line(now)

    def _line(self, now: float) -> None:
        elapsed = now - self.started
        left = elapsed / self.done * (self.total - self.done)
        self._write(
            f"{self.done}/{self.total}{self._unit()} ({100 * self.done // self.total}%)"
            f"{self._note()}, {_duration(elapsed)}, about {_duration(left)} left"
        )
        self.last_line = now

    def finish(self) -> None:
        """The closing line: how far it went (early stopping ends before the total)."""
        stopped = "" if self.done >= self.total else " (stopped early)"
        self._write(
            f"done after {self.done}/{self.total}{self._unit()}{stopped}{self._note()}, "
            f"{_duration(self.clock() - self.started)}"
        )

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def _note(self) -> str:
        return f", {self.note}" if self.note else ""

    def _write(self, text: str) -> None:
        self.stream.write(f"{self.description}: {text}\n")
        self.stream.flush()


@contextmanager
def progress_bar(
    enabled: bool, total: int, description: str, unit: str = ""
) -> Iterator[_NoProgress | _RichProgress | LineProgress]:
    """Progress on stderr (piped stdout stays clean): a bar on a terminal, plain lines
    otherwise, nothing when not ``enabled``. ``advance()`` once per ``unit`` of ``total``."""
    if not enabled:
        yield _NoProgress()
        return
    stream = sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        lines = LineProgress(total, description, unit, stream)
        yield lines
        lines.finish()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield _RichProgress(progress, progress.add_task(description, total=total))
