"""Issue 17's safety must-show: coherent regimens, physiology in the tails, the seed request.

Run: python benchmarks/check_cohort_safety.py [--patients 1000000] [--seed-patients 2000]
1. For every condition of the knowledge base, a cohort of --patients patients (all its
   observations): contraindicated or duplicate-class drug pairs (every pair the knowledge
   base's drug classes forbid), diastolic >= systolic, pulse pressure < 20 mmHg, eGFR < 15 with
   a normal urea nitrogen, a calculated LDL reported above 400 mg/dL triglycerides, FEV1 > FVC;
   the time each cohort took.
2. Treated and untreated HbA1c means against the cited ones (Diabetes in America, ch. 9).
3. The seed request ("generate 2000 Type 2 diabetes patients with 20 important diabetes
   observations based on the US population") parsed, drawn and written: HbA1c bands, BMI,
   hypertension, eGFR < 60, HbA1c-glucose r against today's targets, and every FHIR resource
   of every Bundle against the official FHIR R4 JSON schema (tests/data/fhir.schema.json.gz).
Timings depend on the machine's load; rerun on a quiet machine for figures to quote.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import jsonschema
import numpy as np

from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge._regimen import conflicting_pairs
from synthpatient.knowledge.outputs import write_cohort
from synthpatient.knowledge.realism import check_cohort
from synthpatient.knowledge.request import parse_request
from synthpatient.knowledge.sampler import CohortSampler, CohortSpec

SEED_REQUEST = (
    "generate 2000 Type 2 diabetes patients EHR data with 20 important diabetes "
    "observations based on the US population"
)
SCHEMA = Path(__file__).resolve().parents[1] / "tests" / "data" / "fhir.schema.json.gz"


def tails(wide) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Counts of each physiological impossibility the cohort's columns allow checking."""
    out: dict[str, int] = {}
    if {"systolic_bp", "diastolic_bp"} <= set(wide):
        pp = wide["systolic_bp"] - wide["diastolic_bp"]
        out["diastolic >= systolic"] = int((pp <= 0).sum())
        out["pulse pressure < 20"] = int((pp < 20).sum())
    if {"egfr", "bun"} <= set(wide):
        out["eGFR < 15 with BUN <= 20"] = int(((wide["egfr"] < 15) & (wide["bun"] <= 20)).sum())
    if {"ldl", "triglycerides"} <= set(wide):
        shown = wide["ldl"].notna() & (wide["triglycerides"] > 400)
        out["calculated LDL at TG > 400"] = int(shown.sum())
    if {"fev1", "fvc"} <= set(wide):
        out["FEV1 > FVC"] = int((wide["fev1"] > wide["fvc"]).sum())
    return out


def regimens(sampler: CohortSampler, n: int) -> None:
    print(f"1. {n:,} patients of each condition (all observations)")
    kb = sampler.kb
    for key, condition in sorted(kb.conditions.items()):
        start = time.perf_counter()
        wide = sampler.sample(CohortSpec(condition=key, n=n, seed=17, n_observations=None)).wide
        took = time.perf_counter() - start
        pairs = conflicting_pairs(condition)
        both = {
            f"{p.a.key}+{p.b.key}": int((wide[f"on_{p.a.key}"] & wide[f"on_{p.b.key}"]).sum())
            for p in pairs
        }
        counts = tails(wide)
        print(
            f"  {key:<24} {took:6.1f} s  forbidden drug pairs: {sum(both.values())} "
            f"(of {len(pairs)} pair(s) checked: {', '.join(both) or 'none'})  "
            + "  ".join(f"{k}: {v}" for k, v in counts.items())
        )
        if key == "type2_diabetes":
            status = condition.treatment.by_status if condition.treatment else None
            hba1c, treated = wide["hba1c"], wide["treated"].to_numpy(bool)
            if status is not None:
                t_mean, u_mean = hba1c[treated].mean(), hba1c[~treated].mean()
                order = "treated above untreated" if t_mean > u_mean else "UNTREATED ABOVE"
                print(
                    f"2. HbA1c mean treated {t_mean:.2f} % (cited {status.treated_mean}), "
                    f"untreated {u_mean:.2f} % (cited {status.untreated_mean}): {order}, as "
                    f"cited [{', '.join(status.sources)}]"
                )
            htn = wide["hypertension"].to_numpy(bool)
            drugs = [f"on_{k}" for r in condition.regimens for k in r.medications]
            on_any = wide[drugs].to_numpy(bool).any(axis=1)
            print(
                f"   hypertension {htn.mean():.3f}; any antihypertensive among them "
                f"{on_any[htn].mean():.3f} (target 0.648); without hypertension "
                f"{on_any[~htn].mean():.3f}; statin at 40-75 "
                f"{wide.loc[wide['age'].between(40, 75), 'on_statin'].mean():.3f} (0.568), "
                f"outside {wide.loc[~wide['age'].between(40, 75), 'on_statin'].mean():.3f}"
            )


def seed_request(n_check: int) -> None:
    kb = load_knowledge_base()
    request = parse_request(SEED_REQUEST, kb)
    spec = request.to_spec(kb).model_copy(update={"seed": 2026})
    cohort = CohortSampler(kb).sample(spec)
    report = check_cohort(cohort)
    print(
        f"3. seed request -> {spec.n:,} {spec.condition} patients, {len(cohort.observations)} "
        f"observations; {report.summary()}"
    )
    wanted = ("hba1c", "bmi mean", "hypertension prevalence", "egfr < 60", "r(fasting_glucose")
    for t in report.targets:
        if t.what.startswith(wanted):
            tol = "at least" if t.kind == "at least" else f"+/- {t.tolerance:g}"
            print(
                f"   {t.what:<26} measured {t.measured:.3f}  target {t.target:.3f} ({tol})  "
                f"{'ok' if t.ok else 'OFF'}"
            )
    r = np.corrcoef(cohort.wide["hba1c"], cohort.wide["fasting_glucose"])[0, 1]
    folder = Path(tempfile.mkdtemp(prefix="synthpatient-safety-")) / "cohort"
    write_cohort(cohort, folder, kb=kb, request=request, request_text=SEED_REQUEST)
    schema = json.loads(gzip.decompress(SCHEMA.read_bytes()))
    validators: dict[str, jsonschema.Draft6Validator] = {}
    n_resources = n_errors = 0
    bundles = sorted((folder / "fhir").glob("*.json"))
    for path in bundles[:n_check]:
        for entry in json.loads(path.read_text())["entry"]:
            kind = entry["resource"]["resourceType"]
            if kind not in validators:
                validators[kind] = jsonschema.Draft6Validator(
                    {"$ref": f"#/definitions/{kind}", "definitions": schema["definitions"]}
                )
            n_errors += sum(1 for _ in validators[kind].iter_errors(entry["resource"]))
            n_resources += 1
    provenance = json.loads((folder / "provenance.json").read_text())
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    covered = on_disk - {"provenance.json"} <= set(provenance["sha256"])
    print(
        f"   HbA1c-fasting glucose r = {r:.3f}; FHIR R4 schema: {min(n_check, len(bundles)):,} "
        f"of {len(bundles):,} bundles, {n_resources:,} resources, {n_errors} errors; "
        f"provenance checksums cover every file written (FHIR included): {covered}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--fhir-bundles", type=int, default=2000, help="bundles schema-checked")
    args = parser.parse_args()
    regimens(CohortSampler(load_knowledge_base()), args.patients)
    seed_request(args.fhir_bundles)


if __name__ == "__main__":
    main()
