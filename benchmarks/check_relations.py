"""Learned constraints kept by every non-private synthesizer (issue 18).

    python benchmarks/check_relations.py [--seeds 3] [--keys copula cart ...] [--baseline]

On the bundled diabetes table (the benchmark's split: 75% training rows, 25% holdout, per
seed), each registered synthesizer that is neither differentially private, nor longitudinal,
nor network-bound is fitted on the training rows and samples as many rows (and 1,000 rows, as
the web app does). Printed per synthesizer, mean over seeds: the relations discovered, rule
excess (mean over the rule pack's rules and the discovered relations of the synthetic
violation rate above the real one, the benchmark's figure) and its maximum, Friedewald
violations (rows breaking the pack's `friedewald-ldl` rule, summed over seeds), rows the
relations made the model draw again, and fit + sample seconds. ``--baseline`` adds each
synthesizer fitted with the relations deleted from its schema (what the issue measured).

Must show (issue 18): rule excess <= 0.01 for every such synthesizer and 0 Friedewald
violations. Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

from synthpatient import Schema, datasets
from synthpatient.benchmark._runner import HOLDOUT_SHARE
from synthpatient.errors import MissingExtraError
from synthpatient.evaluation.evaluate import evaluate
from synthpatient.rules import load_rule_pack
from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class


def eligible() -> list[str]:
    keys = []
    for key in available_synthesizers():
        caps = get_synthesizer_class(key).capabilities
        if not (caps.differentially_private or caps.longitudinal or caps.needs_network):
            keys.append(key)
    return keys


def run(key: str, seed: int, baseline: bool) -> list[dict[str, object]]:
    real = datasets.load("diabetes")
    train = real.sample(frac=1 - HOLDOUT_SHARE, random_state=seed).sort_index()
    schema = Schema.infer(real)
    if baseline:
        schema = schema.with_relations(())
    rules = load_rule_pack("diabetes")
    start = time.perf_counter()
    model = get_synthesizer_class(key)(seed=seed).fit(train, schema=schema)
    rows = []
    for n in (len(train), 1000):
        synthetic = model.sample(n, seed=seed + 1000)
        seconds = time.perf_counter() - start
        report = evaluate(train, synthetic, metrics=["rule_violations"], rules=rules, seed=seed)
        details = report.sections["rule_violations"]
        table = report.sections["rules"]
        friedewald = table.loc[table["rule"] == "friedewald-ldl", "synthetic_violations"]
        relation_report = model.last_relation_report_
        rows.append(
            {
                "synthesizer": key + (" (no relations)" if baseline else ""),
                "n": n,
                "relations": len(model.schema_.relations or ()),
                "rule_excess": details["excess_mean"],
                "rule_excess_max": details["excess_max"],
                "friedewald_violations": int(friedewald.sum()),
                "redrawn": relation_report.resampled if relation_report else 0,
                "seconds": seconds,
            }
        )
        start = time.perf_counter()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--keys", nargs="*", default=None)
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()
    keys = args.keys or eligible()
    rows: list[dict[str, object]] = []
    for key in keys:
        for baseline in (False, True) if args.baseline else (False,):
            try:
                for seed in range(args.seeds):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        rows += run(key, seed, baseline)
            except MissingExtraError as exc:
                print(f"skipped {key}: {str(exc).splitlines()[0]}")
                break
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["synthesizer", "n"], sort=False).agg(
        relations=("relations", "mean"),
        rule_excess=("rule_excess", "mean"),
        rule_excess_max=("rule_excess_max", "max"),
        friedewald_violations=("friedewald_violations", "sum"),
        redrawn=("redrawn", "mean"),
        seconds=("seconds", "mean"),
    )
    print(f"diabetes, {args.seeds} seeds; timings inflated by machine load")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary.round(4).to_string())
    ours = summary.loc[[k for k in summary.index if "(no relations)" not in k[0]]]
    ok = bool((ours["rule_excess"] <= 0.01).all() and (ours["friedewald_violations"] == 0).all())
    print(
        "Must show (rule excess <= 0.01, 0 Friedewald violations): " + ("met" if ok else "NOT met")
    )


if __name__ == "__main__":
    main()
