"""Clinical notes and the hybrid synthesizer, measured.

For the bundled diabetes table and a made-up mixed clinical table: fit the hybrid (copula rows,
template notes), sample 1,000 rows with a note each, and print notes per second, how varied the
notes are, and how many contradictions the checker finds (must be 0). Then run the hybrid with
an LLM: a local stand-in server that writes notes from the prompt's JSON block and, on purpose,
often contradicts it (a wrong age), sometimes twice, sometimes answers in prose or is
rate-limited; print how many notes were accepted, rejected and replaced by templates.

Exits non-zero if any contradiction slips through. No network: the server is on 127.0.0.1.

    python benchmarks/check_notes.py
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd

from synthpatient import datasets
from synthpatient.notes import check_note, note_diversity, profile_table
from synthpatient.synthesizers.hybrid import HybridSynthesizer

N_ROWS = 1000


def clinical_table(n_rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A mixed table: ids, names, labs in several units, flags, smoking, dates, an outcome,
    missing values and a free-text column holding (made-up) real notes."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 92, n_rows)
    sbp = np.round(rng.normal(125 + 0.4 * (age - 50), 15, n_rows))
    died = rng.random(n_rows) < 0.1 + 0.003 * (age - 50).clip(0)
    frame = pd.DataFrame(
        {
            "patient_id": np.arange(5000, 5000 + n_rows),
            "name": [f"Real Person {i}" for i in range(n_rows)],
            "age": age,
            "gender": rng.choice(["female", "male"], n_rows),
            "bmi": np.round(rng.normal(28, 5, n_rows).clip(16, 55), 1),
            "systolic_bp": sbp,
            "diastolic_bp": np.round(sbp * 0.6 + rng.normal(5, 6, n_rows)),
            "hba1c": np.round(rng.lognormal(np.log(6.3), 0.15, n_rows), 1),
            "ldl": np.where(rng.random(n_rows) < 0.15, np.nan, np.round(rng.gamma(8, 15, n_rows))),
            "smoking_status": rng.choice(["never", "former", "current"], n_rows, p=[0.5, 0.3, 0.2]),
            "on_insulin": rng.random(n_rows) < 0.25,
            "has_hypertension": sbp > 140,
            "admission_date": pd.Timestamp("2021-01-01")
            + pd.to_timedelta(rng.integers(0, 900, n_rows), "D"),
            "died": died,
            "cause_of_death": np.where(
                died, rng.choice(["cardiac", "cancer", "infection"], n_rows), None
            ),
        }
    )
    frame["nursing_note"] = [
        f"Real patient {i} was comfortable overnight and ate well" for i in range(n_rows)
    ]
    return frame


def offline(name: str, table: pd.DataFrame) -> int:
    """Fit, sample 1,000 rows with notes, check every note; returns the contradictions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hybrid = HybridSynthesizer(notes_column="clinical_note", seed=0).fit(table)
        rows_only = time.perf_counter()
        HybridSynthesizer(seed=0).fit(table.drop(columns=["nursing_note"], errors="ignore")).sample(
            N_ROWS, seed=1
        )
        rows_only = time.perf_counter() - rows_only
        start = time.perf_counter()
        synthetic = hybrid.sample(N_ROWS, seed=1)
        elapsed = time.perf_counter() - start
    text_columns = [c for c in ("clinical_note", "nursing_note") if c in synthetic]
    structured = synthetic.drop(columns=text_columns)
    profile = profile_table(structured)
    records = structured.to_dict("records")
    contradictions = 0
    for column in text_columns:
        for note, row in zip(synthetic[column], records, strict=True):
            problems = check_note(note, row, profile=profile)
            if problems:
                contradictions += 1
                print(f"  CONTRADICTION in {column}: {problems} :: {note}")
    notes = synthetic["clinical_note"]
    diversity = note_diversity(notes, structured)
    n_notes = N_ROWS * len(text_columns)
    print(f"\n== {name}: {N_ROWS} synthetic rows, {n_notes} notes ({', '.join(text_columns)})")
    text_time = elapsed - rows_only  # two timings of a loaded machine: may be negative
    rate = f"{n_notes / text_time:,.0f} notes/s" if text_time > 0.05 else "too fast to time"
    print(
        f"  sample with notes: {elapsed:.2f} s ({rate} for the text alone; rows alone "
        f"{rows_only:.2f} s)"
    )
    log_units = int(notes.str.contains(r"\b(?:ln|log10|log2)\(", regex=True).sum())
    print(f"  notes writing a log unit such as ln(mg/dL): {log_units}")
    print(
        f"  diversity: distinct 4-grams {diversity['distinct_4gram_ratio']:.3f}, distinct "
        f"structures {diversity['distinct_structure_share']:.3f}, most common structure "
        f"{diversity['top_structure_share']:.3f}; distinct headers "
        f"{notes.str.split('. ').str[0].nunique()}"
    )
    print(f"  contradictions found by the checker: {contradictions}")
    print(
        "  real text copied:",
        int(synthetic.get("nursing_note", pd.Series(dtype=str)).str.contains("Real patient").sum()),
    )
    for note in notes.iloc[:2]:
        print(f"  example: {note}")
    return contradictions


# -- the LLM stand-in -------------------------------------------------------------------------
class StandInLLM:
    """Writes a note from the prompt's JSON block; by the hash of the row it answers well,
    contradicts once, contradicts twice, answers in prose, or is rate-limited first."""

    def __init__(self) -> None:
        self.requests = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload = outer.answer(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests += 1
            count = self.requests
        messages = body["messages"]
        facts = json.loads(re.search(r"```json\n(.*)\n```", messages[1]["content"], re.S)[1])
        bucket = int(hashlib.sha256(json.dumps(facts).encode()).hexdigest(), 16) % 20
        attempt = (len(messages) - 2) // 2
        if bucket == 0 and attempt == 0 and count % 2:
            return 429, {"error": {"message": "rate limited"}}
        if bucket == 1:
            return 200, _chat("Sure! The patient is doing fine overall.")
        if (bucket in (2, 3, 4, 5) and attempt == 0) or bucket in (6, 7):
            return 200, _chat(json.dumps({"note": _note(facts, wrong_age=True)}))
        return 200, _chat(json.dumps({"note": _note(facts)}))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _chat(content: str) -> dict:
    return {
        "choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
    }


def _note(facts: dict, *, wrong_age: bool = False) -> str:
    parts = []
    for label, value in facts.items():
        if label == "age" and wrong_age and str(value).isdigit():
            value = int(value) + 3
        if label.startswith("sex") or label == "gender":
            value = str(value).split(" (")[0]
        parts.append(f"{label}: {value}")
    return "Synthetic admission note. " + "; ".join(parts) + "."


def with_llm(table: pd.DataFrame) -> int:
    """The hybrid against the stand-in; returns the contradictions that slipped through."""
    server = StandInLLM()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hybrid = HybridSynthesizer(
                text_columns=[],
                notes_column="clinical_note",
                seed=0,
                llm_base_url=server.url,
                llm_model="stand-in",
                llm_max_attempts=2,
            ).fit(table)
            start = time.perf_counter()
            synthetic = hybrid.sample(N_ROWS, seed=1)
            elapsed = time.perf_counter() - start
    finally:
        server.close()
    report = hybrid.last_sample_report_["clinical_note"]
    structured = synthetic.drop(columns=["clinical_note", "nursing_note"], errors="ignore")
    profile = profile_table(structured)
    slipped = sum(
        bool(check_note(n, r, profile=profile))
        for n, r in zip(synthetic["clinical_note"], structured.to_dict("records"), strict=True)
    )
    print(f"\n== hybrid with an LLM (local stand-in, {server.requests} requests, {elapsed:.1f} s)")
    print(
        f"  accepted {report['llm_accepted']}, rejected for contradiction "
        f"{report['llm_rejected_contradiction']}, unusable answers "
        f"{report['llm_rejected_invalid']}, failed requests {report['llm_request_errors']}, "
        f"template fallbacks {report['template_fallbacks']}"
    )
    caught = [p for p in report["problems"] if p.startswith("says")]
    print(f"  example rejection: {caught[0] if caught else '-'}")
    print(f"  contradictions in the final notes: {slipped}")
    return slipped


def main() -> int:
    diabetes = datasets.load("diabetes")
    clinical = clinical_table()
    bad = offline("diabetes (bundled)", diabetes) + offline("mixed clinical table", clinical)
    bad += with_llm(clinical)
    print(f"\n{'FAIL' if bad else 'OK'}: {bad} contradiction(s) slipped through.")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
