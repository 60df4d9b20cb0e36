"""Save, load and sample in new processes: the same seed must give the same rows.

Fits the copula on the bundled diabetes data, saves it, samples with a seed in this process,
then loads and samples in two fresh Python processes, and prints whether all three agree.
Exit code 1 if they do not.

    python benchmarks/check_reproducibility.py
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from synthpatient import GaussianCopulaSynthesizer, datasets

CHILD = """
import sys
from synthpatient import Synthesizer
Synthesizer.load(sys.argv[1]).sample(1000, seed=42).to_csv(sys.argv[2], index=False)
"""


def digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = GaussianCopulaSynthesizer(seed=0).fit(datasets.load("diabetes"))
        model.save(folder / "model")
        here = model.sample(1000, seed=42)
        here.to_csv(folder / "here.csv", index=False)
        here = pd.read_csv(folder / "here.csv")  # same text round trip as the children
        hashes = {"this process (before save)": digest(here)}
        for i in (1, 2):
            out = folder / f"child{i}.csv"
            subprocess.run(
                [sys.executable, "-c", CHILD, str(folder / "model"), str(out)], check=True
            )
            hashes[f"new process {i} (after load)"] = digest(pd.read_csv(out))
    for name, value in hashes.items():
        print(f"{name:<30} sha256 of 1,000 rows (seed 42): {value}")
    same = len(set(hashes.values())) == 1
    print(f"identical rows across save/load and processes: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
