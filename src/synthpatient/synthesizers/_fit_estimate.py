"""How long a candidate's fit will take on this table and this machine, before fitting it.

``auto`` must choose within a time budget, and a fit cannot be stopped once started, so each
candidate's fit time is estimated first and a candidate whose estimate does not fit what is
left of the budget is skipped (and named, with its estimate, in the report):

* A generator trained for a number of steps or epochs (the deep ones) is **probed**: fitted
  twice on the same rows with a few steps (epochs), which gives the cost of a step and the
  set-up cost on this table and this machine, as loaded as it is now; the estimate is the
  set-up plus the default number of steps (early stopping can only make the fit shorter).
* Any other is estimated from a reference time (~350 rows x 11 columns on an idle 2-core
  machine) times this machine's pace now: :func:`machine_pace` (wall time over CPU time of a
  short loop: about k when k busy processes share each core), or how much slower than their
  references the candidates fitted so far were, whichever is slower, measured again before
  each candidate. A deep generator is probed only when this rough estimate fits the budget
  (on a loaded machine a probe, whose first fit imports torch and fits the column transforms,
  took 41.5 s by itself), and the probe can only raise the estimate: the difference of two
  short timings is noisy when the load changes.
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from synthpatient.errors import SynthPatientWarning
from synthpatient.schema import Schema
from synthpatient.synthesizers.base import Synthesizer
from synthpatient.synthesizers.registry import get_synthesizer_class

#: Fit seconds of each generator on ~350 rows x 11 columns on an idle 2-core machine: about
#: twice the README benchmark table's fit times on the bundled table (ctgan 5.9 s, tvae 6.0 s,
#: tabular_lm 15.4 s; a fit inside auto also completes the schema), cart from check_auto.py
#: (0.3-1.2 s loaded); scaled by rows and by the machine's measured pace.
REFERENCE_FIT_S = {"copula": 0.5, "cart": 1.5, "ctgan": 12.0, "tvae": 12.0, "tabular_lm": 30.0}
UNKNOWN_FIT_S = 15.0
#: References below this are mostly fixed overhead: they do not tell the machine's pace.
PACE_MIN_REFERENCE_S = 2.0
#: CPU seconds of the loop that measures the machine's pace.
PACE_PROBE_CPU_S = 0.1
#: The two probe lengths for a generator trained by steps or by epochs.
PROBES = {"steps": (10, 30), "epochs": (1, 2)}
#: Validation passes during a full fit cost on top of the steps probed.
VALIDATION_MARGIN = 1.15

Make = Callable[[str, dict[str, int]], Synthesizer]


@dataclass
class FitEstimate:
    """Expected fit seconds, how they were found (for the report) and the probe's cost."""

    seconds: float
    how: str
    probe_s: float = 0.0


def reference_s(key: str, n_rows: int) -> float:
    """The reference fit time of ``key``, for ``n_rows`` rows (linear above ~350)."""
    return REFERENCE_FIT_S.get(key, UNKNOWN_FIT_S) * max(1.0, n_rows / 350)


def probe_parameter(key: str) -> str | None:
    """The parameter that sets how long ``key`` trains (steps, epochs), if any, and only when
    its default is a number (a length chosen at fit time cannot be extrapolated to)."""
    klass = get_synthesizer_class(key)
    param = next((p for p in PROBES if p in klass._param_names()), None)
    if param is None or not isinstance(_default(key, param), int):
        return None
    return param


def _default(key: str, param: str) -> object:
    """A parameter's default, read off the signature: constructing a deep generator imports
    torch (half a minute on a loaded machine), which a model auto then skips never needs."""
    klass = get_synthesizer_class(key)
    return inspect.signature(klass.__init__).parameters[param].default


def from_reference(key: str, n_rows: int, pace: float) -> FitEstimate:
    base = reference_s(key, n_rows)
    how = f"reference {base:.0f} s"
    if pace > 1.0:
        how += f" x {pace:.1f} (this machine's pace now)"
    return FitEstimate(base * max(pace, 1.0), how)


def probe(key: str, make: Make, train: pd.DataFrame, schema: Schema) -> FitEstimate:
    """Fit ``key`` with two short training lengths and extrapolate to its default one."""
    param = probe_parameter(key)
    if param is None:
        raise ValueError(f"'{key}' has no training length to probe")
    full = _default(key, param)
    if not isinstance(full, int):  # probe_parameter already checked it: for mypy
        raise ValueError(f"'{key}' chooses its training length at fit time")
    small, large = PROBES[param]
    began = time.perf_counter()
    times = []
    for length in (small, large):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SynthPatientWarning)
            make(key, {param: length}).fit(train, schema=schema)
        times.append(time.perf_counter() - start)
    per_unit = max(times[1] - times[0], 0.0) / (large - small)
    setup = max(times[0] - small * per_unit, 0.0)
    seconds = setup + per_unit * full * VALIDATION_MARGIN
    how = f"probe: {small} and {large} {param} took {times[0]:.1f} s and {times[1]:.1f} s"
    return FitEstimate(seconds, how, probe_s=time.perf_counter() - began)


def observed_pace(fits: list[tuple[str, float]], n_rows: int) -> float:
    """How much slower than their references the candidates fitted so far were (>= 1 means
    slower), from those whose reference is long enough to tell; 1 when none is."""
    ratios = [
        seconds / reference_s(key, n_rows)
        for key, seconds in fits
        if probe_parameter(key) is None and reference_s(key, n_rows) >= PACE_MIN_REFERENCE_S
    ]
    return max(ratios) if ratios else 1.0


def machine_pace(cpu_seconds: float = PACE_PROBE_CPU_S) -> float:
    """How many times slower than on an idle machine a fit runs now: the wall time over the
    CPU time of a short single-threaded loop (1 when a core is free; about k when k busy
    processes share each core). At least 1."""
    wall, cpu = time.perf_counter(), time.process_time()
    total = 0
    while time.process_time() - cpu < cpu_seconds:
        total += sum(range(2000))  # pure Python: never more than one core
    return max(1.0, (time.perf_counter() - wall) / max(time.process_time() - cpu, 1e-9))
