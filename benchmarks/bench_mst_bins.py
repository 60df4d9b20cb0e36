"""Why MST bins numbers into 16 by default: its quality at a fixed epsilon for several bin counts.

Fewer bins round values more; more bins spread the same noisy budget over more cells. Prints
the SDMetrics-style quality (mean ± sd over seeds; each seed is a new noise draw) of a synthetic
table as large as the real one. Usage::

    python benchmarks/bench_mst_bins.py [--epsilon 1] [--seeds 4] [--bins 8,16,32]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

from synthpatient import datasets
from synthpatient.evaluation.fidelity import quality_report
from synthpatient.synthesizers import get_synthesizer_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--bins", default="8,16,32")
    parser.add_argument("--dataset", default="diabetes")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    real = datasets.load(args.dataset)
    print(f"MST on {args.dataset} ({len(real)} rows) at epsilon={args.epsilon:g}")
    print("| n_bins | quality | min | max |")
    print("|---|---|---|---|")
    for n_bins in (int(b) for b in args.bins.split(",")):
        scores = []
        for seed in range(args.seeds):
            model = get_synthesizer_class("mst")(
                epsilon=args.epsilon, n_bins=n_bins, seed=seed
            ).fit(real)
            synthetic = model.sample(len(real), seed=100 + seed)
            scores.append(quality_report(real, synthetic, model.schema_.sdtypes()).score)
        print(
            f"| {n_bins} | {statistics.mean(scores):.3f} ± {statistics.pstdev(scores):.3f} | "
            f"{min(scores):.3f} | {max(scores):.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
