"""LLMSynthesizer against the local test double of an OpenAI-compatible server, with faults.

Fits on the bundled diabetes table, then samples 1,000 rows twice from a FakeLLMServer that
injects 429s, 500s, answers cut mid-row, malformed JSON, prose wrapping, misspelled
categories, out-of-range values, duplicates and (with real example rows in the prompt, the
second run) copies of those examples. Prints the valid-row, duplicate, copy-of-example and
training-copy rates, cost and time per 1,000 valid unique rows, and the faults recovered
from; exits 1 if a check fails. Never calls a real LLM: the server listens on 127.0.0.1.

The fake server draws each column independently from the statistics in the prompt: the rates
and costs below measure the pipeline (parsing, validation, retries, accounting), not the
quality of any real model. Prices are an example price table set by the user (per 1,000
tokens, like gpt-4o-mini's list prices in 2024: 0.00015 input, 0.0006 output, USD).

Run: python benchmarks/check_llm_synthesizer.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from synthpatient import datasets
from synthpatient.synthesizers.llm import LLMSynthesizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test double is in tests/
from tests.fake_llm_server import FakeLLMServer, Faults  # noqa: E402

N_ROWS = 1000
PRICES = {"price_per_1k_input_tokens": 0.00015, "price_per_1k_output_tokens": 0.0006}
FAULTS = Faults(
    rate_limit=0.10,
    server_error=0.03,
    truncate=0.05,
    malformed=0.05,
    prose=0.05,
    misspell=0.02,
    out_of_range=0.02,
    duplicate=0.03,
    copy_example=0.03,
    retry_after_s=0.05,
)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def run(include_examples: bool, failures: list[str]) -> None:
    """One 1,000-row run; appends a line to ``failures`` for each check that fails."""
    real = datasets.load("diabetes")
    label = "with 6 real example rows in the prompt" if include_examples else "no example rows"
    with FakeLLMServer(faults=FAULTS) as server:
        synth = LLMSynthesizer(
            base_url=server.url,
            model="fake-llm",
            prompt_level="advanced",
            include_examples=include_examples,
            rows_per_request=25,
            max_concurrency=4,
            backoff_s=0.05,
            timeout_s=10.0,
            seed=0,
            **PRICES,
        ).fit(real)
        rows = synth.sample(N_ROWS, seed=1)
        injected = dict(server.injected)
    r = synth.last_sample_report_
    print(f"\n== {N_ROWS} rows, prompt advanced, {label} ==")
    print(f"injected by the server:   {dict(sorted(injected.items()))}")
    print(
        f"requests {r.requests}, retries {r.retries} (429: {r.rate_limited}, 5xx: "
        f"{r.server_errors}, timeouts: {r.timeouts}), failed requests {r.failed_requests}"
    )
    print(
        f"answers cut off {r.truncated_answers}, malformed {r.malformed_answers}, wrapped in "
        f"prose {r.wrapped_answers}, without rows {r.empty_answers}"
    )
    print(
        f"rows parsed {r.rows_parsed}, schema-valid {r.rows_schema_valid}, accepted "
        f"{r.rows_accepted}, delivered {r.rows_delivered}; invalid by reason "
        f"{dict(sorted(r.invalid_by_reason.items()))}; spellings fixed {r.spellings_fixed}"
    )
    print(
        f"valid-row rate {_pct(r.valid_row_rate)}, duplicate rate {_pct(r.duplicate_rate)}, "
        f"copy-of-example rate {_pct(r.example_copy_rate)}, training-copy rate "
        f"{_pct(r.training_copy_rate)}"
    )
    print(
        f"tokens {r.input_tokens} in / {r.output_tokens} out; cost {r.cost:.4f} USD; "
        f"{r.cost_per_1k_rows:.4f} USD and {r.seconds_per_1k_rows:.1f} s per 1,000 valid "
        f"unique rows (prices per 1,000 tokens: {PRICES['price_per_1k_input_tokens']} in, "
        f"{PRICES['price_per_1k_output_tokens']} out)"
    )
    checks = {
        f"{N_ROWS} rows delivered": len(rows) == N_ROWS == r.rows_delivered,
        "every row valid against the schema": _valid(synth, rows),
        "recovered from 429s": injected.get("rate_limit", 0) > 0 and r.rate_limited > 0,
        "recovered from 5xx": injected.get("server_error", 0) > 0 and r.server_errors > 0,
        "recovered from cut-off answers": injected.get("truncate", 0) > 0
        and r.truncated_answers > 0,
        "recovered from malformed answers": injected.get("malformed", 0) > 0
        and r.malformed_answers > 0,
        "misspellings / out-of-range rows rejected": sum(r.invalid_by_reason.values()) > 0,
        "no failed request": r.failed_requests == 0,
        "no duplicate delivered": not rows[[c.name for c in synth.schema_.learned]]
        .duplicated()
        .any(),
    }
    if include_examples:
        checks["copies of prompt examples caught"] = r.example_copies > 0
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
        if not ok:
            failures.append(f"{label}: {name}")


def _valid(synth: LLMSynthesizer, rows) -> bool:  # type: ignore[no-untyped-def]
    try:
        synth.schema_.validate(rows)
    except ValueError:
        return False
    return True


def main() -> int:
    failures: list[str] = []
    print(
        "LLMSynthesizer on diabetes (442 real rows) via the local fake OpenAI-compatible "
        "server (a test double: rows drawn independently per column from the prompt's "
        f"statistics). Faults: {FAULTS}"
    )
    run(False, failures)
    run(True, failures)
    print("\nall checks passed" if not failures else f"\nFAILED: {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
