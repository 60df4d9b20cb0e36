"""How fast is a knowledge-driven cohort? 1,000,000 patients x 20 observations on one core.

Run: python benchmarks/bench_cohort.py [--patients 1000000] [--repeats 3]
Pins BLAS/OpenMP to one thread before numpy loads, draws the wide table (demographics,
latent copula, clinical layer, comorbidities, drugs) and prints the wall time of each repeat,
plus the realism checks of the largest cohort.
"""

from __future__ import annotations

import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402

from synthpatient.knowledge import load_knowledge_base  # noqa: E402
from synthpatient.knowledge.realism import check_cohort  # noqa: E402
from synthpatient.knowledge.sampler import CohortSampler, CohortSpec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--condition", default="type2_diabetes")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core, not just one thread
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sampler = CohortSampler(load_knowledge_base())
    times = []
    cohort = None
    for seed in range(args.repeats):
        start = time.perf_counter()
        cohort = sampler.sample(
            CohortSpec(condition=args.condition, n=args.patients, n_observations=20, seed=seed)
        )
        times.append(time.perf_counter() - start)
    assert cohort is not None
    n_obs = len(cohort.observations)
    print(
        f"{args.patients:,} patients x {n_obs} observations ({args.condition}), one core: "
        + ", ".join(f"{t:.2f} s" for t in times)
        + f"; best {min(times):.2f} s "
        f"(target <= 20 s); wide table {cohort.wide.shape[0]:,} x {cohort.wide.shape[1]}, "
        f"{cohort.wide.memory_usage(deep=True).sum() / 2**20:.0f} MiB"
    )
    report = check_cohort(cohort)
    failed = [t.what for t in report.targets if not t.ok]
    broken = [r["rule"] for r in report.rules if r["violations"]]
    print(
        f"realism at this size: {len(report.targets) - len(failed)}/{len(report.targets)} "
        f"targets met, {len(report.rules) - len(broken)}/{len(report.rules)} rules hold"
        + (f"; off: {failed}" if failed else "")
        + (f"; broken: {broken}" if broken else "")
    )


if __name__ == "__main__":
    main()
