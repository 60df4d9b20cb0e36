"""Why CTGAN's default ``max_modes`` depends on the number of rows: quality with one mixture mode
per numeric column against up to ten, for CTGAN and TVAE, on the bundled tables.

Prints the SDMetrics-style quality (mean ± sd over seeds) of a synthetic table as large as the
real one, and the fit time. Usage::

    python benchmarks/bench_deep_modes.py [--seeds 3] [--datasets diabetes,breast_cancer]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from synthpatient import datasets
from synthpatient.evaluation.fidelity import quality_report
from synthpatient.synthesizers import get_synthesizer_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", default="diabetes,breast_cancer")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("| dataset | rows | synthesizer | max_modes | quality | fit s |")
    print("|---|---|---|---|---|---|")
    for key in args.datasets.split(","):
        real = datasets.load(key)
        for synthesizer in ("ctgan", "tvae"):
            for modes in (1, 10):
                scores, times = [], []
                for seed in range(args.seeds):
                    start = time.perf_counter()
                    model = get_synthesizer_class(synthesizer)(
                        max_modes=modes, seed=seed, progress=False
                    ).fit(real)
                    times.append(time.perf_counter() - start)
                    synthetic = model.sample(len(real), seed=100 + seed)
                    scores.append(quality_report(real, synthetic, model.schema_.sdtypes()).score)
                print(
                    f"| {key} | {len(real)} | {synthesizer} | {modes} | "
                    f"{statistics.mean(scores):.3f} ± {statistics.pstdev(scores):.3f} | "
                    f"{statistics.mean(times):.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
