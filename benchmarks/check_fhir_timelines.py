"""FHIR R4 of knowledge-driven histories (issue 15, item 4 and its FHIR must-show).

Run: python benchmarks/check_fhir_timelines.py [--patients 500] [--years 5] [--bundles 500]

1. A type 2 diabetes cohort with a history (default 500 patients x 5 years) through the public
   API: ``CohortSampler.sample`` then ``knowledge.timeline`` for the follow-up;
2. its FHIR transaction bundles written by the ``fhir_bundles`` exporter (every resource
   validated by ``fhir.resources`` on the way) and its bulk-data NDJSON by ``fhir_ndjson``;
3. every resource of N random bundles checked against the official FHIR R4 JSON schema shipped
   with the tests (``tests/data/fhir.schema.json.gz``, the same Draft 6 validator the tests
   use), a few bundles also whole; every reference resolved inside its bundle; ids unique in
   each bundle; resources per bundle equal to the history's rows for that patient;
4. every NDJSON reference resolved across the files.

Prints resources checked by type, schema errors, unresolved references and duplicate ids (each
must be 0); exits 1 otherwise. The issue's must-show (500 random bundles of 10,000 patients x 5
years): ``--patients 10000 --bundles 500`` (the bundles of 500 random patients are written: a
bundle depends on its patient's rows only). Measured: 100,538 resources, 0 schema errors, 0
unresolved references; about 4 minutes, most of it in the two validators.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from synthpatient.exporters import get_exporter
from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base

SCHEMA = Path(__file__).resolve().parents[1] / "tests" / "data" / "fhir.schema.json.gz"
HISTORY = {
    "Encounter": "encounters",
    "Observation": "observations",
    "MedicationRequest": "medications",
    "Condition": "conditions",
}


def build_cohort(patients: int, years: float, seed: int) -> Any:
    """A T2D cohort with ``years`` of history per patient, through the public API."""
    from synthpatient.knowledge.timeline import FollowUp, simulate_timeline

    kb = load_knowledge_base()
    cohort = CohortSampler(kb).sample(CohortSpec(condition="type2_diabetes", n=patients, seed=seed))
    follow_up = FollowUp(years=years, what=f"{years:g} years of follow-up")
    return simulate_timeline(cohort, follow_up, seed=seed)


def random_patients(cohort: Any, n: int, seed: int) -> Any:
    """The cohort restricted to ``n`` random patients, every table of their history with them:
    a patient's bundle depends on that patient's rows only, so checking the bundles of 500
    random patients of a 10,000-patient cohort is checking 500 random bundles of it, without
    writing (and validating with fhir.resources) the other 9,500 first."""
    import dataclasses

    rng = np.random.default_rng(seed)
    ids = cohort.wide["patient_id"].to_numpy()
    keep = set(rng.choice(ids, size=min(n, len(ids)), replace=False).tolist())

    def only(frame: Any) -> Any:
        return frame[frame["patient_id"].isin(keep)].reset_index(drop=True)

    history = dataclasses.replace(
        cohort.timeline,
        **{table: only(getattr(cohort.timeline, table)) for table in HISTORY.values()},
    )
    baseline = None if cohort.baseline is None else only(cohort.baseline)
    return dataclasses.replace(cohort, wide=only(cohort.wide), timeline=history, baseline=baseline)


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in references(v)]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


class Validators:
    """One Draft 6 validator per resource type over the official R4 definitions (as the
    tests build them)."""

    def __init__(self) -> None:
        self.schema = json.loads(gzip.decompress(SCHEMA.read_bytes()))
        self.cache: dict[str, jsonschema.Draft6Validator] = {}

    def errors(self, resource: dict[str, Any], kind: str | None = None) -> int:
        kind = kind or resource["resourceType"]
        if kind not in self.cache:
            self.cache[kind] = jsonschema.Draft6Validator(
                {"$ref": f"#/definitions/{kind}", "definitions": self.schema["definitions"]}
            )
        return sum(1 for _ in self.cache[kind].iter_errors(resource))


def check_bundles(
    cohort: Any, folder: Path, wanted: int, whole: int, seed: int
) -> tuple[Counter[str], Counter[str]]:
    """(resources checked by type, problems by kind) over ``wanted`` random bundles."""
    validators = Validators()
    paths = sorted(folder.glob("*.json"))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(paths), size=min(wanted, len(paths)), replace=False)
    rows = {
        kind: getattr(cohort.timeline, table).groupby("patient_id").size()
        for kind, table in HISTORY.items()
    }
    checked: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    for n, index in enumerate(sorted(chosen)):
        bundle = json.loads(paths[index].read_text())
        urls = [entry["fullUrl"] for entry in bundle["entry"]]
        problems["duplicate ids"] += len(urls) - len(set(urls))
        kinds: Counter[str] = Counter()
        pid = ""
        for entry in bundle["entry"]:
            resource = entry["resource"]
            kind = resource["resourceType"]
            kinds[kind] += 1
            if kind == "Patient":
                pid = resource["identifier"][0]["value"]
            problems["schema errors"] += validators.errors(resource)
            problems["unresolved references"] += sum(
                ref not in urls for ref in references(resource)
            )
        checked.update(kinds)
        for kind, counts in rows.items():
            problems["resources unlike the history"] += kinds[kind] != int(counts.get(pid, 0))
        if n < whole:
            problems["schema errors"] += validators.errors(bundle, "Bundle")
            checked["Bundle (whole)"] += 1
    return checked, problems


def check_ndjson(folder: Path) -> tuple[int, int]:
    """(resources, unresolved references) over the NDJSON files."""
    found = {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()]
        for path in folder.glob("*.ndjson")
    }
    known = {f"{kind}/{r['id']}" for kind, items in found.items() for r in items}
    unresolved = sum(
        ref not in known for items in found.values() for r in items for ref in references(r)
    )
    return sum(len(items) for items in found.values()), unresolved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--bundles", type=int, default=500, help="random bundles checked")
    parser.add_argument("--whole", type=int, default=5, help="bundles also validated whole")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    start = time.perf_counter()
    cohort = build_cohort(args.patients, args.years, args.seed)
    history = cohort.timeline
    print(
        f"cohort: {len(cohort.wide):,} patients x {args.years:g} years; "
        + ", ".join(f"{len(getattr(history, t)):,} {t}" for t in HISTORY.values())
        + f" ({time.perf_counter() - start:.1f} s)"
    )
    per_patient = history.encounters.groupby("patient_id").size()
    print(f"encounters per patient: median {per_patient.median():g}, max {per_patient.max()}")
    if args.bundles < len(cohort.wide):
        cohort = random_patients(cohort, args.bundles, args.seed)
        print(f"bundles of {len(cohort.wide):,} random patients of the {args.patients:,} written")
    with tempfile.TemporaryDirectory(prefix="synthpatient-fhir-") as work:
        start = time.perf_counter()
        bundles = get_exporter("fhir_bundles").export(cohort, Path(work) / "fhir")
        print(
            f"fhir_bundles: {len(list(bundles.glob('*.json'))):,} bundles written and validated "
            f"by fhir.resources in {time.perf_counter() - start:.1f} s"
        )
        start = time.perf_counter()
        checked, problems = check_bundles(cohort, bundles, args.bundles, args.whole, args.seed)
        print(
            f"official FHIR R4 JSON schema, {min(args.bundles, len(cohort.wide)):,} random "
            f"bundles ({time.perf_counter() - start:.1f} s): {sum(checked.values()):,} checked ("
            + ", ".join(f"{k} {v:,}" for k, v in sorted(checked.items()))
            + ")"
        )
        ndjson = get_exporter("fhir_ndjson").export(cohort, Path(work) / "ndjson")
        resources, unresolved = check_ndjson(ndjson)
        problems["unresolved NDJSON references"] += unresolved
        print(f"fhir_ndjson: {resources:,} resources, {unresolved} unresolved references")
    for what in (
        "schema errors",
        "unresolved references",
        "duplicate ids",
        "resources unlike the history",
        "unresolved NDJSON references",
    ):
        print(f"  {what:<30} {problems[what]}")
    if any(problems.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
