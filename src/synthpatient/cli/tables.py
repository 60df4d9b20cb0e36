"""``synthpatient tables ...``: a patients table with several event tables (labs, diagnoses...).

The tables and how they join are named by a relation file (``tables.json``, see
:class:`synthpatient.longitudinal.PatientTables`); every command reads one and writes one, so
an output folder is itself a valid input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from synthpatient.cli._errors import err, handled
from synthpatient.cli._help import Typer
from synthpatient.cli._shared import _conditions
from synthpatient.cli.app import Conditions, Overwrite, Seed, app, out

if TYPE_CHECKING:
    from synthpatient.evaluation.tables import TablesReport
    from synthpatient.longitudinal import PatientTables

tables_app = Typer(
    help=(
        "A patients table and several event tables (visits, labs, diagnoses), joined by a "
        "relation file: tables.json naming the patient key, the patients file and each event "
        "file with its time column."
    ),
    no_args_is_help=True,
)
app.add_typer(tables_app, name="tables")

Relation = Annotated[
    Path,
    typer.Argument(
        metavar="RELATION",
        help='The relation file, e.g. {"patient_key": "id", "patients": "patients.csv", '
        '"events": {"labs": {"file": "labs.csv", "time": "days"}}}; paths relative to it.',
    ),
]
OutFolder = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        metavar="FOLDER",
        help="Folder to write: patients, one file per event table and tables.json.",
    ),
]
Patients = Annotated[
    int, typer.Option("--patients", "-n", metavar="N", help="Number of patients to generate.")
]
Parquet = Annotated[bool, typer.Option("--parquet", help="Write Parquet files instead of CSV.")]


def _read(relation: Path) -> PatientTables:
    from synthpatient.longitudinal import PatientTables

    return PatientTables.read(relation)


@tables_app.command("schema")
def schema(relation: Relation) -> None:
    """Show how the tables were read: the patient key, each table's time column, its columns
    and how many events patients have (column names and counts, never a value)."""
    with handled():
        tables = _read(relation)
        out.print(
            f"{tables.n_patients} patients (key '{tables.key}'); patients table columns: "
            + ", ".join(c for c in tables.patients.columns if c != tables.key)
        )
        view = Table(title="Event tables")
        for column in ("table", "time", "rows", "events per patient", "columns", "identifiers"):
            view.add_column(column)
        for name in tables.names:
            table = tables.table(name)
            counts = table.events_per_patient()
            view.add_row(
                name,
                f"{table.layout.time or 'row order'} ({table.layout.time_kind})",
                str(len(table.events)),
                f"median {counts.median():g}, max {counts.max()}, none {int((counts == 0).sum())}",
                ", ".join(table.layout.varying),
                ", ".join(table.layout.identifiers) or "-",
            )
        out.print(view)
        for line in tables.repairs:
            out.print(f"Repaired: {line}")


@tables_app.command("generate")
def generate(
    relation: Relation,
    out_path: OutFolder,
    patients: Patients = 1000,
    seed: Seed = None,
    condition: Conditions = None,
    model_path: Annotated[
        Path | None,
        typer.Option("--save-model", metavar="FOLDER", help="Also save the fitted model here."),
    ] = None,
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate/--no-evaluate",
            help="Compare the synthetic tables with the real ones and print the scores.",
        ),
    ] = True,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """Fit the multi-table model on RELATION's tables and write --patients new patients with
    their events in every table to --out (ids and identifiers are new)."""
    with handled():
        from synthpatient._io import check_output_path
        from synthpatient.synthesizers.multi_table import MultiTableSynthesizer

        _check_patients(patients)
        check_output_path(out_path, overwrite=overwrite, kind="folder")
        if model_path is not None:
            check_output_path(model_path, overwrite=overwrite, kind="folder")
        real = _read(relation)
        model = MultiTableSynthesizer(seed=seed)
        with err.status(f"Fitting on {real.n_patients} patients and {len(real.names)} tables..."):
            model.fit(real)
        if model_path is not None:
            model.save(model_path, overwrite=overwrite)
        with err.status(f"Sampling {patients} patients..."):
            synthetic = model.sample(patients, conditions=_conditions(condition))
        synthetic.write(out_path, overwrite=overwrite, suffix=".parquet" if parquet else ".csv")
        counts = ", ".join(f"{len(synthetic.events(n))} {n} rows" for n in synthetic.names)
        out.print(f"Wrote {patients} patients ({counts}) to {out_path}.")
        if evaluate:
            from synthpatient.evaluation.tables import evaluate_tables

            with err.status("Evaluating..."):
                report = evaluate_tables(real, synthetic, metrics=_QUICK)
            _print_report(report)


@tables_app.command("sample")
def sample(
    model_path: Annotated[
        Path, typer.Argument(metavar="MODEL", help="A folder saved by 'tables generate'.")
    ],
    out_path: OutFolder,
    patients: Patients = 1000,
    seed: Seed = None,
    condition: Conditions = None,
    parquet: Parquet = False,
    overwrite: Overwrite = False,
) -> None:
    """Sample --patients new patients from a saved multi-table model."""
    with handled():
        from synthpatient._io import check_output_path
        from synthpatient.synthesizers.multi_table import MultiTableSynthesizer

        _check_patients(patients)
        check_output_path(out_path, overwrite=overwrite, kind="folder")
        model = MultiTableSynthesizer.load(model_path)
        synthetic = model.sample(patients, conditions=_conditions(condition), seed=seed)
        synthetic.write(out_path, overwrite=overwrite, suffix=".parquet" if parquet else ".csv")
        out.print(f"Wrote {patients} patients to {out_path}.")


@tables_app.command("evaluate")
def evaluate(
    real_relation: Annotated[
        Path, typer.Argument(metavar="REAL", help="Relation file of the real tables.")
    ],
    synthetic_relation: Annotated[
        Path, typer.Argument(metavar="SYNTHETIC", help="Relation file of the synthetic tables.")
    ],
    holdout: Annotated[
        Path | None,
        typer.Option(
            "--holdout",
            metavar="RELATION",
            help="Real patients the model never saw: privacy per patient is measured on them.",
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Also write every score as JSON.")
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Compare synthetic tables with real ones: the patients table, each event table at the
    patient level, and how the tables relate (counts, first-event order)."""
    with handled():
        import json

        from synthpatient._io import check_output_path, write_text_atomic
        from synthpatient.evaluation.tables import evaluate_tables

        if json_path is not None:
            check_output_path(json_path, overwrite=overwrite)
        real, synthetic = _read(real_relation), _read(synthetic_relation)
        unseen = None if holdout is None else _read(holdout)
        with err.status("Evaluating..."):
            report = evaluate_tables(real, synthetic, holdout=unseen)
        _print_report(report)
        if json_path is not None:
            text = json.dumps(report.to_dict(), indent=2, default=str)
            write_text_atomic(json_path, text, overwrite=overwrite)
            out.print(f"Wrote the scores to {json_path}.")


@tables_app.command("dataset")
def dataset(
    key: Annotated[str, typer.Argument(metavar="NAME", help="A bundled multi-table dataset.")],
    out_path: OutFolder,
    overwrite: Overwrite = False,
) -> None:
    """Write a bundled multi-table dataset (nafld: patients, labs, diagnoses) as a folder with
    its tables.json, ready for the other tables commands."""
    with handled():
        from synthpatient import datasets

        meta = datasets.tables_info(key)
        tables = datasets.load_tables(key)
        tables.write(out_path, overwrite=overwrite)
        out.print(
            f"Wrote {meta.title} to {out_path} (relation: {out_path / 'tables.json'}). "
            f"Source: {meta.source} Licence: {meta.licence}"
        )


#: what ``tables generate`` prints after writing: fast, and what a user checks first
_QUICK = ["quality", "events_per_patient", "event_gaps", "lag1_correlation", "static_constancy"]


def _check_patients(n: int) -> None:
    from synthpatient.errors import InvalidParameterError

    if n < 1:
        raise InvalidParameterError(f"--patients must be at least 1; got {n}.")


def _print_report(report: TablesReport) -> None:
    view = Table(title="How close the synthetic tables are (1 is identical)")
    for column in ("table", "metric", "score"):
        view.add_column(column)
    for row in report.summary.itertuples():
        score = "-" if row.score != row.score else f"{row.score:.3f}"
        view.add_row(str(row.table), str(row.metric), score)
    out.print(view)
    if not report.cross.empty:
        cross = Table(title="Across tables (real vs synthetic)")
        for column in ("measure", "tables", "real", "synthetic"):
            cross.add_column(column)
        for row in report.cross.itertuples():
            cross.add_row(row.metric, row.tables, f"{row.real:.3f}", f"{row.synthetic:.3f}")
        out.print(cross)
