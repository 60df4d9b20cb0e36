"""A table described by its columns alone: the bundled 15-column admissions schema, offline.

Generates the rows for each seed and prints, beside the targets of issue 21:

* seconds for 10,000 rows (first run includes importing Faker; target <= 10 s);
* relation violations (discharge after admission row by row; the "depends on" relations as a
  measurable dependence; target 0);
* unique names (target >= 95 %), duplicate rows, category spread (normalised entropy);
* medication and test result consistent with the row's condition (share of rows whose drug
  is in the knowledge base's list for the condition, whose test is one of the condition's
  measurements with its unit and a value inside its bounds; target 100 %);
* the test values against their sourced distribution (Kolmogorov-Smirnov distance per test);
* seconds per 1,000 valid unique rows.

Exits 1 when a target is missed. Timings depend on the machine's load: rerun on a quiet one.

With ``--llm-base-url`` and ``--llm-model`` the structured columns are written by that model
instead (each prompt level in ``--levels``); the same checks are printed with the model's
valid-row share and seconds per 1,000 valid unique rows, and the script exits 1 only when
every LLM run failed (a weak model missing the targets is a finding, not a failure).

    python benchmarks/check_schema_only.py [--rows 10000] [--seeds 3] [--schema admissions]
    python benchmarks/check_schema_only.py --rows 200 --seeds 1 \
        --llm-base-url http://127.0.0.1:8000/v1 --llm-model gemma --levels basic,advanced
"""

from __future__ import annotations

import argparse
import sys
import time

from synthpatient.schema_only import (
    TableSchema,
    evaluate_schema_only,
    generate_from_schema,
    load_table_schema,
)

TARGETS = {
    "seconds": ("<=", 10.0),
    "relation_violations": ("==", 0.0),
    "unique_names": (">=", 0.95),
    "medication_consistency": ("==", 1.0),
    "test_consistency": ("==", 1.0),
}


def _meets(value: float, op: str, target: float) -> bool:
    return {"<=": value <= target, ">=": value >= target, "==": value == target}[op]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--schema", default="admissions", help="a YAML/JSON file or bundled name")
    parser.add_argument("--llm-base-url", default=None)
    parser.add_argument("--llm-model", default=None)
    parser.add_argument("--levels", default="improved", help="prompt levels, with an LLM")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    schema = load_table_schema(args.schema)
    if args.llm_base_url:
        return _with_llm(schema, args)
    failed = False
    for seed in range(args.seeds):
        start = time.perf_counter()
        result = generate_from_schema(schema, args.rows, seed=seed)
        seconds = time.perf_counter() - start
        report = evaluate_schema_only(result.data, schema, seconds=seconds)
        scores = dict(zip(report.summary["metric"], report.summary["score"], strict=True))
        scores["seconds"] = seconds
        print(f"seed {seed}: {args.rows:,} rows of '{schema.name}'")
        for key in ("seconds", *report.summary["metric"]):
            value = scores[key]
            target = TARGETS.get(key)
            mark = ""
            if target:
                ok = _meets(value, *target)
                failed |= not ok
                mark = f"  target {target[0]} {target[1]:g}: {'met' if ok else 'MISSED'}"
            print(f"  {key:<36} {value:10.4f}{mark}")
        ks = report.sections["test_distribution"].get("ks_by_test", {})
        for test, distance in ks.items():
            print(f"    KS distance to the sourced distribution, {test:<32} {distance:.3f}")
        for relation in report.sections["relation_violations"]["relations"]:
            print(f"    {relation}")
    print("\nWhat was done for each column and relation (last seed):")
    print(result.describe())
    return 1 if failed else 0


def _with_llm(schema: TableSchema, args: argparse.Namespace) -> int:
    from synthpatient.errors import SynthPatientError

    runs = failed = 0
    for level in args.levels.split(","):
        for seed in range(args.seeds):
            runs += 1
            llm = {
                "base_url": args.llm_base_url,
                "model": args.llm_model or "",
                "prompt_level": level,
                "timeout_s": args.timeout,
            }
            print(f"\n{args.llm_model} at {args.llm_base_url}, prompt {level}, seed {seed}:")
            try:
                result = generate_from_schema(schema, args.rows, seed=seed, llm=llm)
            except SynthPatientError as exc:
                failed += 1
                print(f"  failed: {exc}")
                continue
            report = evaluate_schema_only(result.data, schema, seconds=result.seconds)
            for row in report.summary.itertuples():
                print(f"  {row.metric:<36} {row.score:10.4f}  {row.verdict}")
            for notice in result.notices:
                print(f"  {notice}")
    print(f"\n{runs - failed} of {runs} LLM runs delivered their rows.")
    return 1 if failed == runs else 0


if __name__ == "__main__":
    sys.exit(main())
