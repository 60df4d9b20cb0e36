"""The synthesis commands: generate, fit, sample, schema and demo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from synthpatient.cli._errors import err, handled
from synthpatient.cli._shared import (
    _check_rows,
    _conditions,
    _endpoint,
    _fitting_status,
    _joined,
    _load_data,
    _report_generation,
    _report_privacy,
    _synthesizer_params,
    _unit,
    _with_key,
    _written,
)
from synthpatient.cli.app import (
    Categorical,
    Conditions,
    Delta,
    Epsilon,
    Identifiers,
    Overwrite,
    Params,
    PatientKey,
    PatientsTable,
    RealTable,
    Rows,
    Scheduler,
    SchemaOpt,
    Seed,
    SynthesizerOpt,
    app,
    out,
)
from synthpatient.errors import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd


#: generate's REAL may be left out when --schema names a table description
OptionalRealTable = Annotated[
    Path | None,
    typer.Argument(
        metavar="[REAL]",
        help="The real table: CSV, TSV or Parquet. Leave it out and give --schema with a table "
        "description to generate from the description alone (as from-schema does).",
        show_default=False,
    ),
]
GenerateSchemaOpt = Annotated[
    Path | None,
    typer.Option(
        "--schema",
        help="With REAL: a schema JSON file to use instead of inferring one. Without REAL: a "
        "table description (YAML/JSON, or a bundled one: admissions) to generate from alone.",
    ),
]


@app.command()
def generate(
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output table; its extension picks the format (.csv, .tsv, .parquet...).",
        ),
    ],
    data: OptionalRealTable = None,  # after --out only because Python wants defaults last
    rows: Rows = 1000,
    synthesizer: SynthesizerOpt = "copula",
    seed: Seed = None,
    condition: Conditions = None,
    schema: GenerateSchemaOpt = None,
    identifier: Identifiers = None,
    categorical: Categorical = None,
    patients_table: PatientsTable = None,
    patient_key: PatientKey = None,
    epsilon: Epsilon = None,
    delta: Delta = None,
    param: Params = None,
    overwrite: Overwrite = False,
) -> None:
    """Fit a synthesizer on the REAL table and write --rows synthetic rows to --out.

    Without REAL, --schema DESCRIPTION generates from a table description alone (offline, or
    through an LLM with -s llm -p base_url=URL -p model=NAME), as from-schema does.
    """
    if data is None:
        from synthpatient.cli.schema_only import generate_from_description

        real_only = (
            condition,
            identifier,
            categorical,
            patients_table,
            patient_key,
            epsilon,
            delta,
        )
        generate_from_description(
            schema, out_path, rows, seed, synthesizer, param, overwrite, real_only
        )
        return
    with handled():
        from synthpatient._io import check_output_path
        from synthpatient._memory import check_rows_fit
        from synthpatient.exporters import Table, exporter_for_path

        _check_rows(rows)
        exporter = exporter_for_path(out_path)  # the extension picks the format, before any work
        check_output_path(out_path, overwrite=overwrite)
        conditions = _conditions(condition)
        model, seed = _synthesizer_params(
            synthesizer,
            seed,
            epsilon=epsilon,
            delta=delta,
            params=_with_key(synthesizer, param, patient_key),
        )
        real, table_schema = _load_data(
            data, schema, identifier, categorical, patients_table, patient_key
        )
        check_rows_fit(rows, len(table_schema), label="--rows")  # before fitting, not after
        with _fitting_status(model, synthesizer, len(real)):
            model.fit(real, schema=table_schema)
        _report_privacy(model)
        with err.status(f"Sampling {_unit(model, rows)}..."), _reported_if_stopped(model):
            synthetic = model.sample(rows, conditions=conditions)
        exporter.export(Table(synthetic, model.schema_), out_path, overwrite=overwrite)
        out.print(
            f"Wrote {_written(model, rows, synthetic)} to {out_path} "
            f"(synthesizer {synthesizer}, seed {seed})."
        )
        _report_generation(model)


@contextmanager
def _reported_if_stopped(model: Any) -> Iterator[None]:
    """A run that stops early (an LLM server that refused every request) still prints its
    report (requests, retries, rows got) before the one-line error."""
    from synthpatient.errors import SynthPatientError

    try:
        yield
    except SynthPatientError:
        _report_generation(model)
        raise


@app.command()
def fit(
    data: RealTable,
    model_path: Annotated[Path, typer.Option("--model", "-m", help="Folder to save the model in.")],
    synthesizer: SynthesizerOpt = "copula",
    seed: Seed = None,
    schema: SchemaOpt = None,
    identifier: Identifiers = None,
    categorical: Categorical = None,
    patients_table: PatientsTable = None,
    patient_key: PatientKey = None,
    epsilon: Epsilon = None,
    delta: Delta = None,
    param: Params = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            metavar="ENGINE",
            help="When REAL is a folder of Parquet partitions (larger than memory): local or "
            "dask runs the passes over them in this process or on Dask.",
        ),
    ] = "local",
    scheduler: Scheduler = None,
    sample_rows: Annotated[
        int,
        typer.Option(
            "--sample-rows",
            metavar="N",
            min=10,
            help="When REAL is a folder: the uniform sample's rows (what the copula learns on "
            "a sample, and the whole fit of any other synthesizer).",
        ),
    ] = 200_000,
    overwrite: Overwrite = False,
) -> None:
    """Fit a synthesizer on the REAL table and save it to a model folder (never a pickle).

    REAL may be a folder of Parquet partitions larger than memory: the copula is then fitted
    in passes over every row, any other synthesizer on a uniform sample."""
    with handled():
        from synthpatient._io import check_output_path

        check_output_path(model_path, overwrite=overwrite, kind="folder")
        model, seed = _synthesizer_params(
            synthesizer,
            seed,
            epsilon=epsilon,
            delta=delta,
            params=_with_key(synthesizer, param, patient_key),
        )
        if data.is_dir():
            if identifier or categorical or patients_table is not None:
                raise InvalidParameterError(
                    "With a folder of partitions, give column kinds with --schema (write one "
                    "with `synthpatient schema` on a partition), not --identifier, "
                    "--categorical or --patients-table."
                )
            _fit_partitioned(data, model, model_path, schema, engine, scheduler, sample_rows)
            model.save(model_path, overwrite=overwrite)
            out.print(f"Saved the fitted {synthesizer} model to {model_path} (seed {seed}).")
            return
        real, table_schema = _load_data(
            data, schema, identifier, categorical, patients_table, patient_key
        )
        with _fitting_status(model, synthesizer, len(real)):
            model.fit(real, schema=table_schema)
        model.save(model_path, overwrite=overwrite)
        out.print(f"Saved the fitted {synthesizer} model to {model_path} (seed {seed}).")
        _report_privacy(model)


def _fit_partitioned(
    data: Path,
    model: Any,
    model_path: Path,
    schema: Path | None,
    engine: str,
    scheduler: str | None,
    sample_rows: int,
) -> None:
    """``fit`` on a folder of Parquet partitions (see ``synthpatient.scale.fit_partitioned``)."""
    from synthpatient.scale import fit_partitioned
    from synthpatient.schema import Schema

    if engine not in ("local", "dask"):
        raise InvalidParameterError(f"--engine must be local or dask; got {engine!r}.")
    table_schema = Schema.from_json(schema) if schema is not None else None
    with err.status(f"Fitting {model.key} in passes over {data}..."):
        fit_partitioned(
            data,
            model,
            schema=table_schema,
            sample_rows=sample_rows,
            engine=engine,  # type: ignore[arg-type]
            scheduler=scheduler,
        )
    report = getattr(model, "fit_report_", None)
    if report is not None:
        out.print(
            f"Learned from {report.rows:,} rows in {report.partitions} partitions; on a uniform "
            f"sample of {report.sample_rows:,}: {', '.join(report.learned_on_sample)}."
        )


@app.command()
def sample(
    model_path: Annotated[
        Path, typer.Argument(metavar="MODEL", help="A model folder written by `fit`.")
    ],
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
    condition: Conditions = None,
    llm_base_url: Annotated[
        str | None,
        typer.Option(
            "--llm-base-url",
            metavar="URL",
            help="For a model that talks to an LLM server: the server to use. A "
            "model folder never chooses where requests and your key go.",
        ),
    ] = None,
    llm_key_env: Annotated[
        str | None,
        typer.Option(
            "--llm-key-env",
            metavar="NAME",
            help="Environment variable holding that server's API key (never "
            "printed); SYNTHPATIENT_LLM_API_KEY by default.",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            metavar="ENGINE",
            help="local or dask: write --out as a folder of Parquet partitions (one file per "
            "--partition-size rows, a _manifest.json with checksums; a stopped run resumes), "
            "in this process or on Dask. Without it, one table in memory.",
        ),
    ] = None,
    partition_size: Annotated[
        int,
        typer.Option("--partition-size", metavar="N", help="Rows per partition with --engine."),
    ] = 100_000,
    scheduler: Scheduler = None,
    overwrite: Overwrite = False,
) -> None:
    """Sample --rows rows from a MODEL folder saved by `fit`."""
    with handled():
        from synthpatient._io import check_output_path
        from synthpatient._memory import check_rows_fit
        from synthpatient._random import fresh_seed
        from synthpatient.exporters import Table, exporter_for_path
        from synthpatient.synthesizers import Synthesizer

        _check_rows(rows)
        if engine is not None:
            if condition or llm_base_url is not None or llm_key_env is not None:
                from synthpatient.errors import InvalidParameterError

                raise InvalidParameterError(
                    "--engine does not take --condition or LLM options yet: sample without "
                    "--engine for those."
                )
            _sample_partitioned(
                model_path, out_path, rows, seed, engine, partition_size, scheduler, overwrite
            )
            return
        exporter = exporter_for_path(out_path)  # the extension picks the format, before any work
        check_output_path(out_path, overwrite=overwrite)
        conditions = _conditions(condition)
        model = Synthesizer.load(model_path)
        if llm_base_url is not None or llm_key_env is not None:
            model = Synthesizer.load(
                model_path, **_endpoint(type(model).endpoint_params, llm_base_url, llm_key_env)
            )
        check_rows_fit(rows, len(model.schema_), label="--rows")
        _report_privacy(model)
        seed = fresh_seed() if seed is None else seed
        with err.status(f"Sampling {_unit(model, rows)}..."), _reported_if_stopped(model):
            synthetic = model.sample(rows, conditions=conditions, seed=seed)
        exporter.export(Table(synthetic, model.schema_), out_path, overwrite=overwrite)
        out.print(f"Wrote {_written(model, rows, synthetic)} to {out_path} (seed {seed}).")
        _report_generation(model)


def _sample_partitioned(
    model_path: Path,
    out_path: Path,
    rows: int,
    seed: int | None,
    engine: str,
    partition_size: int,
    scheduler: str | None,
    overwrite: bool,
) -> None:
    """``sample --engine``: a partitioned Parquet dataset (see :mod:`synthpatient.scale`)."""
    from synthpatient.errors import InvalidParameterError
    from synthpatient.scale import sample_partitioned

    if engine not in ("local", "dask"):
        raise InvalidParameterError(f"--engine must be local or dask; got '{engine}'.")
    seed = 0 if seed is None else seed

    def progress(done: int, total: int) -> None:
        err.print(f"partition {done}/{total} written")

    manifest = sample_partitioned(
        model_path,
        rows,
        out_path,
        partition_size=partition_size,
        seed=seed,
        engine=engine,  # type: ignore[arg-type]  # checked just above
        scheduler=scheduler,
        overwrite=overwrite,
        progress=progress,
    )
    from synthpatient.scale import write_model_records

    # a data card for every dataset, a partitioned one included
    records = write_model_records(out_path, manifest, model_path, engine=engine)
    out.print(
        f"Wrote {manifest.rows:,} rows in {manifest.n_partitions} Parquet partition(s) to "
        f"{out_path} (seed {seed}; {out_path / '_manifest.json'} lists them with checksums). "
        f"Data card and provenance: {records['datacard']}, {records['provenance']}."
    )


@app.command("schema")
def schema_command(
    data: RealTable,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Schema JSON file to write.")],
    include_observed: Annotated[
        bool,
        typer.Option(
            "--include-observed", help="Keep real minima, maxima and category lists in the file."
        ),
    ] = False,
    show_categories: Annotated[
        bool,
        typer.Option(
            "--show-categories",
            help="Also print the categories observed in each categorical "
            "column (real values: off by default).",
        ),
    ] = False,
    identifier: Identifiers = None,
    categorical: Categorical = None,
    patients_table: PatientsTable = None,
    patient_key: PatientKey = None,
    overwrite: Overwrite = False,
) -> None:
    """Show how each column of the REAL table is read, and save the schema as JSON.

    Prints every column's kind and the reason for it, then writes the schema to edit by hand
    and pass back with --schema. Values of identifier and free-text columns are never
    printed."""
    with handled():
        from rich.text import Text

        from synthpatient._io import check_output_path, read_table
        from synthpatient.schema import explain_schema

        check_output_path(out_path, overwrite=overwrite)
        frame = read_table(data)
        if patients_table is not None:
            frame = _joined(read_table(patients_table), frame, patient_key)
        table_schema, decisions = explain_schema(
            frame, identifiers=identifier or (), categorical=categorical or ()
        )
        table = Table(title=f"Schema of {data.name}: how each column is treated")
        for heading in ("column", "kind", "identifier type", "flags", "reason"):
            table.add_column(heading)
        if show_categories:
            table.add_column("observed categories")
        for decision in decisions:
            marks = ", ".join(
                m
                for m, on in (("unsure", decision.uncertain), ("patient key", decision.patient_key))
                if on
            )
            # Text cells: a column name or reason is shown as written, never read as markup
            row = [
                Text(decision.name),
                decision.kind,
                decision.identifier_type or "",
                marks,
                Text(decision.reason),
            ]
            if show_categories:
                row.append(Text(_category_list(table_schema[decision.name])))
            table.add_row(*row)
        out.print(table)
        key = patient_key or next((d.name for d in decisions if d.patient_key), None)
        if key is not None:
            out.print(
                Text(
                    f"Patient key: {key} (several rows per patient; uniqueness is "
                    "judged per patient)."
                )
            )
            _print_layout(frame, key)
        unsure = [d.name for d in decisions if d.uncertain]
        if unsure:
            out.print(
                Text(
                    f"Unsure: {', '.join(unsure)}. Check them; use --identifier or "
                    "--categorical, or edit the schema file."
                )
            )
        table_schema = _with_relations(frame, table_schema)
        table_schema.to_json(out_path, include_observed=include_observed)
        out.print(f"Wrote the schema of {len(table_schema)} columns to {out_path}.")


def _with_relations(frame: pd.DataFrame, schema: Any) -> Any:
    """The relations every synthesizer keeps (found in the rows, each with the share of rows
    that satisfy it), printed and recorded in the schema file, where they can be deleted or
    added before passing it back with --schema."""
    from rich.text import Text

    from synthpatient.relations import discover_relations

    relations = discover_relations(frame, schema.complete(frame))
    if relations:
        table = Table(title="Relations between columns (kept in every synthetic row)")
        for heading in ("relation", "kind", "share of real rows"):
            table.add_column(heading)
        for relation in relations:
            share = "-" if relation.share is None else f"{relation.share:.3f}"
            table.add_row(Text(relation.text), relation.kind, share)
        out.print(table)
    else:
        out.print("No relation between columns was found (none is enforced).")
    return schema.with_relations(relations)


def _print_layout(frame: pd.DataFrame, key: str) -> None:
    """How the sequential synthesizer would read the table: the time column and which columns
    move to the patients table (constant within a patient) - names and reasons, never values."""
    from rich.text import Text

    from synthpatient.errors import DataError
    from synthpatient.longitudinal import infer_layout

    try:
        layout = infer_layout(frame, key=key)
    except DataError as exc:
        out.print(Text(f"Not read as patient timelines: {exc}"))
        return
    time = "row order" if layout.time is None else f"{layout.time} ({layout.time_kind})"
    table = Table(title="As patient timelines (the sequential synthesizer)")
    for heading in ("column", "role", "reason"):
        table.add_column(heading)
    roles = [(layout.key, "patient key")]
    roles += [(layout.time, "time")] if layout.time is not None else []
    roles += [(c, "per patient") for c in layout.static]
    roles += [(c, "per visit") for c in layout.varying]
    for name, role in roles:
        table.add_row(Text(name), role, Text(layout.reasons.get(name, "")))
    out.print(table)
    out.print(
        Text(
            f"Time: {time}. {len(layout.static)} columns constant within a patient go to the "
            f"patients table; {len(layout.varying)} change from visit to visit."
        )
    )


def _category_list(spec: Any, limit: int = 50) -> str:
    """A learned categorical column's observed categories (the only values ever printed)."""
    if spec.kind != "categorical" or not spec.categories:
        return ""
    shown = ", ".join(map(str, spec.categories[:limit]))
    more = len(spec.categories) - limit
    return f"{shown} (and {more} more)" if more > 0 else shown


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the demo's outputs.")
    ] = Path("synthpatient-demo"),
    rows: Rows = 1000,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the split, the model and the sample.")
    ] = 0,
    overwrite: Overwrite = False,
) -> None:
    """The main job on bundled data: fit, sample, evaluate, and write it all to a folder.

    Fits the copula on the bundled diabetes data (a quarter held out), then writes the
    synthetic patients, the model, the schema, a quality summary, the evaluation report and
    a data card into --out."""
    with handled():
        from synthpatient.demo import run_demo

        _check_rows(rows)
        with err.status("Fitting on the bundled diabetes data and sampling..."):
            result = run_demo(out_dir, n_rows=rows, seed=seed, overwrite=overwrite)
        summary = result["quality"]
        n_train, n_holdout = summary["n_real_rows"], summary["n_holdout_rows"]
        if result["report"] is not None:
            from synthpatient.cli.quality import _show_summary

            title = (
                f"{rows} synthetic patients against the {n_train} real ones they were learned "
                f"from ({n_holdout} more held out for privacy)"
            )
            _show_summary(result["report"], 1, title=title, notices=False)
        else:  # no evaluation without its extra: the quality summary alone
            table = Table(title=f"Quality (SDMetrics QualityReport) against {n_train} real rows")
            table.add_column("measure")
            table.add_column("score", justify="right")
            for key in ("score", "column_shapes", "column_pair_trends"):
                table.add_row(key.replace("_", " "), f"{summary[key]:.3f}")
            out.print(table)
        for name, path in result["files"].items():
            out.print(f"  {name:<10} {path}")
        out.print(f"Demo outputs written to {out_dir.resolve()}")
        if "report" in result["files"]:
            report_path = result["files"]["report"]
            out.print(f"Open {report_path} in a browser for what is behind each score.")
