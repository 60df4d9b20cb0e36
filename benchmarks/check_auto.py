"""`synthesizer="auto"` on the bundled diabetes table: what it chose, why, and how long it took.

Issue 18 asks that auto pick a generator and report why in at most 60 s on the bundled data.
For each seed (a new held-out split inside auto), prints the selection report (every
candidate's held-out quality, DCR share beside its ideal, membership-inference AUC and fit
time, or why it was skipped, with its estimated fit time), the wall time of the whole fit and
the machine's load average around it (the 60 s are meant for an idle 2-core machine), and
checks that the saved model loads and samples the same rows. The last lines say, per
candidate, over the seeds, how far its DCR share sat above its ideal and its AUC: the figures
behind the privacy guard's defaults. Usage::

    python benchmarks/check_auto.py [--budget 60] [--seeds 3] [--dataset diabetes]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from synthpatient import datasets
from synthpatient.synthesizers import Synthesizer, make_synthesizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dataset", default="diabetes")
    args = parser.parse_args()
    real = datasets.load(args.dataset)
    guard: dict[str, list[tuple[float, float]]] = {}
    times = []
    for seed in range(args.seeds):
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make_synthesizer("auto", time_budget_s=args.budget, seed=seed).fit(real)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        print(f"\n## seed {seed}\n{model.report()}")
        print(
            f"fit wall time (schema inference included): {elapsed:.1f} s; 1-minute load "
            f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on "
            f"{os.cpu_count()} cores"
        )
        with tempfile.TemporaryDirectory() as folder:
            path = model.save(Path(folder) / "auto")
            same = Synthesizer.load(path).sample(200, seed=1).equals(model.sample(200, seed=1))
        print(f"saved and loaded: same rows for the same seed: {same}")
        for c in model.selection_.candidates:
            if c.status == "scored":
                guard.setdefault(c.key, []).append((c.dcr_share - c.dcr_ideal, c.mia_auc))
    print("\n| candidate | DCR share above ideal, per seed | MIA AUC, per seed |")
    print("|---|---|---|")
    for key, rows in guard.items():
        excess = ", ".join(f"{e:+.3f}" for e, _ in rows)
        auc = ", ".join(f"{a:.3f}" for _, a in rows)
        print(f"| {key} | {excess} | {auc} |")
    worst = max(times)
    verdict = "met" if worst <= 60 else "NOT met"
    print(
        f"target (picks and reports why in <= 60 s): {verdict} on this machine's load "
        f"(slowest of {len(times)} seeds {worst:.1f} s, mean {statistics.mean(times):.1f} s)"
    )


if __name__ == "__main__":
    main()
