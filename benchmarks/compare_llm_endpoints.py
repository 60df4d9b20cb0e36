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
        [--llm gemma=http://127.0.0.1:8000/v1,gemma-3-270m] [--with-fake] [--timeout 120] \\
        [--update-readme README.md]

``--with-fake`` adds the fake server beside the given endpoints; ``--update-readme`` writes
the table (Markdown) between ``<!-- llm-endpoints:start -->`` and ``<!-- llm-endpoints:end -->``
of that file (``make bench-llm`` does both, with a local Gemma 3 270M on llama.cpp).

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
        system_level=args.system_level,
        include_examples=True,
        rows_per_request=args.rows_per_request,
        max_concurrency=args.concurrency,
        timeout_s=args.timeout,
        max_retries=args.retries,
        max_requests=args.max_requests,
        seed=0,
    ).fit(real)
    start = time.perf_counter()
    try:
        synth.sample(args.rows, seed=1)
    except SynthPatientError as exc:
        row["error"] = str(exc)[:160]
    report = synth.last_sample_report_
    delivered = report.rows_delivered if report else 0
    reasons = dict(report.invalid_by_reason) if report else {}
    reasons.update(
        {"duplicate": report.duplicates, "example copy": report.example_copies} if report else {}
    )
    top = sorted(((n, k) for k, n in reasons.items() if n), reverse=True)[:2]
    row.update(
        parsed=report.rows_parsed if report else 0,
        rejected=", ".join(f"{k.replace('_', ' ')} {n}" for n, k in top) or "none",
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
        url, model=model, api_key_env=args.key_env, timeout_s=args.parser_timeout, max_retries=0
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
        f"{name}: request parser {valid}/{n} validated tool calls within "
        f"{args.parser_timeout:g} s, {agree}/{n} agree with the offline parser, "
        f"{seconds:.1f} s per request"
    )


FAKE = "fake-llamacpp"
README_START = "<!-- llm-endpoints:start -->"
README_END = "<!-- llm-endpoints:end -->"
#: the Markdown table's columns: (header, key in a run's row)
MARKDOWN = (
    ("endpoint", "endpoint"),
    ("prompt level", "level"),
    ("rows parsed", "parsed"),
    ("rows delivered", "rows"),
    ("valid share", "valid"),
    ("rejected (most)", "rejected"),
    ("duplicates", "dup"),
    ("example copies caught", "copies"),
    ("near copies caught", "near"),
    ("structured output", "format"),
    ("retries", "retries"),
    ("timeouts", "timeouts"),
    ("s / 1k valid rows", "s/1k"),
    ("tokens / 1k valid rows", "tokens/1k"),
)


def _markdown(rows: list[dict], parsers: list[str], args: argparse.Namespace) -> str:
    lines = [
        "| " + " | ".join(h for h, _ in MARKDOWN) + " |",
        "|" + "---|" * len(MARKDOWN),
    ]
    for row in rows:
        cells = [_cell(row.get(key)) for _, key in MARKDOWN]
        if row.get("error"):  # the budget or a server error stopped the run early
            cells[3] += " (stopped)"
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    notes = [
        "",
        f"{args.rows} rows asked per run (diabetes table, 6 real example rows in the prompt, "
        f"{args.rows_per_request} rows per request"
        f"{f', at most {args.max_requests} requests' if args.max_requests else ''}, "
        f"system level {args.system_level}); "
        "shares are of the parsed rows; seconds and tokens are per 1,000 valid unique rows "
        "delivered, on this machine at the time of the run; (stopped): fewer rows than asked "
        "when the request budget was spent.",
        "",
        *(f"- {line}" for line in parsers),
    ]
    return "\n".join(lines + notes)


def _readme(path: Path) -> tuple[str, int, int]:
    """The file's text and the markers' places (checked before any run)."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"{path} has no '{README_START}' ... '{README_END}' section.")
    return text, start, end


def _update_readme(path: Path, markdown: str, command: str) -> None:
    from synthpatient._io import write_text_atomic

    text, start, end = _readme(path)
    block = f"{README_START}\n<!-- written by `{command}`; do not edit by hand -->\n{markdown}\n"
    write_text_atomic(path, text[:start] + block + text[end:])
    print(f"Wrote the table into {path}.")


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
    parser.add_argument("--system-level", default="strict", help="none, role or strict")
    parser.add_argument(
        "--parser-timeout", type=float, default=20.0, help="per parser request, s (as ask)"
    )
    parser.add_argument(
        "--max-requests", type=int, default=None, help="request budget per run (default: auto)"
    )
    parser.add_argument(
        "--with-fake", action="store_true", help="also the fake server, beside --llm"
    )
    parser.add_argument("--update-readme", type=Path, help="write the table into this file")
    args = parser.parse_args()
    if args.update_readme is not None:
        _readme(args.update_readme)  # a README without the markers fails before any run
    with ExitStack() as stack:
        endpoints = _endpoints(args.llm)
        if not endpoints or args.with_fake:
            fake = stack.enter_context(
                FakeLLMServer(
                    json_schema_status=500,
                    digit_tokens=True,
                    drops_system=True,
                    faults=Faults(splice_example=0.02, copy_example=0.02),
                )
            )
            endpoints.insert(0, (FAKE, fake.url, "fake-llm"))
        rows = []
        for name, url, model in endpoints:
            for level in args.levels.split(","):
                rows.append(_run(name, url, model, level, args))
                # each run as it ends: a later failure (or a stop) keeps what was measured
                print("run:", " | ".join(_cell(rows[-1].get(c)) for c in COLUMNS), flush=True)
        parsers = [
            f"{name}: request parser not measured (the fake server plays no tool calls)"
            if name == FAKE
            else _parser_check(name, url, model, args)
            for name, url, model in endpoints
        ]
    print(" | ".join(COLUMNS))
    for row in rows:
        print(" | ".join(_cell(row.get(c)) for c in COLUMNS))
    print()
    for line in parsers:
        print(line)
    failed = sum(r["failed"] for r in rows)
    print(f"\n{len(rows) - failed} of {len(rows)} runs delivered all {args.rows} rows.")
    if args.update_readme is not None:
        command = "python benchmarks/compare_llm_endpoints.py " + " ".join(sys.argv[1:])
        _update_readme(args.update_readme, _markdown(rows, parsers, args), command)
    return 1 if failed == len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
