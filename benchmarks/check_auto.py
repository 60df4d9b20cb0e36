"""`synthesizer="auto"` on the bundled diabetes table: what it chose, why, and how long it took.

Issue 18 asks that auto pick a generator and report why in at most 60 s on the bundled data.
Prints the selection report (every candidate's held-out quality, DCR share beside its ideal,
membership-inference AUC and fit time, or why it was skipped), the total wall time of fit,
and checks that the saved model loads and samples the same rows. Usage::

    python benchmarks/check_auto.py [--budget 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from synthpatient import datasets
from synthpatient.synthesizers import Synthesizer, make_synthesizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="diabetes")
    args = parser.parse_args()
    real = datasets.load(args.dataset)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_synthesizer("auto", time_budget_s=args.budget, seed=args.seed).fit(real)
    elapsed = time.perf_counter() - start
    print(model.report())
    print(f"\nfit wall time (schema inference included): {elapsed:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = model.save(Path(folder) / "auto")
        same = Synthesizer.load(path).sample(200, seed=1).equals(model.sample(200, seed=1))
    print(f"saved and loaded: same rows for the same seed: {same}")
    verdict = "met" if elapsed <= 60 else "NOT met"
    print(f"target (picks and reports why in <= 60 s): {verdict} ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
