"""The catalogue commands: bundled datasets and available synthesizers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from synthpatient.cli._errors import handled
from synthpatient.cli.app import (
    Overwrite,
    datasets_app,
    out,
    synthesizers_app,
)

DatasetKey = Annotated[
    str,
    typer.Argument(metavar="DATASET", help="A bundled dataset's key, see `datasets list`."),
]


@datasets_app.command("list")
def datasets_list() -> None:
    """List the bundled datasets, with their sources and licences."""
    with handled():
        from synthpatient import datasets

        table = Table()
        for col in ("key", "rows", "patients", "columns", "target", "title"):
            table.add_column(col, no_wrap=col != "title", overflow="fold")
        for info in datasets.list_datasets():
            table.add_row(
                info.key,
                str(info.n_rows),
                str(info.n_patients),
                str(info.n_columns),
                info.target or "-",
                info.title,
            )
        out.print(table)
        for info in datasets.list_datasets():
            out.print(Text(f"\n{info.key}", style="bold"))
            out.print(Padding(Text(f"Source: {info.source}"), (0, 0, 0, 2)))
            out.print(Padding(Text(f"Licence: {info.licence}"), (0, 0, 0, 2)))


@datasets_app.command("export")
def datasets_export(
    key: DatasetKey,
    out_path: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Table to write; its extension picks the format (.csv, .parquet)."
        ),
    ],
    overwrite: Overwrite = False,
) -> None:
    """Write a bundled dataset to a CSV or Parquet file."""
    with handled():
        from synthpatient import datasets
        from synthpatient.exporters import exporter_for_path

        exporter_for_path(out_path).export(datasets.load(key), out_path, overwrite=overwrite)
        out.print(f"Wrote dataset {key} to {out_path}.")


@datasets_app.command("split")
def datasets_split(
    key: DatasetKey,
    train: Annotated[
        Path,
        typer.Option("--train", help="Table for the rows a generator may learn from."),
    ] = Path("train.csv"),
    holdout: Annotated[
        Path,
        typer.Option(
            "--holdout",
            help="Table for the held-out rows: patients the generator never sees, for the "
            "privacy tests of `evaluate --holdout`.",
        ),
    ] = Path("holdout.csv"),
    holdout_share: Annotated[
        float,
        typer.Option("--holdout-share", help="Share of the patients held out (0 to 1)."),
    ] = 0.25,
    seed: Annotated[
        int, typer.Option("--seed", help="The same seed gives the same split (the demo's: 0).")
    ] = 0,
    overwrite: Overwrite = False,
) -> None:
    """Split a bundled dataset into training and held-out patients (two tables).

    A dataset with several rows per patient is split by patient."""
    with handled():
        from synthpatient import datasets
        from synthpatient._io import check_output_path
        from synthpatient.errors import InvalidParameterError
        from synthpatient.exporters import exporter_for_path

        if train.resolve() == holdout.resolve():
            raise InvalidParameterError("--train and --holdout must be different files.")
        writers = [(exporter_for_path(path), path) for path in (train, holdout)]
        for _, path in writers:  # both checked before either is written
            check_output_path(path, overwrite=overwrite)
        tables = datasets.split(key, holdout_share=holdout_share, seed=seed)
        for (exporter, path), table in zip(writers, tables, strict=True):
            exporter.export(table, path, overwrite=overwrite)
        out.print(
            f"Wrote {len(tables[0])} training rows to {train} and {len(tables[1])} held-out "
            f"rows to {holdout} (dataset {key}, seed {seed})."
        )


@synthesizers_app.command("list")
def synthesizers_list() -> None:
    """List the registered synthesizers, what they can do and whether their extra is
    installed."""
    with handled():
        from synthpatient._install import extra_installed, install_command
        from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class

        headers = ("key", "class", "extra", "conditions", "missing", "privacy")
        rows, missing = [], []
        for key in available_synthesizers():
            klass = get_synthesizer_class(key)
            caps = klass.capabilities
            privacy = (
                "always DP"
                if caps.differentially_private
                else "DP with --epsilon"
                if caps.accepts_epsilon
                else "-"
            )
            if caps.extra is None:
                extra = "core"
            elif extra_installed(caps.extra):
                extra = f"{caps.extra}, installed"
            else:
                extra = f"{caps.extra}, NOT installed"
                missing.append(caps.extra)
            conditions = "native" if caps.native_conditions else "by rejection"
            rows.append(
                (key, klass.__name__, extra, conditions, "yes" if caps.handles_missing else "no")
                + (privacy,)
            )
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
        for i, heading in enumerate(headers):
            # names are never cut, and no column is narrower than its longest word, so a
            # narrow terminal wraps cells between words instead of cutting them short
            longest = max(len(word) for row in [headers, *rows] for word in row[i].split())
            table.add_column(heading, no_wrap=i < 2, min_width=longest)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        for extra in dict.fromkeys(missing):
            out.print(f"To install the {extra} extra: {install_command(extra)}", markup=False)
