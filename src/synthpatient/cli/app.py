"""Command definitions. Each command parses options, calls the public API, and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="synthpatient",
    help="Realistic synthetic patient data: fit a generator on a real table, sample new patients.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="Bundled real clinical datasets.", no_args_is_help=True)
synthesizers_app = typer.Typer(help="Available synthesizers.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(synthesizers_app, name="synthesizers")
out = Console(highlight=False)

Rows = Annotated[
    int,
    typer.Option(
        "--rows",
        "-n",
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
        help="COLUMN=VALUE or COLUMN=LOW..HIGH (repeatable), e.g. sex=2, age=40..65.",
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
SchemaOpt = Annotated[
    Path | None,
    typer.Option("--schema", help="A schema JSON file to use instead of inferring one."),
]
Identifiers = Annotated[
    list[str] | None,
    typer.Option(
        "--identifier", help="Treat this column as an identifier: never learned, regenerated."
    ),
]
Categorical = Annotated[
    list[str] | None, typer.Option("--categorical", help="Treat this column as categorical.")
]
PatientsTable = Annotated[
    Path | None,
    typer.Option(
        "--patients-table",
        help="A patients table (one row per patient) for DATA given as an events table "
        "(several rows per patient): the two are joined on --patient-key.",
    ),
]
PatientKey = Annotated[
    str | None,
    typer.Option(
        "--patient-key",
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
        "--param", "-p", help="Synthesizer parameter KEY=VALUE (repeatable), e.g. -p steps=2000."
    ),
]


def main() -> None:
    """Console-script entry point."""
    app()
