"""LLM endpoints side by side: LLMSynthesizer on the bundled diabetes table, per endpoint and
prompt level.

For each ``--llm NAME=URL,MODEL`` (several allowed) and each prompt level, fits on the bundled
``diabetes`` table (442 real rows), asks for ``--rows`` rows with 6 real example rows in the
prompt (so that copies can be measured) and prints: the share of parsed rows that were valid,
duplicates, copies and near copies (splices) of examples caught, the structured output the
server ended on, retries and timeouts, and seconds and tokens per 1,000 valid unique rows.
A run that fails is reported with its one-line error and counts as failed. Each endpoint
also gets the request parser's seed requests: how many came back as a validated tool call,
how many agree with the offline parser (condition and count), and the seconds per request.

Without ``--llm`` it runs against the repository's fake server playing a real local server
(HTTP 500 to ``json_schema`` as llama.cpp does, a tokenizer that splits every digit with
answers cut at ``max_tokens``, a chat template that drops system messages, 2 % spliced
example rows): a measure of the pipeline, not of any model. Exits 1 when every run failed.

    python benchmarks/compare_llm_endpoints.py [--rows 200] [--levels basic,advanced] \\
        [--llm gemma=http://127.0.0.1:8000/v1,gemma-3-270m] [--timeout 120]

The API key, if any, is read from the environment variable named by ``--key-env``.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from synthpatient import datasets
from synthpatient.errors import SynthPatientError
from synthpatient.synthesizers.llm import LLMSynthesizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test double is in tests/
from tests.fake_llm_server import FakeLLMServer, Faults  # noqa: E402

COLUMNS = (
    "endpoint",
    "level",
    "rows",
    "valid",
    "dup",
    "copies",
    "near",
    "format",
    "retries",
    "timeouts",
    "s/1k",
    "tokens/1k",
    "error",
)


def _endpoints(specs: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for spec in specs:
        name, _, rest = spec.partition("=")
        url, _, model = rest.partition(",")
        if not (name and url.startswith(("http://", "https://")) and model):
            raise SystemExit(f"--llm must be NAME=URL,MODEL (got '{spec}').")
        out.append((name, url, model))
    return out


def _run(name: str, url: str, model: str, level: str, args: argparse.Namespace) -> dict:
    real = datasets.load("diabetes")
    row: dict = {"endpoint": name, "level": level}
    synth = LLMSynthesizer(
        base_url=url,
        model=model,
        api_key_env=args.key_env,
        prompt_level=level,
        include_examples=True,
        rows_per_request=args.rows_per_request,
        max_concurrency=args.concurrency,
        timeout_s=args.timeout,
        max_retries=args.retries,
        seed=0,
    ).fit(real)
    start = time.perf_counter()
    try:
        synth.sample(args.rows, seed=1)
    except SynthPatientError as exc:
        row["error"] = str(exc)[:160]
    report = synth.last_sample_report_
    delivered = report.rows_delivered if report else 0
    row.update(
        rows=delivered,
        valid=report.valid_row_rate if report else None,
        dup=report.duplicate_rate if report else None,
        copies=report.example_copies if report else 0,
        near=report.example_near_copies if report else 0,
        format=report.structured_output if report else "?",
        retries=report.retries if report else 0,
        timeouts=report.timeouts if report else 0,
    )
    seconds = time.perf_counter() - start
    tokens = (report.input_tokens + report.output_tokens) if report else 0
    row["s/1k"] = seconds * 1000 / delivered if delivered else None
    row["tokens/1k"] = tokens * 1000 / delivered if delivered else None
    row["failed"] = delivered < args.rows
    return row


PARSER_REQUESTS = (
    "generate 200 Type 2 diabetes patients EHR data with 20 important diabetes observations "
    "based on the US population",
    "300 women with heart failure aged 60 to 85",
    "150 COPD patients on tiotropium",
)


def _parser_check(name: str, url: str, model: str, args: argparse.Namespace) -> str:
    """Tool-calling success of the request parser (no fallback: the model's own answer)."""
    from synthpatient.knowledge import load_knowledge_base
    from synthpatient.knowledge.llm_parser import LLMRequestParser
    from synthpatient.knowledge.request import parse_request
    from synthpatient.llm import LLMClient

    kb = load_knowledge_base()
    client = LLMClient.from_env(
        url, model=model, api_key_env=args.key_env, timeout_s=args.timeout, max_retries=0
    )
    parser = LLMRequestParser(client)
    valid = agree = 0
    start = time.perf_counter()
    for text in PARSER_REQUESTS:
        try:
            parsed = parser(text, kb)
        except SynthPatientError:
            continue
        valid += 1
        offline = parse_request(text, kb, partial=True)
        agree += (parsed.condition, parsed.count) == (offline.condition, offline.count)
    seconds = (time.perf_counter() - start) / len(PARSER_REQUESTS)
    n = len(PARSER_REQUESTS)
    return (
        f"{name}: request parser {valid}/{n} validated tool calls, {agree}/{n} agree with the "
        f"offline parser, {seconds:.1f} s per request"
    )


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:,.0f}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", action="append", default=[], help="NAME=URL,MODEL (repeatable)")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--levels", default="basic,improved,advanced")
    parser.add_argument("--rows-per-request", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--key-env", default="SYNTHPATIENT_LLM_API_KEY")
    args = parser.parse_args()
    with ExitStack() as stack:
        endpoints = _endpoints(args.llm)
        if not endpoints:
            fake = stack.enter_context(
                FakeLLMServer(
                    json_schema_status=500,
                    digit_tokens=True,
                    drops_system=True,
                    faults=Faults(splice_example=0.02, copy_example=0.02),
                )
            )
            endpoints = [("fake-llamacpp", fake.url, "fake-llm")]
        rows = [
            _run(name, url, model, level, args)
            for name, url, model in endpoints
            for level in args.levels.split(",")
        ]
        parsers = [_parser_check(name, url, model, args) for name, url, model in endpoints]
    print(" | ".join(COLUMNS))
    for row in rows:
        print(" | ".join(_cell(row.get(c)) for c in COLUMNS))
    print()
    for line in parsers:
        print(line)
    failed = sum(r["failed"] for r in rows)
    print(f"\n{len(rows) - failed} of {len(rows)} runs delivered all {args.rows} rows.")
    return 1 if failed == len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
