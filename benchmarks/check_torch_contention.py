"""Torch training on a shared machine: time idle vs beside one competing CPU-bound process.

Each synthesizer is fitted with its default settings on the bundled diabetes table (442
patients) in a fresh process, once with the cores to itself and once while a competitor
(``python -c "while True: pass"``, started and killed by this script) runs on the same cores.
Both are pinned to ``--cores`` cores (2: the small machine of issue 23). The slowdown factor is
busy time / idle time. ``--torch-defaults`` also runs torch as it behaves without the
package's thread policy (libgomp's spinning waits, one thread per core), to show what the
policy changes: it is slow beside a competitor (minutes).

    python benchmarks/check_torch_contention.py [--synthesizers tabular_lm,ctgan,tvae]
        [--cores 2] [--torch-defaults] [--params '{"tabular_lm": {"epochs": 10}}']

Exits 1 when the tabular LM's slowdown under the policy is above 3x. The figures depend on the
machine and on what else runs on it: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MAX_FACTOR = 3.0
COMPETITOR = "while True: pass"


def child(key: str, defaults: bool, params: dict) -> None:
    """Fit ``key`` on diabetes and print the seconds and thread policy as JSON."""
    if defaults:  # torch loaded before the package: libgomp's default (spinning) wait
        import torch  # noqa: F401

    from synthpatient import datasets
    from synthpatient._threads import thread_policy
    from synthpatient.synthesizers import get_synthesizer_class

    real = datasets.load("diabetes")
    model = get_synthesizer_class(key)(**{"seed": 0, "progress": False, **params})
    started = time.perf_counter()
    model.fit(real)
    seconds = time.perf_counter() - started
    policy = thread_policy()
    print(json.dumps({"seconds": seconds, "policy": policy.describe() if policy else "none"}))


def fit_time(
    key: str, cores: list[int], busy: bool, defaults: bool, params: dict
) -> tuple[float, str]:
    """Seconds to fit ``key`` in a fresh process, beside a competitor when ``busy``."""
    settings = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in settings}
    env.pop("SYNTHPATIENT_THREADS", None)
    if defaults:  # torch's own behaviour: one thread per core
        env["SYNTHPATIENT_THREADS"] = str(len(cores))
    competitor = None
    if busy:
        competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR])
        time.sleep(1.0)  # let it take its core before training starts
    try:
        result = subprocess.run(
            [sys.executable, __file__, "--child", key, "--params", json.dumps(params)]
            + (["--defaults"] if defaults else []),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    if result.returncode != 0:
        raise SystemExit(f"fitting {key} failed:\n{result.stderr[-2000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return float(out["seconds"]), str(out["policy"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthesizers", default="tabular_lm,ctgan,tvae")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--torch-defaults", action="store_true")
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help='settings per synthesizer as JSON, e.g. \'{"tabular_lm": {"epochs": 10}}\' '
        "for a quicker run (the default: each synthesizer's defaults)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--defaults", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.defaults, args.params)
        return 0
    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    os.sched_setaffinity(0, cores)  # children (the fit and the competitor) inherit it
    print(f"Pinned to cores {cores}; load before: {os.getloadavg()[0]:.2f}")
    print(f"{'synthesizer':<12} {'setting':<15} {'idle s':>8} {'busy s':>8} {'factor':>7}  policy")
    failed = False
    settings = [False, True] if args.torch_defaults else [False]
    for key in args.synthesizers.split(","):
        for defaults in settings:
            params = args.params.get(key, {})
            idle, policy_idle = fit_time(key, cores, False, defaults, params)
            busy, policy_busy = fit_time(key, cores, True, defaults, params)
            factor = busy / idle
            label = "torch defaults" if defaults else "thread policy"
            print(f"{key:<12} {label:<15} {idle:8.1f} {busy:8.1f} {factor:6.1f}x  {policy_idle}")
            print(f"{'':<12} {'':<15} {'':>8} {'':>8} {'':>7}  busy: {policy_busy}")
            if key == "tabular_lm" and not defaults and factor > MAX_FACTOR:
                failed = True
    print(f"Load after: {os.getloadavg()[0]:.2f}")
    if failed:
        print(f"FAIL: the tabular LM's slowdown is above {MAX_FACTOR:.0f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
