"""The one place torch is imported: a thread policy for machines whose cores are shared.

By default torch starts one OpenMP thread per core, and its threads spin (busy-wait) between
the many small operations of a training step. When another process holds a core, the thread
that shares it is descheduled while its partners spin waiting for it: the tabular LM trained
about 30 times slower beside one competing CPU-bound process on two cores. Before torch is
first imported (its OpenMP runtime reads its settings then) this module chooses

* the number of threads: ``SYNTHPATIENT_THREADS`` when set, otherwise the cores this process
  may use (CPU affinity and a cgroup CPU quota) less the tasks of other processes running
  right now (``/proc/loadavg``), at least one;
* how idle threads wait: with one thread, ``OMP_WAIT_POLICY=PASSIVE`` (they sleep); with
  more, ``GOMP_SPINCOUNT=10000``, a brief spin and then sleep. Measured on 2 idle cores (the
  tabular LM on diabetes, defaults): torch's own spinning 28 s, the brief spin 32 s, one
  thread 36 s, two sleeping threads 57 s (each small operation then waits for a wake-up).
  A variable the user set is left as it is.

Beside a competitor started first, one thread is chosen (35 s; two briefly spinning threads
took 149 s). What was chosen and why is :func:`thread_policy`;
``benchmarks/check_torch_contention.py`` prints the times idle and beside a competitor. The
policy is applied once per process; a program that imported torch itself keeps its own
OpenMP settings, and only the thread count is set.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from synthpatient._optional import import_optional
from synthpatient.errors import InvalidParameterError

#: Environment variable that fixes the number of torch threads (a whole number >= 1).
THREADS_VARIABLE = "SYNTHPATIENT_THREADS"
#: libgomp's spin before sleeping, with several threads (its default is 300,000 rounds).
SPIN_COUNT = "10000"
#: The variables an OpenMP wait setting by the user is read from.
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


@dataclass(frozen=True)
class ThreadPolicy:
    """What :func:`import_torch` set: ``threads`` for torch, and why."""

    threads: int
    #: cores this process may use (affinity, cgroup quota)
    cores: int
    #: tasks of other processes running or waiting for a core when the policy was chosen
    busy: int
    #: "SYNTHPATIENT_THREADS" or "free cores"
    source: str
    #: how idle OpenMP threads wait, in words
    wait: str

    def describe(self) -> str:
        why = (
            f"{THREADS_VARIABLE}"
            if self.source == THREADS_VARIABLE
            else f"{self.cores} usable cores, {self.busy} other tasks running"
        )
        return f"torch on {self.threads} thread(s) ({why}); idle threads: {self.wait}"


_policy: ThreadPolicy | None = None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, lowered by a cgroup CPU quota."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_quota(
    membership: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """The CPU quota of this process's cgroup in whole cores (rounded up), None when unlimited
    or unreadable (not Linux, no cgroup file): a container limited to 2 of 16 cores sees 16
    in its affinity."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)  # "hierarchy:controllers:path"
        if len(parts) != 3:
            continue
        controllers, folder = parts[1], parts[2].lstrip("/")
        try:
            if controllers == "":  # cgroup v2: "max 100000" or "200000 100000"
                quota, period = (root / folder / "cpu.max").read_text().split()
            elif "cpu" in controllers.split(","):  # cgroup v1: a quota of -1 is no limit
                base = root / controllers if (root / controllers).exists() else root / "cpu"
                quota = (base / folder / "cpu.cfs_quota_us").read_text().strip()
                period = (base / folder / "cpu.cfs_period_us").read_text().strip()
            else:
                continue
            if quota not in ("max", "-1") and int(period) > 0:
                return max(1, math.ceil(int(quota) / int(period)))
        except (OSError, ValueError):
            continue
    return None


def busy_cores(loadavg: Path = Path("/proc/loadavg")) -> int:
    """Tasks of other processes running or waiting for a core right now: the runnable count
    of ``/proc/loadavg`` less the one reading it. 0 where it cannot be read.

    The instantaneous count, not the 1-minute load: a competitor that started seconds ago is
    seen, and this process's own earlier work (which the load average remembers) is not.
    """
    try:
        running = loadavg.read_text().split()[3].split("/")[0]
        return max(0, int(running) - 1)
    except (OSError, IndexError, ValueError):
        return 0


def requested_threads(environ: dict[str, str] | os._Environ[str] = os.environ) -> int | None:
    """``SYNTHPATIENT_THREADS`` as a number of threads, None when unset or empty."""
    text = environ.get(THREADS_VARIABLE, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InvalidParameterError(
            f"The environment variable {THREADS_VARIABLE} must be a whole number of threads "
            f">= 1 (or unset to choose from the free cores). Got {text[:20]!r}."
        )
    return int(text)


def _wait_settings(threads: int) -> dict[str, str]:
    """The OpenMP variables for ``threads``: sleep at once with one, spin briefly with more."""
    return {"OMP_WAIT_POLICY": "PASSIVE"} if threads == 1 else {"GOMP_SPINCOUNT": SPIN_COUNT}


def choose_policy(
    environ: dict[str, str] | os._Environ[str] = os.environ,
    *,
    cores: int | None = None,
    busy: int | None = None,
) -> ThreadPolicy:
    """The policy for this machine now (``cores`` and ``busy`` measured unless given)."""
    cores = usable_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    asked = requested_threads(environ)
    threads = asked if asked is not None else max(1, cores - busy)
    source = THREADS_VARIABLE if asked is not None else "free cores"
    if any(name in environ for name in WAIT_VARIABLES):
        set_by_user = ", ".join(f"{n}={environ[n]}" for n in WAIT_VARIABLES if n in environ)
        wait = f"as set in the environment ({set_by_user[:60]})"
    elif threads == 1:
        wait = "sleep (OMP_WAIT_POLICY=PASSIVE)"
    else:
        wait = f"spin briefly, then sleep (GOMP_SPINCOUNT={SPIN_COUNT})"
    return ThreadPolicy(threads, cores, busy, source, wait)


def import_torch(
    *, extra: str = "deep", purpose: str = "the deep-learning synthesizers"
) -> ModuleType:
    """torch with the thread policy applied (once per process), or a one-line error naming
    the extra to install."""
    global _policy
    if _policy is not None:
        return sys.modules["torch"]
    policy = choose_policy()  # a bad SYNTHPATIENT_THREADS fails before anything is imported
    first_import = "torch" not in sys.modules
    if first_import and not any(name in os.environ for name in WAIT_VARIABLES):
        # read by the OpenMP runtime when torch loads it
        os.environ.update(_wait_settings(policy.threads))
    torch = import_optional("torch", extra=extra, purpose=purpose)
    torch.set_num_threads(policy.threads)
    if not first_import:
        policy = replace(policy, wait="torch's own (torch was imported before synthpatient)")
    _policy = policy
    return torch


def thread_policy() -> ThreadPolicy | None:
    """The policy :func:`import_torch` applied, None before torch was imported through it."""
    return _policy
