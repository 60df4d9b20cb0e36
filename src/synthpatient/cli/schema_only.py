"""The ``from-schema`` command: a table described by its columns alone, generated offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from synthpatient.cli._errors import err, handled
from synthpatient.cli._shared import _check_rows
from synthpatient.cli.app import LlmKeyEnv, LlmModel, Overwrite, Rows, Seed, app, out
from synthpatient.errors import InvalidParameterError

SchemaFile = Annotated[
    str,
    typer.Argument(
        help="Table description: a YAML or JSON file (columns with kind, description, values, "
        "range, unit; relations in words), or a bundled one: admissions.",
        show_default=False,
    ),
]


LlmUrl = Annotated[
    str | None,
    typer.Option(
        "--llm-base-url",
        metavar="URL",
        help="Have an OpenAI-compatible LLM at this URL write the structured columns (off by "
        "default: offline, from the knowledge base).",
    ),
]
PromptLevel = Annotated[
    str,
    typer.Option(
        "--prompt-level", metavar="LEVEL", help="With an LLM: basic, improved or advanced."
    ),
]
SystemLevel = Annotated[
    str,
    typer.Option("--system-level", metavar="LEVEL", help="With an LLM: none, role or strict."),
]


@app.command("from-schema")
def from_schema(
    schema: SchemaFile,
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output table; its extension picks the format (.csv, .tsv, .parquet...).",
        ),
    ],
    rows: Rows = 1000,
    seed: Seed = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Also write the evaluation without real data (.json or .html).",
        ),
    ] = None,
    overwrite: Overwrite = False,
    llm_base_url: LlmUrl = None,
    llm_model: LlmModel = None,
    llm_key_env: LlmKeyEnv = "SYNTHPATIENT_LLM_API_KEY",
    prompt_level: PromptLevel = "improved",
    system_level: SystemLevel = "strict",
) -> None:
    """Generate --rows rows from a table description alone (no real data, no network).

    Each column's choice is printed ("Medication: from the knowledge base's drug list for the
    row's condition ..."); a column or relation that cannot be honoured is named and nothing
    is written.
    """
    with handled():
        llm = None
        if llm_base_url is not None:
            llm = {
                "base_url": llm_base_url,
                "model": llm_model or "",
                "api_key_env": llm_key_env,
                "prompt_level": prompt_level,
                "system_level": system_level,
            }
        elif llm_model is not None:
            raise InvalidParameterError("--llm-model needs --llm-base-url.")
        write_from_schema(
            schema, out_path, rows, seed=seed, report=report, overwrite=overwrite, llm=llm
        )


def write_from_schema(
    schema: str,
    out_path: Path,
    rows: int,
    *,
    seed: int | None,
    report: Path | None,
    overwrite: bool,
    llm: dict[str, Any] | None,
) -> None:
    """Generate, write and evaluate a table described by its columns: ``from-schema`` and
    ``generate --schema DESCRIPTION`` (no real table) both end here."""
    from synthpatient._io import check_output_path
    from synthpatient._memory import check_rows_fit
    from synthpatient.exporters import exporter_for_path
    from synthpatient.schema_only import evaluate_schema_only, generate_from_schema

    _check_rows(rows)
    exporter = exporter_for_path(out_path)  # the extension picks the format, before any work
    check_output_path(out_path, overwrite=overwrite)
    if report is not None:
        check_output_path(report, overwrite=overwrite)
        if report.suffix.lower() not in (".json", ".html"):
            raise InvalidParameterError(
                f"--report must end in .json or .html (got '{report.name}')."
            )
    with err.status(f"Generating {rows:,} rows..."):
        result = generate_from_schema(schema, rows, seed=seed, llm=llm)
    check_rows_fit(rows, len(result.data.columns), label="--rows")
    exporter.export(result.data, out_path, overwrite=overwrite)
    out.print(
        f"Wrote {rows:,} rows to {out_path} from the table description "
        f"'{result.schema.name}' in {result.seconds:.1f} s (seed {seed})."
    )
    out.print(result.describe(), markup=False)
    evaluation = evaluate_schema_only(result.data, result.schema, seconds=result.seconds)
    for row in evaluation.summary.itertuples():
        out.print(f"  {row.metric}: {row.score:.4g} ({row.verdict})", markup=False)
    if report is not None:
        from synthpatient._atomic import write_text_atomic

        html = report.suffix.lower() == ".html"
        text = evaluation.to_html() if html else evaluation.to_json()
        write_text_atomic(report, text, overwrite=overwrite)
        out.print(f"Wrote the evaluation to {report}.")


#: generate's options that need a REAL table (refused with a table description alone)
REAL_ONLY = (
    "--condition",
    "--identifier",
    "--categorical",
    "--patients-table",
    "--patient-key",
    "--epsilon",
    "--delta",
)
#: LLMSynthesizer parameters that make sense for a table described without data
_DESCRIPTION_LLM_KEYS = (
    "base_url",
    "model",
    "api_key_env",
    "prompt_level",
    "system_level",
    "structured_output",
    "rows_per_request",
    "max_concurrency",
    "timeout_s",
    "max_retries",
    "temperature",
)


def generate_from_description(
    schema: Path | None,
    out_path: Path,
    rows: int,
    seed: int | None,
    synthesizer: str,
    params: list[str] | None,
    overwrite: bool,
    real_only: tuple[Any, ...],
) -> None:
    """``generate --schema DESCRIPTION`` without a REAL table: the ``from-schema`` path.

    Offline by default; ``-s llm -p base_url=URL -p model=NAME`` has a language model write
    the structured columns. Options that only mean something with real data are refused in
    one line, never ignored (``real_only``: their values, in the order of ``REAL_ONLY``).
    """
    with handled():
        from synthpatient.cli._shared import _parse_param

        if schema is None:
            raise InvalidParameterError(
                "Give the REAL table, or --schema with a table description (a YAML/JSON file, "
                "or a bundled one such as admissions) to generate from the description alone."
            )
        given = [
            name
            for name, value in zip(REAL_ONLY, real_only, strict=True)
            if value is not None and value != []
        ]
        if given:
            raise InvalidParameterError(
                f"{', '.join(given)}: only with a REAL table; a table description alone takes "
                "--rows, --seed, --out, --overwrite, and -s llm with -p base_url=URL "
                "-p model=NAME."
            )
        chosen = dict(_parse_param(item) for item in params or ())
        llm = None
        if synthesizer == "llm":
            unknown = sorted(set(chosen) - set(_DESCRIPTION_LLM_KEYS))
            if unknown:
                raise InvalidParameterError(
                    f"A table description through an LLM takes no parameter "
                    f"{', '.join(map(repr, unknown))}. It takes: "
                    f"{', '.join(_DESCRIPTION_LLM_KEYS)}."
                )
            llm = {"api_key_env": "SYNTHPATIENT_LLM_API_KEY", **chosen}
        elif synthesizer != "copula" or chosen:
            raise InvalidParameterError(
                f"A table description alone is generated offline from the knowledge base, or "
                f"by an LLM with -s llm; the {synthesizer} synthesizer and its -p parameters "
                "need a REAL table to fit."
            )
        write_from_schema(
            str(schema),
            out_path,
            rows,
            seed=seed,
            report=None,
            overwrite=overwrite,
            llm=llm,
        )
