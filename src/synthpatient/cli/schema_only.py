"""The ``from-schema`` command: a table described by its columns alone, generated offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
