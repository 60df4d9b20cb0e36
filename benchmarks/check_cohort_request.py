"""The issue-6 must-show, end to end through the command line.

Run: python benchmarks/check_cohort_request.py [--out FOLDER]
1. `synthpatient ask "generate 2000 Type 2 diabetes patients EHR data with 20 important
   diabetes observations based on the US population"` in a fresh folder;
2. every FHIR resource of every patient Bundle checked against the official FHIR R4 JSON
   schema shipped with the tests (tests/data/fhir.schema.json.gz), whole Bundles for a sample,
   and every reference resolved inside its Bundle;
3. the cohort's HbA1c bands, BMI mean, hypertension prevalence, share with eGFR < 60 and the
   HbA1c-fasting glucose correlation against the knowledge base's targets and tolerances, and
   the clinical rules;
4. `synthpatient ask "which sources did you use?"`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd

REQUEST = (
    "generate 2000 Type 2 diabetes patients EHR data with 20 important diabetes "
    "observations based on the US population"
)
SCHEMA = Path(__file__).resolve().parents[1] / "tests" / "data" / "fhir.schema.json.gz"


def ask(text: str, cwd: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "synthpatient", "ask", text, *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        sys.exit(f"ask failed ({result.returncode}): {result.stdout} {result.stderr}")
    return result.stdout


def references(node) -> list[str]:  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        return ([node["reference"]] if "reference" in node else []) + [
            r for v in node.values() for r in references(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--whole-bundles",
        type=int,
        default=20,
        help="bundles also validated whole (slow: ~0.3 s each)",
    )
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="synthpatient-ask-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(ask(REQUEST, work, "--seed", str(args.seed), "--yes"))
    print(f"ask took {time.perf_counter() - start:.1f} s")
    folder = work / "cohort"
    wide = pd.read_csv(folder / "patients.csv")
    long = pd.read_csv(folder / "observations.csv")
    per_patient = long.groupby("patient_id")["observation"].nunique()
    print(
        f"patients: {len(wide):,}; observations per patient: {per_patient.min()}-"
        f"{per_patient.max()}; LOINC codes: {long['loinc'].nunique()}"
    )

    schema = json.loads(gzip.decompress(SCHEMA.read_bytes()))
    validators: dict[str, jsonschema.Draft6Validator] = {}
    n_resources = n_errors = n_unresolved = 0
    bundles = sorted((folder / "fhir").glob("*.json"))
    for i, path in enumerate(bundles):
        bundle = json.loads(path.read_text())
        urls = {e["fullUrl"] for e in bundle["entry"]}
        for entry in bundle["entry"]:
            resource = entry["resource"]
            kind = resource["resourceType"]
            if kind not in validators:
                validators[kind] = jsonschema.Draft6Validator(
                    {"$ref": f"#/definitions/{kind}", "definitions": schema["definitions"]}
                )
            n_errors += sum(1 for _ in validators[kind].iter_errors(resource))
            n_unresolved += sum(ref not in urls for ref in references(resource))
            n_resources += 1
        if i < args.whole_bundles:
            if "Bundle" not in validators:
                validators["Bundle"] = jsonschema.Draft6Validator(
                    {"$ref": "#/definitions/Bundle", "definitions": schema["definitions"]}
                )
            n_errors += sum(1 for _ in validators["Bundle"].iter_errors(bundle))
    print(
        f"FHIR R4 schema ({schema['id']}): {len(bundles):,} transaction bundles, "
        f"{n_resources:,} resources, {n_errors} schema errors, {n_unresolved} unresolved "
        f"references ({min(args.whole_bundles, len(bundles))} bundles also validated whole)"
    )

    realism = json.loads((folder / "realism.json").read_text())
    wanted = ("hba1c", "bmi mean", "hypertension prevalence", "egfr < 60", "r(fasting_glucose")
    for t in realism["targets"]:
        if t["what"].startswith(wanted):
            tol = "at least" if t["kind"] == "at least" else f"+/- {t['tolerance']:g}"
            print(
                f"  {t['what']:<28} measured {t['measured']:.3f}  target {t['target']:.3f} "
                f"({tol})  {'ok' if t['ok'] else 'OFF'}  [{', '.join(t['sources'])}]"
            )
    r = np.corrcoef(wide["hba1c"], wide["fasting_glucose"])[0, 1]
    broken = [x for x in realism["rules"] if x["violations"]]
    print(
        f"HbA1c-fasting glucose r = {r:.3f}; all targets met: "
        f"{all(t['ok'] for t in realism['targets'])}; clinical rules: {len(realism['rules'])} "
        f"checked, {len(broken)} broken"
    )
    provenance = json.loads((folder / "provenance.json").read_text())
    print(
        f"provenance: seed {provenance['seed']}, knowledge base "
        f"{provenance['knowledge_base']['version']}, {len(provenance['sources'])} sources"
    )
    print(ask("which sources did you use?", work))


if __name__ == "__main__":
    main()
