"""Time to sample 100,000 rows of the bundled table: our copula against SDV's GaussianCopula.

Issue 18 asks for at most 1/30 of SDV GaussianCopula's time in the same run. Each figure is
the best of ``--repeats`` runs (timings on a shared machine are inflated by its load; the
script prints the load average and the commit it ran). SDV runs in the peers' worker
process (`make peers`: `.venv-peers`, or SYNTHPATIENT_PEERS_PYTHON), timed there around its
own ``sample`` call, so the script runs from the project's own environment; without the peers
it says so and prints only our time. Our time is split into the backend's draw and what the
base class adds (the schema's dtypes, rounding and bounds, and the relations between columns).
It also checks that the fast sampling path gives the same rows as the plain per-column code
it replaced, for a fixed seed (the frames are compared cell for cell). Usage::

    python benchmarks/bench_copula_sampling.py [--rows 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from synthpatient import datasets
from synthpatient.synthesizers._marginals import EPS, NumericMarginal
from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer


def best_of(repeats: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_sample(model: GaussianCopulaSynthesizer, n_rows: int, seed: int) -> pd.DataFrame:
    """The per-column pandas sampling code used before issue 18 (the reference)."""
    z, missing = model._draw(n_rows, np.random.default_rng(seed), {})
    u = np.clip(ndtr(z), EPS, 1 - EPS)
    out = {}
    for j, (column, marginal) in enumerate(zip(model.columns_, model.marginals_, strict=True)):
        if isinstance(marginal, NumericMarginal):
            k = len(marginal.levels)
            position = np.clip(u[:, j], 0.0, 1.0) * (k - 1)
            i = np.minimum(position.astype(np.int64), k - 2)
            q = marginal.quantiles
            values = pd.Series(q[i] + (position - i) * (q[i + 1] - q[i]))
        else:
            values = pd.Series(marginal.from_uniform(u[:, j]))
        values = values.astype(object) if missing[:, j].any() else values
        values[missing[:, j]] = None
        out[column] = values
    return pd.DataFrame(out)


def sdv_seconds(real: pd.DataFrame, model: GaussianCopulaSynthesizer, n: int, repeats: int):  # type: ignore[no-untyped-def]
    """SDV GaussianCopula's best time for ``n`` rows, measured in its worker process around
    its own ``sample`` call (SDV needs pandas<3: it runs in the peers' environment)."""
    from synthpatient.benchmark._peers import PeerProcess, peer_python

    learned = real[[s.name for s in model.schema_.learned]]
    peer = PeerProcess("sdv_gaussiancopula", peer_python())
    try:
        peer.fit(learned, model.schema_, 0, {})
        times = []
        for _ in range(repeats):
            peer.sample(n, 1)
            times.append(peer.last_seconds)
    finally:
        peer.close()
    return min(times)


def rows_hash(frame: pd.DataFrame) -> str:
    """A digest of the rows (values, dtypes and column names): equal digests, equal output."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(repr(list(zip(frame.columns, map(str, frame.dtypes), strict=True))).encode())
    return digest.hexdigest()[:16]


def where_run() -> str:
    """The commit measured (and whether the working tree differs from it), and the load."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    state = " + uncommitted changes under src/" if changed else ""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"commit {commit}{state}; load average {load} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    real = datasets.load("diabetes")
    model = GaussianCopulaSynthesizer(seed=0).fit(real)
    ours = best_of(args.repeats, lambda: model.sample(args.rows, seed=1))
    inner = best_of(args.repeats, lambda: model._sample(args.rows, np.random.default_rng(1), []))
    plain = best_of(args.repeats, lambda: plain_sample(model, args.rows, 1))
    same = model._sample(args.rows, np.random.default_rng(1), []).equals(
        plain_sample(model, args.rows, 1)
    )
    print(f"copula, {args.rows:,} rows of diabetes (best of {args.repeats}); {where_run()}:")
    print(
        f"  sample() {ours:.3f} s: backend draw {inner:.3f} s (plain per-column code "
        f"{plain:.3f} s), schema and relations {max(ours - inner, 0.0):.3f} s"
    )
    print(f"  fast path gives the same rows as the plain code for a fixed seed: {same}")
    print(
        f"  digest of sample({args.rows:,}, seed=1): {rows_hash(model.sample(args.rows, seed=1))}"
    )
    from synthpatient.benchmark._peers import peer_available, peer_note

    if not peer_available("sdv_gaussiancopula"):
        print(
            f"SDV GaussianCopula not timed: {peer_note('sdv_gaussiancopula')}. "
            "Target: ours <= 1/30 of SDV's time in the same run."
        )
        return
    theirs = sdv_seconds(real, model, args.rows, args.repeats)
    ours = min(ours, best_of(args.repeats, lambda: model.sample(args.rows, seed=1)))
    ratio = theirs / ours
    verdict = "PASS" if ratio >= 30 else "FAIL"
    print(
        f"SDV GaussianCopula sample() in its own process: {theirs:.3f} s; ours "
        f"{ours:.3f} s, {ratio:.1f}x faster. Target >= 30x: {verdict} (timings depend on load)"
    )


if __name__ == "__main__":
    main()
