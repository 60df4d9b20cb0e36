"""The quality commands: evaluate a synthetic table, benchmark the synthesizers."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from synthpatient.cli._errors import err, handled
from synthpatient.cli.app import (
    Overwrite,
    Scheduler,
    SchemaOpt,
    app,
    out,
)
from synthpatient.errors import InvalidParameterError

if TYPE_CHECKING:
    from synthpatient.benchmark import DeclaredSchema
    from synthpatient.evaluation.report import EvaluationReport
    from synthpatient.rules import RuleSet


# long: typer declares each option inline; the checks and the summary are the helpers below
@app.command()
def evaluate(
    real_path: Annotated[
        Path,
        typer.Argument(
            metavar="REAL", help="The real table the generator was fitted on (CSV, TSV, Parquet)."
        ),
    ],
    synthetic_path: Annotated[
        Path,
        typer.Argument(
            metavar="SYNTHETIC",
            help="The synthetic table to score, or a folder of Parquet partitions (such as "
            "`sample --engine dask` writes): fidelity then uses every row through mergeable "
            "summaries, the other metrics a uniform sample of --sample-rows rows.",
        ),
    ],
    holdout: Annotated[
        Path | None,
        typer.Option(
            "--holdout", help="Real rows the generator never saw (needed for the privacy tests)."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", metavar="COLUMN", help="Column to predict for ML utility."),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            "--rules",
            metavar="PACK|FILE",
            help="A rules YAML file, or a shipped pack name such as 'diabetes'.",
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML report here.")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write all scores as JSON here.")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat the stochastic parts K times.")] = 1,
    sensitive: Annotated[
        str | None,
        typer.Option(
            "--sensitive", metavar="COLUMN", help="Column for the attribute-inference risk."
        ),
    ] = None,
    flags: Annotated[
        Path | None,
        typer.Option(
            "--flags",
            help="Write the synthetic rows' rule flags (one True/False column per rule) here.",
        ),
    ] = None,
    patient_key: Annotated[
        str | None,
        typer.Option(
            "--patient-key",
            metavar="COLUMN",
            help="Column that identifies the patient in a table with several rows per patient "
            "(found by itself when it repeats): adds patient-level metrics and privacy.",
        ),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            "--time-column",
            metavar="COLUMN",
            help="Column that orders a patient's rows (a date or a day count).",
        ),
    ] = None,
    schema: SchemaOpt = None,
    sample_rows: Annotated[
        int,
        typer.Option(
            "--sample-rows",
            metavar="N",
            min=1,
            help="With a partitioned SYNTHETIC folder: rows of the uniform sample that "
            "privacy, utility and the other non-fidelity metrics use.",
        ),
    ] = 50_000,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            metavar="ENGINE",
            help="With a partitioned SYNTHETIC folder: local or dask runs the passes over its "
            "partitions in this process or on Dask.",
        ),
    ] = "local",
    scheduler: Scheduler = None,
    overwrite: Overwrite = False,
) -> None:
    """Score a SYNTHETIC table against the REAL one it was learned from.

    Fidelity, utility, privacy, clinical rules and representation (and, for tables with
    several rows per patient, patient timelines), each with a verdict."""
    with handled():
        from synthpatient._io import read_table, write_text_atomic
        from synthpatient.evaluation.evaluate import evaluate as run_evaluation
        from synthpatient.schema import Schema

        _check_outputs(report, json_path, flags, rules=rules, overwrite=overwrite)
        real = read_table(real_path)
        partitioned = synthetic_path.is_dir()
        if engine not in ("local", "dask"):
            raise InvalidParameterError(f"--engine must be local or dask; got {engine!r}.")
        if partitioned and flags is not None:
            raise InvalidParameterError(
                "--flags needs one synthetic table, not a folder of partitions."
            )
        synthetic = None if partitioned else read_table(synthetic_path)
        held = read_table(holdout) if holdout is not None else None
        rule_set = _rules(rules) if rules is not None else None
        table_schema = Schema.from_json(schema) if schema is not None else None
        with err.status("Evaluating..."):
            if partitioned:
                from synthpatient.scale import evaluate_partitioned

                run_evaluation = functools.partial(
                    evaluate_partitioned,
                    sample_rows=sample_rows,
                    engine=engine,  # type: ignore[arg-type]
                    scheduler=scheduler,
                )
            result = run_evaluation(
                real,
                synthetic_path if partitioned else synthetic,
                holdout=held,
                target=target,
                rules=rule_set,
                schema=table_schema,
                seeds=seeds,
                sensitive=sensitive,
                patient_key=patient_key,
                time_column=time_column,
            )
            html = result.to_html() if report is not None else None
        _show_summary(result, seeds)
        if report is not None and html is not None:
            write_text_atomic(report, html, overwrite=overwrite)
            out.print(f"Report written to {report}")
        if json_path is not None:
            write_text_atomic(json_path, result.to_json(), overwrite=overwrite)
            out.print(f"Scores written to {json_path}")
        if flags is not None and rule_set is not None:
            from synthpatient._io import write_table

            write_table(rule_set.flags(synthetic), flags, overwrite=overwrite)
            out.print(f"Row-level rule flags of the synthetic table written to {flags}")


def _check_outputs(
    report: Path | None,
    json_path: Path | None,
    flags: Path | None,
    *,
    rules: str | None,
    overwrite: bool,
) -> None:
    """Refuse, before any work, output paths that clash, exist (without --overwrite) or
    cannot be written, and --flags without --rules."""
    from synthpatient._io import check_output_path

    outputs = [path for path in (report, json_path, flags) if path is not None]
    if len({path.resolve() for path in outputs}) < len(outputs):
        raise InvalidParameterError("--report, --json and --flags must be different files.")
    for path in (report, json_path):
        if path is not None:
            check_output_path(path, overwrite=overwrite)
    if flags is not None:
        if rules is None:
            raise InvalidParameterError("--flags needs --rules: the flags are one column per rule.")
        check_output_path(flags, overwrite=overwrite, kind="table")


def _show_summary(
    result: EvaluationReport, seeds: int, *, title: str = "Evaluation summary", notices: bool = True
) -> None:
    """The summary table (with the spread over seeds when there are several), what to do
    about each fair or poor score, and the notices."""
    table = Table(title=f"{title} (scores in [0, 1], higher is better)")
    for col in ("family", "metric", "score", "verdict"):
        table.add_column(col)
    for row in result.summary.itertuples(index=False):
        spread = f" ± {row.sd:.3f}" if seeds > 1 else ""
        table.add_row(row.family, row.metric, f"{row.score:.3f}{spread}", row.verdict)
    out.print(table)
    from synthpatient.evaluation.advice import explain

    # a fair or poor card says what it means and what to do, not only its verdict
    for line in explain(result):
        out.print(Text(f"What to do: {line}"))
    for notice in result.meta["notices"] if notices else ():
        out.print(f"Note: {notice}")


def _rules(value: str) -> RuleSet:
    from synthpatient.rules import RuleSet, list_rule_packs, load_rule_pack

    if value in list_rule_packs():
        return load_rule_pack(value)
    if not value.lower().endswith((".yaml", ".yml")):
        from synthpatient.errors import DataError

        raise DataError(
            f"--rules takes a .yaml file or a shipped pack ({', '.join(list_rule_packs())}); "
            f"got '{value}'."
        )
    return RuleSet.from_yaml(value)


def _machine_note() -> str:
    import os
    import platform

    try:
        import torch

        threads = f", torch {torch.__version__} on {torch.get_num_threads()} threads"
    except ImportError:
        threads = ""
    # times from a busy machine are upper bounds: the table says how busy it was
    load = (
        f"; 1-minute load average {os.getloadavg()[0]:.1f} when the run ended"
        if hasattr(os, "getloadavg")
        else ""
    )
    return (
        f"Measured on {os.cpu_count()} CPU cores, Python {platform.python_version()}"
        f"{threads}{load}; seeds are train/holdout splits (75/25) and model seeds.\n"
    )


def _epsilons(text: str) -> list[float]:
    """``--epsilons`` as positive numbers ("" gives none)."""
    try:
        eps = [float(e) for e in text.split(",") if e.strip()]
    except ValueError as exc:
        raise InvalidParameterError(
            f"--epsilons must be numbers like 1,3,10. Got '{text}'."
        ) from exc
    if any(e <= 0 for e in eps):
        raise InvalidParameterError("--epsilons must all be greater than 0.")
    return eps


def _llm_settings(
    base_url: str | None, model: str | None, api_key_env: str
) -> dict[str, Any] | None:
    """The prompted LLM's settings, or None without a server; bad settings fail here, before
    any work, not per seed."""
    if (base_url is None) != (model is None):
        raise InvalidParameterError(
            "--llm-base-url and --llm-model go together: give both "
            "to benchmark the prompted LLM, or neither."
        )
    if base_url is None:
        return None
    llm: dict[str, Any] = {"base_url": base_url, "model": model, "api_key_env": api_key_env}
    from synthpatient import get_synthesizer_class

    get_synthesizer_class("llm")(**llm)
    return llm


def _declared_schemas(path: Path, dataset_keys: list[str]) -> dict[str, DeclaredSchema]:
    """--schema for every dataset of the run, checked against each before any work (the
    message counts the problems; it never quotes a value)."""
    from synthpatient import datasets
    from synthpatient.benchmark import DeclaredSchema
    from synthpatient.errors import DataError, SchemaValidationError
    from synthpatient.schema import Schema

    declared = Schema.from_json(path)
    for key in dataset_keys:
        try:
            declared.validate(datasets.load(key))
        except SchemaValidationError as exc:
            raise DataError(f"--schema {path} does not fit the dataset '{key}': {exc}") from exc
    return {key: DeclaredSchema(declared, path.name) for key in dataset_keys}


# long: typer declares each option inline; the input checks are the helpers above
@app.command()
def benchmark(
    synthesizers: Annotated[
        str | None,
        typer.Option(
            "--synthesizers",
            metavar="KEYS",
            help="Comma-separated keys (default: every registered one whose extra is installed).",
        ),
    ] = None,
    datasets_opt: Annotated[
        str, typer.Option("--datasets", metavar="KEYS", help="Comma-separated bundled datasets.")
    ] = "diabetes",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per synthesizer and dataset.")] = 3,
    epsilons: Annotated[
        str,
        typer.Option(
            "--epsilons",
            metavar="LIST",
            help="Also run the differentially private synthesizers at these epsilons, e.g. 1,3,10.",
        ),
    ] = "",
    schema: Annotated[
        Path | None,
        typer.Option(
            "--schema",
            help="A schema JSON file (as `synthpatient schema` writes) that every generator "
            "gets instead of the one inferred from the dataset; it must fit each dataset. "
            "Declared bounds and categories keep a private generator's guarantee whole.",
        ),
    ] = None,
    sdv: Annotated[
        bool,
        typer.Option(
            "--sdv/--no-sdv",
            help="Include SDV's synthesizers when the `compare` extra is installed.",
        ),
    ] = True,
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for results.md, results.json and results.html."),
    ] = Path("benchmark-results"),
    readme: Annotated[
        Path | None,
        typer.Option(
            "--update-readme",
            help="Also put the results table into this README, between its "
            "<!-- benchmark:start --> and <!-- benchmark:end --> markers.",
        ),
    ] = None,
    lm_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--lm-checkpoint",
            help="A local pretrained checkpoint folder: also run the tabular LM "
            "fine-tuned from it, beside the one trained from scratch.",
        ),
    ] = None,
    llm_base_url: Annotated[
        str | None,
        typer.Option(
            "--llm-base-url",
            metavar="URL",
            help="An OpenAI-compatible server (with --llm-model): also run the "
            "prompted LLM, with its cost per 1,000 rows.",
        ),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option("--llm-model", metavar="NAME", help="The LLM's model name.")
    ] = None,
    llm_key_env: Annotated[
        str,
        typer.Option(
            "--llm-key-env",
            metavar="NAME",
            help="Environment variable holding the LLM's key (never printed).",
        ),
    ] = "SYNTHPATIENT_LLM_API_KEY",
    old_key_env: Annotated[
        str | None,
        typer.Option(
            "--llm-api-key-env",
            hidden=True,
            help="Deprecated spelling of --llm-key-env (the name ask, chat and sample use).",
        ),
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Run every generator on the same data: quality, utility, privacy, rules, speed, memory.

    Every generator gets the same schema (inferred, or --schema), and one that takes a target
    (AIM) gets the dataset's column to predict; the table says what each got."""
    with handled():
        from synthpatient import benchmark as bench
        from synthpatient import datasets
        from synthpatient._io import atomic_folder, check_output_path
        from synthpatient.errors import InvalidParameterError

        if seeds < 1:
            raise InvalidParameterError(f"--seeds must be at least 1. Got {seeds}.")
        eps = _epsilons(epsilons)
        keys = [k.strip() for k in synthesizers.split(",")] if synthesizers else None
        dataset_keys = [d.strip() for d in datasets_opt.split(",") if d.strip()]
        for key in dataset_keys:
            datasets.info(key)  # an unknown dataset fails here, before any work
        check_output_path(out_dir, overwrite=overwrite, kind="folder")
        declared = _declared_schemas(schema, dataset_keys) if schema is not None else None
        if readme is not None:  # a README that cannot be updated fails now, not after the run
            from synthpatient.benchmark import check_readme

            check_readme(readme)
        if lm_checkpoint is not None and not (lm_checkpoint / "config.json").is_file():
            raise InvalidParameterError(
                f"--lm-checkpoint '{lm_checkpoint}' is not a checkpoint "
                "folder (no config.json). Give the folder of a local "
                "Hugging Face causal language model."
            )
        if old_key_env is not None:
            err.print(
                "--llm-api-key-env is deprecated and will be removed: write --llm-key-env.",
                markup=False,
            )
            llm_key_env = old_key_env
        llm = _llm_settings(llm_base_url, llm_model, llm_key_env)
        candidates, skipped = bench.default_candidates(
            keys,
            epsilons=eps,
            include_sdv=sdv,
            llm=llm,
            lm_checkpoint=None if lm_checkpoint is None else str(lm_checkpoint),
        )
        for note in skipped:
            err.print(f"Skipped {note}")
        with err.status("Benchmarking...") as status:
            result = bench.run_benchmark(
                candidates,
                dataset_keys,
                seeds=seeds,
                progress=lambda text: status.update(f"Benchmarking {text}"),
                schemas=declared,
            )
        markdown = bench.to_markdown(result)
        print(markdown)  # first: if the folder cannot be written, the table is still shown
        with atomic_folder(out_dir, overwrite=overwrite) as tmp:
            (tmp / "results.md").write_text(markdown, encoding="utf-8")
            (tmp / "results.json").write_text(bench.to_json(result), encoding="utf-8")
            (tmp / "results.html").write_text(bench.to_html(result), encoding="utf-8")
        out.print(f"Results written to {out_dir}/results.md, results.json and results.html")
        if readme is not None:
            command = (
                f"synthpatient benchmark --datasets {datasets_opt} --seeds {seeds}"
                + (f" --synthesizers {synthesizers}" if synthesizers else "")
                + (f" --epsilons {epsilons}" if epsilons else "")
                + (f" --schema {schema}" if schema else "")
                + ("" if sdv else " --no-sdv")
                + (f" --lm-checkpoint {lm_checkpoint}" if lm_checkpoint else "")
                + (f" --llm-base-url {llm_base_url} --llm-model {llm_model}" if llm else "")
            )
            bench.update_readme(readme, _machine_note() + markdown, command)
            out.print(f"Updated the results table in {readme}")
