"""The catalogue commands: bundled datasets and available synthesizers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from synthpatient.cli._errors import handled
from synthpatient.cli.app import (
    Overwrite,
    datasets_app,
    out,
    synthesizers_app,
)


@datasets_app.command("list")
def datasets_list() -> None:
    """List the bundled datasets."""
    with handled():
        from synthpatient import datasets

        table = Table()
        for col in ("key", "rows", "columns", "target", "title"):
            table.add_column(col)
        for info in datasets.list_datasets():
            table.add_row(
                info.key, str(info.n_rows), str(info.n_columns), info.target or "-", info.title
            )
        out.print(table)


@datasets_app.command("export")
def datasets_export(
    key: Annotated[str, typer.Argument(help="Dataset key, see `datasets list`.")],
    out_path: Annotated[Path, typer.Option("--out", "-o")],
    overwrite: Overwrite = False,
) -> None:
    """Write a bundled dataset to a CSV or Parquet file."""
    with handled():
        from synthpatient import datasets
        from synthpatient.exporters import exporter_for_path

        exporter_for_path(out_path).export(datasets.load(key), out_path, overwrite=overwrite)
        out.print(f"Wrote dataset {key} to {out_path}.")


@synthesizers_app.command("list")
def synthesizers_list() -> None:
    """List the registered synthesizers and what they can do."""
    with handled():
        from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class

        table = Table()
        for col in ("key", "class", "conditions", "missing values", "privacy", "extra"):
            table.add_column(col)
        for key in available_synthesizers():
            klass = get_synthesizer_class(key)
            caps = klass.capabilities
            conditions = "native" if caps.native_conditions else "by rejection"
            privacy = (
                "always DP (--epsilon)"
                if caps.differentially_private
                else "DP with --epsilon"
                if caps.accepts_epsilon
                else "-"
            )
            table.add_row(
                key,
                klass.__name__,
                conditions,
                "yes" if caps.handles_missing else "no",
                privacy,
                caps.extra or "core",
            )
        out.print(table)
