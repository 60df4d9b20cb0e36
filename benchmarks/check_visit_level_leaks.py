"""No real identifier or free-text value of a visit-level table reaches anything we write or say.

Builds a visit-level extract (1 to 6 rows per patient) whose identifying columns repeat on every
row of a patient and carry no telling name: an MRN (`mrn`), the full name (`patient`), a phone
number (`contact`), an email (`email_address`), a free-text remark repeated per patient
(`remark`) and a free-text note per visit that mentions the patient by name (`note`). Then it
drives the command line (in real processes) and the Python API over it: `schema` (also with
`--show-categories`), `fit`/`sample` for every synthesizer asked for, `generate` with conditions,
error paths (unknown category, condition on an identifier), `evaluate` with an HTML report, and
the prompted LLM against the local fake server (its prompts are checked too). With `sequential`
(whole patients from the long table) also: `generate -s sequential` with a patient condition,
`evaluate --patient-key --time-column` with the patient-level metrics and report, the model
saved, loaded and sampled through the API, and the long-table bad input (one row per patient,
a name that changes within a patient, a condition on a visit column: errors; times out of
order, repeated rows, rows without a date: reported repairs). Every file written, every model
folder (manifest and arrays), every report, every stdout/stderr line, every warning and every
exception message is searched for every real value of the sensitive columns.

    python benchmarks/check_visit_level_leaks.py   # copula, sequential, ctgan, tvae, mst, ...
    python benchmarks/check_visit_level_leaks.py --synthesizers copula,sequential --patients 300

Prints what was searched and the number of real values found per artefact; exit code 1 if any.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SENSITIVE = ("mrn", "patient", "contact", "email_address", "remark", "note")
FIRST_F = ["Maria", "Linda", "Aisha", "Chen", "Olga", "Fatima", "Grace", "Ines", "Joanna", "Keiko"]
FIRST_M = ["James", "Rahul", "Tomasz", "Kwame", "Diego", "Pierre", "Yusuf", "Arjun", "Lars", "Omar"]
LAST = [
    "Okafor",
    "Lindqvist",
    "Haddad",
    "Moreau",
    "Nakamura",
    "Petrovic",
    "Alvarez",
    "Brennan",
    "Kowalski",
    "Achterberg",
    "Ferreira",
    "Sorensen",
    "Mahlangu",
    "Castellanos",
    "Whitfield",
]
REMARKS = [
    "lives alone and walks with a frame since the fall",
    "daughter manages the insulin pen",
    "prefers appointments after work on Thursdays",
    "needs an interpreter at every visit",
    "declined the retinal screening twice this year",
    "works night shifts at the depot",
    "allergic to penicillin, rash in childhood",
    "recently moved from the coast to town",
]


def make_visit_table(n_patients: int, seed: int) -> pd.DataFrame:
    """A visit-level extract with repeated identifiers and free text (made up, but shaped like
    an EHR export: 1-6 visits per patient, labs that drift within a patient)."""
    rng = np.random.default_rng(seed)
    rows = []
    taken: set[str] = set()
    for p in range(n_patients):
        sex = "F" if rng.random() < 0.52 else "M"
        name = first = ""
        while not name or name in taken:  # unique; a middle initial: never a Faker name
            first = str(rng.choice(FIRST_F if sex == "F" else FIRST_M))
            middle = chr(ord("A") + int(rng.integers(0, 26)))
            name = f"{first} {middle}. {rng.choice(LAST)}"
        taken.add(name)
        mrn = f"MRN{8_000_000 + 7919 * p % 1_000_000:07d}"
        phone = f"({rng.integers(201, 990)}) {rng.integers(201, 999)}-{rng.integers(1000, 9999)}"
        email = f"{first.lower()}.{p}@clinic-mail.net"
        remark = f"{rng.choice(REMARKS)} (case {p})"
        birth_year = int(rng.integers(1935, 1995))
        base_hba1c, base_sbp = rng.normal(7.4, 1.1), rng.normal(135, 14)
        first_visit = pd.Timestamp("2018-01-01") + pd.Timedelta(days=int(rng.integers(0, 700)))
        n_visits = int(rng.integers(1, 7))
        for v in range(n_visits):
            date = first_visit + pd.Timedelta(days=int(120 * v + rng.integers(0, 60)))
            hba1c = round(float(base_hba1c - 0.15 * v + rng.normal(0, 0.3)), 1)
            rows.append(
                {
                    "mrn": mrn,
                    "patient": name,
                    "contact": phone,
                    "email_address": email,
                    "sex": sex,
                    "birth_year": birth_year,
                    "visit_date": date.date().isoformat(),
                    "hba1c": hba1c,
                    "sbp": int(round(base_sbp + rng.normal(0, 8))),
                    "weight_kg": round(float(rng.normal(88 if sex == "M" else 76, 12)), 1),
                    "remark": remark,
                    "note": (
                        f"Seen {name} on {date.date()}: HbA1c {hba1c}, "
                        f"plan reviewed (visit {v + 1})."
                    ),
                }
            )
    return pd.DataFrame(rows)


class Finder:
    """Searches text, bytes, tables and numpy archives for any of the real sensitive values."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.values = sorted(
            {str(v) for c in SENSITIVE for v in table[c].dropna().unique()}, key=len, reverse=True
        )
        self.by_column = {c: {str(v) for v in table[c].dropna().unique()} for c in SENSITIVE}

    def in_text(self, text: str) -> set[str]:
        return {v for v in self.values if v in text}

    def in_file(self, path: Path) -> set[str]:
        found: set[str] = set()
        data = path.read_bytes()
        if path.suffix == ".parquet":
            frame = pd.read_parquet(io.BytesIO(data))
            found |= self.in_text(frame.to_csv(index=False))
        if path.suffix == ".npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                for name in archive.files:
                    array = archive[name]
                    if array.dtype.kind in "US":
                        found |= self.in_text("\n".join(map(str, array.ravel())))
                    elif array.dtype == np.uint8:
                        found |= self.in_text(array.tobytes().decode("utf-8", errors="ignore"))
        # raw bytes too, as UTF-8 and as numpy's UTF-32 string storage
        found |= self.in_text(data.decode("utf-8", errors="ignore"))
        found |= {v for v in self.values if v.encode("utf-32-le") in data}
        return found

    def columns_of(self, values: set[str]) -> list[str]:
        return sorted({c for c, vs in self.by_column.items() if vs & values})


def run_cli(args: list[str], cwd: Path, log: list[tuple[str, str]]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("synthpatient")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "synthpatient"]
    done = subprocess.run(
        command + args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200"},
    )
    log.append(
        (
            f"synthpatient {' '.join(args[:2])} ... (exit {done.returncode})",
            done.stdout + done.stderr,
        )
    )
    return done


def fit_params(key: str) -> list[str]:
    """Short budgets: this checks what is written, not how good the model is."""
    return {
        "ctgan": ["-p", "steps=60"],
        "tvae": ["-p", "steps=60"],
        "tabular_lm": ["-p", "epochs=2"],
        "mst": ["--epsilon", "3"],
    }.get(key, [])


_SEQ = ["-s", "sequential", "--seed", "4"]
#: Runs that must succeed with the sequential synthesizer (long tables; repairs are warnings).
SEQUENTIAL_OK = [
    ["generate", "train.csv", "--rows", "60", "--out", "generated_sequential.csv", *_SEQ]
    + ["--condition", "sex=F", "--condition", "birth_year=1950..1980"],
    [
        "evaluate",
        "train.csv",
        "synthetic_sequential.csv",
        "--holdout",
        "holdout.csv",
        "--patient-key",
        "mrn",
        "--time-column",
        "visit_date",
        "--target",
        "hba1c",
        "--report",
        "report_sequential.html",
        "--json",
        "scores_sequential.json",
    ],
    ["generate", "messy.csv", "--rows", "20", "--out", "messy_sequential.csv", *_SEQ],
]
#: Runs that must end in a one-line error (exit 2) with the sequential synthesizer.
SEQUENTIAL_ERRORS = [
    ["generate", "one_row.csv", "--rows", "10", "--out", "e5.csv", *_SEQ],
    ["generate", "renamed.csv", "--rows", "10", "--out", "e6.csv", *_SEQ],
    ["generate", "train.csv", "--rows", "10", "--out", "e7.csv", *_SEQ]
    + ["--condition", "hba1c=6..9"],
    ["generate", "train.csv", "--rows", "10", "--out", "e8.csv", *_SEQ]
    + ["--condition", "patient=Nobody Here"],
]


def bad_long_tables(train: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Long-table bad input built from the training rows: one row per patient; a name that
    changes within a patient (the key may join several people); and a messy extract (rows in
    reverse order, a few exact copies, a few visits without a date), which is repaired."""
    renamed = train.reset_index(drop=True)
    second = renamed.index[renamed["mrn"].duplicated()][:3]  # second visits of some patients
    others = renamed["patient"].drop_duplicates().iloc[-3:].to_numpy()  # other real names
    renamed.loc[second, "patient"] = others
    messy = pd.concat([train.iloc[::-1], train.iloc[:5]], ignore_index=True)
    messy.loc[messy.index[3::40], "visit_date"] = np.nan
    return {
        "one_row.csv": train.groupby("mrn").head(1),
        "renamed.csv": renamed,
        "messy.csv": messy,
    }


def drive_cli(work: Path, synthesizers: list[str], log: list[tuple[str, str]]) -> list[str]:
    problems = []
    expect_ok = [
        ["schema", "visits.csv", "--out", "schema.json"],
        [
            "schema",
            "visits.csv",
            "--out",
            "schema_observed.json",
            "--include-observed",
            "--show-categories",
        ],
        [
            "generate",
            "train.csv",
            "--rows",
            "300",
            "--out",
            "generated.parquet",
            "--seed",
            "3",
            "--condition",
            "sex=F",
            "--condition",
            "hba1c=6..9",
        ],
    ]
    for key in [s for s in synthesizers if s != "llm"]:
        expect_ok.append(
            [
                "fit",
                "train.csv",
                "--model",
                f"model_{key}",
                "-s",
                key,
                "--seed",
                "1",
                *fit_params(key),
            ]
        )
        expect_ok.append(
            [
                "sample",
                f"model_{key}",
                "--rows",
                "400",
                "--out",
                f"synthetic_{key}.csv",
                "--seed",
                "2",
            ]
        )
    expect_ok.append(
        [
            "evaluate",
            "train.csv",
            f"synthetic_{synthesizers[0]}.csv",
            "--holdout",
            "holdout.csv",
            "--target",
            "hba1c",
            "--report",
            "report.html",
            "--json",
            "scores.json",
        ]
    )
    if "sequential" in synthesizers:
        expect_ok += SEQUENTIAL_OK
    for args in expect_ok:
        if synthesizers[0] == "llm" and args[0] == "evaluate":
            continue
        done = run_cli(args, work, log)
        if done.returncode != 0:
            problems.append(
                f"`synthpatient {' '.join(args)}` failed: "
                f"{(done.stderr or done.stdout).strip()[-300:]}"
            )
    expect_error = [
        ["generate", "train.csv", "--rows", "10", "--out", "e1.csv", "--condition", "sex=Q"],
        [
            "generate",
            "train.csv",
            "--rows",
            "10",
            "--out",
            "e2.csv",
            "--condition",
            "patient=Nobody Here",
        ],
        ["generate", "train.csv", "--rows", "10", "--out", "e3.csv", "--condition", "remark=x"],
        ["sample", "model_missing", "--rows", "10", "--out", "e4.csv"],
    ]
    if "sequential" in synthesizers:
        expect_error += SEQUENTIAL_ERRORS
    for args in expect_error:
        done = run_cli(args, work, log)
        if done.returncode != 2 or "Traceback" in done.stderr:
            problems.append(
                f"`synthpatient {' '.join(args)}` should end in a one-line error "
                f"(exit 2); got exit {done.returncode}"
            )
    return problems


def drive_api(
    work: Path,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    use_llm: bool,
    log: list[tuple[str, str]],
) -> list[str]:
    import warnings

    from synthpatient import GaussianCopulaSynthesizer, Schema, quality_summary
    from synthpatient.errors import SynthPatientError
    from synthpatient.evaluation.evaluate import evaluate

    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = Schema.infer(train)
        model = GaussianCopulaSynthesizer(seed=0).fit(train)
        synthetic = model.sample(500)
        model.save(work / "api_model", overwrite=True)
        synthetic.to_csv(work / "api_synthetic.csv", index=False)
        report = evaluate(train, synthetic, holdout=holdout, target="hba1c", seeds=1)
        (work / "api_report.html").write_text(report.to_html(), encoding="utf-8")
        (work / "api_report.json").write_text(report.to_json(), encoding="utf-8")
        (work / "api_quality.json").write_text(
            json.dumps(quality_summary(train, synthetic, schema), default=str), encoding="utf-8"
        )
        for conditions in (
            {"sex": "Q"},
            {"patient": "Nobody"},
            {"unknown": 1},
            {"hba1c": (50, 60)},
        ):
            try:
                model.sample(10, conditions=conditions)
            except SynthPatientError as exc:
                log.append((f"API error for conditions {list(conditions)}", str(exc)))
        log.append(("API warnings", "\n".join(str(w.message) for w in caught)))
        log.append(("API schema decisions", schema.model_dump_json()))
        if use_llm:
            problems += drive_llm(work, train, log)
    return problems


def drive_sequential_api(
    work: Path, train: pd.DataFrame, holdout: pd.DataFrame, log: list[tuple[str, str]]
) -> list[str]:
    """The sequential synthesizer through the Python API: fit, sample, save, load, sample
    again, patient-level evaluation, and its errors (conditions, the long-table checks)."""
    import warnings

    from synthpatient.errors import SynthPatientError
    from synthpatient.evaluation.evaluate import evaluate
    from synthpatient.longitudinal import PatientTable
    from synthpatient.synthesizers.sequential import SequentialSynthesizer

    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = SequentialSynthesizer(seed=0).fit(train)
        synthetic = model.sample(80)
        model.save(work / "api_sequential_model", overwrite=True)
        again = SequentialSynthesizer.load(work / "api_sequential_model").sample(40, seed=5)
        synthetic.to_csv(work / "api_sequential.csv", index=False)
        again.to_csv(work / "api_sequential_loaded.csv", index=False)
        report = evaluate(
            train,
            synthetic,
            holdout=holdout,
            target="hba1c",
            patient_key="mrn",
            time_column="visit_date",
        )
        (work / "api_sequential_report.html").write_text(report.to_html(), encoding="utf-8")
        (work / "api_sequential_report.json").write_text(report.to_json(), encoding="utf-8")
        for conditions in ({"hba1c": (6, 9)}, {"patient": "Nobody"}, {"sex": "Q"}):
            try:
                model.sample(10, conditions=conditions)
                problems.append(f"sequential sample with {list(conditions)} did not fail")
            except SynthPatientError as exc:
                log.append((f"API sequential error for conditions {list(conditions)}", str(exc)))
        for name, frame in bad_long_tables(train).items():
            try:
                table = PatientTable.from_long(frame, key="mrn", time="visit_date")
                log.append((f"API PatientTable repairs ({name})", "; ".join(table.repairs)))
            except SynthPatientError as exc:
                log.append((f"API PatientTable error ({name})", str(exc)))
        log.append(("API sequential warnings", "\n".join(str(w.message) for w in caught)))
    return problems


def drive_llm(work: Path, train: pd.DataFrame, log: list[tuple[str, str]]) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test double: tests/
    from tests.fake_llm_server import FakeLLMServer

    from synthpatient.synthesizers.llm import LLMSynthesizer

    os.environ.setdefault("SYNTHPATIENT_LLM_API_KEY", "not-a-real-key")
    with FakeLLMServer() as server:
        model = LLMSynthesizer(base_url=server.url, model="fake-llm", seed=0).fit(train)
        rows = model.sample(120)
        model.save(work / "model_llm", overwrite=True)
        rows.to_csv(work / "synthetic_llm.csv", index=False)
        prompts = json.dumps([r["body"] for r in server.requests])
    log.append((f"LLM prompts ({len(server.requests)} requests)", prompts))
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthesizers", default="copula,sequential,ctgan,tvae,mst,tabular_lm,llm")
    parser.add_argument("--keep", type=Path, help="Keep the work folder here (must not exist).")
    args = parser.parse_args()
    synthesizers = [s.strip() for s in args.synthesizers.split(",") if s.strip()]

    table = make_visit_table(args.patients, args.seed)
    finder = Finder(table)
    patients = table["mrn"].unique()
    held = set(np.random.default_rng(args.seed).choice(patients, len(patients) // 4, replace=False))
    train, holdout = table[~table["mrn"].isin(held)], table[table["mrn"].isin(held)]
    print(
        f"Visit-level table: {len(table)} rows, {len(patients)} patients "
        f"({table.groupby('mrn').size().min()}-{table.groupby('mrn').size().max()} rows each); "
        f"{len(finder.values)} distinct real values in {', '.join(SENSITIVE)}"
    )

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = {"visits.csv": table, "train.csv": train, "holdout.csv": holdout}
        if "sequential" in synthesizers:
            inputs.update(bad_long_tables(train))
        for name, frame in inputs.items():
            frame.to_csv(work / name, index=False)
        log: list[tuple[str, str]] = []
        problems = drive_cli(work, synthesizers, log)
        problems += drive_api(work, train, holdout, "llm" in synthesizers, log)
        if "sequential" in synthesizers:
            problems += drive_sequential_api(work, train, holdout, log)

        decisions = (
            json.loads((work / "schema.json").read_text())
            if (work / "schema.json").exists()
            else {"columns": []}
        )
        kinds = {c["name"]: c["kind"] for c in decisions["columns"]}
        print(
            "Inferred kinds of the sensitive columns: "
            + ", ".join(f"{c}={kinds.get(c, '?')}" for c in SENSITIVE)
        )

        rows = []
        for path in sorted(p for p in work.rglob("*") if p.is_file() and p.name not in inputs):
            found = finder.in_file(path)
            rows.append((str(path.relative_to(work)), found))
        for title, text in log:
            rows.append((f"[message] {title}", finder.in_text(text)))
        if args.keep:
            import shutil

            shutil.copytree(work, args.keep)

    width = max(len(name) for name, _ in rows)
    print(f"\n{'artefact'.ljust(width)}  real values found")
    for name, found in rows:
        where = f" ({', '.join(finder.columns_of(found))})" if found else ""
        print(f"{name.ljust(width)}  {len(found)}{where}")
    n_files = sum(1 for name, _ in rows if not name.startswith("[message]"))
    n_messages = len(rows) - n_files
    leaked = set().union(*(found for _, found in rows)) if rows else set()
    print(
        f"\nSearched {n_files} files and {n_messages} message logs "
        f"(synthesizers: {', '.join(synthesizers)}) in {time.perf_counter() - start:.0f} s."
    )
    print(
        f"Real identifier or free-text values found: {len(leaked)}"
        + (f" (columns: {', '.join(finder.columns_of(leaked))})" if leaked else "")
    )
    for problem in problems:
        print(f"Problem: {problem}")
    return 1 if leaked or problems else 0


if __name__ == "__main__":
    sys.exit(main())
