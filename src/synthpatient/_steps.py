"""Progress and cancellation of long library calls, for a caller that shows them.

A long call (drawing a cohort, writing its files) reports how far it is with :func:`step`;
a caller that wants to know (the web app's job) wraps the call in :func:`reporting`. The
callback may raise (the web app raises :class:`~synthpatient.errors.JobCancelled` after
Cancel): the call then stops at that step, and whatever it was writing is removed by its own
atomic writer. Without a caller, :func:`step` does nothing, so the CLI and the Python API
are unchanged.

The callback lives in a :class:`~contextvars.ContextVar`: two jobs on two threads never see
each other's callbacks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

#: ``callback(stage, fraction)``: ``stage`` a short key ("draw", "timeline", ...), ``fraction``
#: the part of that stage done, in [0, 1]
StepCallback = Callable[[str, float], None]

_CALLBACK: ContextVar[StepCallback | None] = ContextVar("synthpatient_steps", default=None)


def step(stage: str, done: float, total: float) -> None:
    """Say that ``done`` of ``total`` units of ``stage`` are finished (may raise, see above)."""
    callback = _CALLBACK.get()
    if callback is not None:
        callback(stage, min(max(done / total, 0.0), 1.0) if total > 0 else 1.0)


def watched() -> bool:
    """Whether a caller listens: a step whose figures cost work to compute asks first."""
    return _CALLBACK.get() is not None


@contextlib.contextmanager
def reporting(callback: StepCallback) -> Iterator[None]:
    """Send the steps of the calls made inside the block (on this thread) to ``callback``."""
    token = _CALLBACK.set(callback)
    try:
        yield
    finally:
        _CALLBACK.reset(token)
