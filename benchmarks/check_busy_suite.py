"""The README's test command on a busy machine: ``make test`` beside one competing process.

Starts ``python -c "while True: pass"`` (a CPU-bound competitor), runs the test command while
it runs throughout, kills it, and prints the wall time and whether the command passed. Both
are pinned to ``--cores`` cores (2: the small machine of issue 23). ``--pytest-only`` runs the
tests without the style and type checks; arguments after ``--`` go to pytest (a subset, for a
quick look), e.g.

    python benchmarks/check_busy_suite.py [--cores 2] [--idle] [--pytest-only] [-- tests/unit]

``--idle`` runs without the competitor, for the comparison. Exits 1 when the command fails or
takes over ``--limit`` seconds (600: issue 23's ten minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPETITOR = "while True: pass"


def command(pytest_only: bool, pytest_args: list[str]) -> list[str]:
    if pytest_only or pytest_args:
        return [str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q", *pytest_args]
    return ["make", "test"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--idle", action="store_true", help="no competing process")
    parser.add_argument("--pytest-only", action="store_true")
    parser.add_argument("--limit", type=float, default=600.0)
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cores)  # the command and the competitor inherit it
        print(f"Pinned to cores {cores}")
    run = command(args.pytest_only, args.pytest_args)
    print(f"Running: {' '.join(run)} ({'idle' if args.idle else 'beside one competing process'})")
    print(f"Load before: {os.getloadavg()[0]:.2f}", flush=True)
    competitor = None if args.idle else subprocess.Popen([sys.executable, "-c", COMPETITOR])
    started = time.monotonic()
    try:
        result = subprocess.run(run, cwd=ROOT, check=False)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    wall = time.monotonic() - started
    passed = result.returncode == 0
    print(f"Wall time: {wall:.0f} s ({wall / 60:.1f} min); exit status {result.returncode}")
    print(
        f"{'PASSED' if passed else 'FAILED'}; {'within' if wall <= args.limit else 'OVER'} "
        f"the {args.limit:.0f} s limit"
    )
    return 0 if passed and wall <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
