"""Command definitions. Each command parses options, calls the public API, and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from synthpatient.cli._help import Typer

# the first paragraph is what `synthpatient --help` shows; the commands are listed below it
HELP = """Realistic synthetic patient data, offline.

From a real table: generate (fit and sample in one go), or fit once and sample many times;
schema shows how each column is read; tables does the same for a patients table with several
event tables (labs, diagnoses...). From a description of the columns alone (no data):
from-schema. From a plain-English request: ask (one request) or chat (a conversation),
answered from a cited knowledge base. Check the result with evaluate;
compare every generator with benchmark; demo runs the main job on bundled data; serve starts
the web app; datasets and synthesizers list what is bundled and installed.
"""

app = Typer(
    name="synthpatient",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = Typer(
    help="Bundled real clinical datasets: list them, export one, split one into train and holdout.",
    no_args_is_help=True,
)
synthesizers_app = Typer(
    help="The registered synthesizers: what each can do and which extra it needs.",
    no_args_is_help=True,
)
app.add_typer(datasets_app, name="datasets")
app.add_typer(synthesizers_app, name="synthesizers")
out = Console(highlight=False)

Rows = Annotated[
    int,
    typer.Option(
        "--rows",
        "-n",
        metavar="N",
        help="Number of synthetic rows (>= 1); for a longitudinal synthesizer (sequential), "
        "the number of patients, each with their visits.",
    ),
]
Seed = Annotated[
    int | None, typer.Option("--seed", help="Seed: the same seed gives the same rows.")
]
Conditions = Annotated[
    list[str] | None,
    typer.Option(
        "--condition",
        "-c",
        metavar="COLUMN=VALUE",
        help="COLUMN=VALUE or COLUMN=LOW..HIGH, either end open (repeatable), e.g. age=40..65, "
        "bmi=30.., sex=f.",
    ),
]
RealTable = Annotated[
    Path,
    typer.Argument(metavar="REAL", help="The real table: CSV, TSV or Parquet."),
]
SynthesizerOpt = Annotated[
    str,
    typer.Option(
        "--synthesizer",
        "-s",
        metavar="NAME",
        # the registered ones, their extras and whether installed are added on --help
        help="The generator to fit; `synthpatient synthesizers list` says what each can do.",
    ),
]
# the LLM options of the commands that can use one (ask, chat, from-schema)
LlmModel = Annotated[
    str | None, typer.Option("--llm-model", metavar="NAME", help="The LLM's model name.")
]
LlmKeyEnv = Annotated[
    str,
    typer.Option(
        "--llm-key-env",
        metavar="NAME",
        help="Environment variable holding the API key (never printed).",
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="With --engine dask: a running Dask scheduler (tcp://host:8786); without it, a "
        "local cluster with one worker per core.",
    ),
]
SchemaOpt = Annotated[
    Path | None,
    typer.Option("--schema", help="A schema JSON file to use instead of inferring one."),
]
Identifiers = Annotated[
    list[str] | None,
    typer.Option(
        "--identifier",
        metavar="COLUMN",
        help="Treat this column as an identifier: never learned, regenerated (repeatable).",
    ),
]
Categorical = Annotated[
    list[str] | None,
    typer.Option(
        "--categorical", metavar="COLUMN", help="Treat this column as categorical (repeatable)."
    ),
]
PatientsTable = Annotated[
    Path | None,
    typer.Option(
        "--patients-table",
        help="A patients table (one row per patient) for REAL given as an events table "
        "(several rows per patient): the two are joined on --patient-key.",
    ),
]
PatientKey = Annotated[
    str | None,
    typer.Option(
        "--patient-key",
        metavar="COLUMN",
        help="The column that identifies the patient (found by itself when it repeats, or "
        "when it is the one column both tables share with one row per patient).",
    ),
]
Epsilon = Annotated[
    float | None,
    typer.Option(
        "--epsilon",
        help="Differential-privacy budget (> 0; 1 to 10 is usual) for ctgan, tvae, mst.",
    ),
]
Delta = Annotated[
    float | None,
    typer.Option(
        "--delta", help="Differential-privacy delta (below 1/rows); default chosen from the rows."
    ),
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="KEY=VALUE",
        help="Synthesizer parameter KEY=VALUE (repeatable), e.g. -p steps=2000.",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from synthpatient import __version__

        out.print(f"synthpatient {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    # the group's own options; the help text is HELP above
    pass


def main() -> None:
    """Console-script entry point."""
    app()
