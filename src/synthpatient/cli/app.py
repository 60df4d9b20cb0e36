"""Command definitions. Each command parses options, calls the public API, and reports."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from synthpatient.cli._errors import err, handled
from synthpatient.errors import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

    from synthpatient.rules import RuleSet
    from synthpatient.schema import Schema
    from synthpatient.synthesizers import Synthesizer

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

Rows = Annotated[int, typer.Option("--rows", "-n", help="Number of synthetic rows (>= 1).")]
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


@contextlib.contextmanager
def _fitting_status(model: Any, synthesizer: str, n_rows: int) -> Iterator[None]:
    """A spinner while fitting, unless the synthesizer draws its own progress bar."""
    if getattr(model, "progress", False):
        yield
        return
    with err.status(f"Fitting {synthesizer} on {n_rows} rows..."):
        yield


def _check_rows(rows: int) -> None:
    from synthpatient.errors import InvalidParameterError

    if rows < 1:
        raise InvalidParameterError(f"--rows must be at least 1. Got {rows}.")


def _conditions(items: list[str] | None) -> dict[str, Any]:
    """``--condition`` options as a dict; a column conditioned twice is an error, since the
    last one would otherwise win without a word."""
    from synthpatient.errors import ConditionError
    from synthpatient.synthesizers import parse_condition_text

    conditions: dict[str, Any] = {}
    for item in items or []:
        column, value = parse_condition_text(item)
        if column in conditions:
            raise ConditionError(
                f"The column '{column}' has more than one --condition. Give one per column: "
                f"a value or one range such as {column}=LOW..HIGH (conditions on one column "
                "are not combined)."
            )
        conditions[column] = value
    return conditions


def _load_data(
    path: Path,
    schema_path: Path | None,
    identifiers: list[str] | None,
    categorical: list[str] | None,
) -> tuple[pd.DataFrame, Schema]:
    from synthpatient._io import read_table
    from synthpatient.schema import Schema, explain_schema

    data = read_table(path)
    if schema_path is not None:
        schema = Schema.from_json(schema_path)
    else:
        schema, decisions = explain_schema(
            data, identifiers=identifiers or (), categorical=categorical or ()
        )
        # the same decisions `synthpatient schema` prints: names and reasons, never values
        for decision in decisions:
            if decision.uncertain:
                err.print(
                    f"Unsure: '{decision.name}' read as {decision.kind} "
                    f"({decision.reason}). Check it with `synthpatient schema`, or "
                    "pass --identifier/--categorical or --schema.",
                    markup=False,
                )
    flagged = [c.name for c in schema if c.kind in ("identifier", "text")]
    if flagged:
        err.print(
            f"Not learned (identifiers or free text, regenerated instead): {', '.join(flagged)}",
            markup=False,
        )
    return data, schema


def _parse_param(item: str) -> tuple[str, Any]:
    """KEY=VALUE with VALUE read as JSON when it is JSON (numbers, true, lists), else text."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise InvalidParameterError(
            f"--param '{item}' is not KEY=VALUE. Write it like --param steps=2000."
        )
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return key.strip(), value


def _synthesizer_params(
    synthesizer: str,
    seed: int | None,
    *,
    epsilon: float | None = None,
    delta: float | None = None,
    params: list[str] | None = None,
) -> tuple[Synthesizer, int]:
    from synthpatient._random import fresh_seed
    from synthpatient.synthesizers import get_synthesizer_class

    klass = get_synthesizer_class(synthesizer)
    chosen = dict(_parse_param(item) for item in params or ())
    if "seed" in chosen:
        raise InvalidParameterError("Give the seed with --seed, not as -p seed=...")
    if epsilon is not None:
        chosen["epsilon"] = epsilon
    if delta is not None:
        chosen["delta"] = delta
    known = klass._param_names()
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        hint = (
            "; differentially private synthesizers take --epsilon: " + ", ".join(_private_keys())
            if {"epsilon", "delta"} & set(unknown)
            else ""
        )
        raise InvalidParameterError(
            f"The {synthesizer} synthesizer has no parameter {', '.join(map(repr, unknown))}. "
            f"Its parameters: {', '.join(k for k in known if k != 'seed')}{hint}."
        )
    seed = fresh_seed() if seed is None else seed
    if "progress" in known and "progress" not in chosen:
        chosen["progress"] = err.is_terminal
    return klass(seed=seed, **chosen), seed


def _private_keys() -> list[str]:
    from synthpatient.synthesizers import available_synthesizers, get_synthesizer_class

    keys = []
    for key in available_synthesizers():
        try:
            if get_synthesizer_class(key).capabilities.accepts_epsilon:
                keys.append(key)
        except ImportError:
            continue
    return keys


def _report_privacy(model: Any) -> None:
    """The accountant's spent budget, for the differentially private synthesizers."""
    spent = getattr(model, "privacy_spent_", None)
    if spent:
        line = (
            f"Differential privacy: spent epsilon = {spent['epsilon']:.3g}, "
            f"delta = {spent['delta']:.3g}."
        )
        if spent.get("preprocessing"):
            line += f" Not covered: {spent['preprocessing']}"
        out.print(line, markup=False)


@app.command()
def generate(
    data: Annotated[Path, typer.Argument(help="Real table: CSV, TSV or Parquet.")],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output table; its extension picks the format (.csv, .tsv, .parquet...).",
        ),
    ],
    rows: Rows = 1000,
    synthesizer: Annotated[str, typer.Option("--synthesizer", "-s")] = "copula",
    seed: Seed = None,
    condition: Conditions = None,
    schema: SchemaOpt = None,
    identifier: Identifiers = None,
    categorical: Categorical = None,
    epsilon: Epsilon = None,
    delta: Delta = None,
    param: Params = None,
    overwrite: Overwrite = False,
) -> None:
    """Fit a synthesizer on DATA and write ROWS synthetic rows to --out."""
    with handled():
        from synthpatient._io import check_output_path
        from synthpatient._memory import check_rows_fit
        from synthpatient.exporters import Table, exporter_for_path

        _check_rows(rows)
        exporter = exporter_for_path(out_path)  # the extension picks the format, before any work
        check_output_path(out_path, overwrite=overwrite)
        conditions = _conditions(condition)
        model, seed = _synthesizer_params(
            synthesizer, seed, epsilon=epsilon, delta=delta, params=param
        )
        real, table_schema = _load_data(data, schema, identifier, categorical)
        check_rows_fit(rows, len(table_schema), label="--rows")  # before fitting, not after
        with _fitting_status(model, synthesizer, len(real)):
            model.fit(real, schema=table_schema)
        _report_privacy(model)
        with err.status(f"Sampling {rows} rows..."):
            synthetic = model.sample(rows, conditions=conditions)
        exporter.export(Table(synthetic, model.schema_), out_path, overwrite=overwrite)
        out.print(
            f"Wrote {len(synthetic)} synthetic rows to {out_path} "
            f"(synthesizer {synthesizer}, seed {seed})."
        )
        _report_generation(model)


def _report_generation(model: Any) -> None:
    """What a generator reports about its last sample (``last_sample_report_``: an LLM run's
    yield and cost, the language model's redrawn training copies, the notes' sources)."""
    report = getattr(model, "last_sample_report_", None)
    text = report.summary() if report is not None else ""
    if text:
        err.print(text, markup=False)


@app.command()
def fit(
    data: Annotated[Path, typer.Argument(help="Real table: CSV, TSV or Parquet.")],
    model_path: Annotated[Path, typer.Option("--model", "-m", help="Folder to save the model in.")],
    synthesizer: Annotated[str, typer.Option("--synthesizer", "-s")] = "copula",
    seed: Seed = None,
    schema: SchemaOpt = None,
    identifier: Identifiers = None,
    categorical: Categorical = None,
    epsilon: Epsilon = None,
    delta: Delta = None,
    param: Params = None,
    overwrite: Overwrite = False,
) -> None:
    """Fit a synthesizer on DATA and save it to a model folder (no pickle)."""
    with handled():
        from synthpatient._io import check_output_path

        check_output_path(model_path, overwrite=overwrite, kind="folder")
        model, seed = _synthesizer_params(
            synthesizer, seed, epsilon=epsilon, delta=delta, params=param
        )
        real, table_schema = _load_data(data, schema, identifier, categorical)
        with _fitting_status(model, synthesizer, len(real)):
            model.fit(real, schema=table_schema)
        model.save(model_path, overwrite=overwrite)
        out.print(f"Saved the fitted {synthesizer} model to {model_path} (seed {seed}).")
        _report_privacy(model)


@app.command()
def sample(
    model_path: Annotated[Path, typer.Argument(help="A model folder written by `fit`.")],
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
            help="For a model that talks to an LLM server: the server to use. A "
            "model folder never chooses where requests and your key go.",
        ),
    ] = None,
    llm_key_env: Annotated[
        str | None,
        typer.Option(
            "--llm-key-env",
            help="Environment variable holding that server's API key (never "
            "printed); SYNTHPATIENT_LLM_API_KEY by default.",
        ),
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Sample ROWS rows from a saved model."""
    with handled():
        from synthpatient._io import check_output_path
        from synthpatient._memory import check_rows_fit
        from synthpatient._random import fresh_seed
        from synthpatient.exporters import Table, exporter_for_path
        from synthpatient.synthesizers import Synthesizer

        _check_rows(rows)
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
        with err.status(f"Sampling {rows} rows..."):
            synthetic = model.sample(rows, conditions=conditions, seed=seed)
        exporter.export(Table(synthetic, model.schema_), out_path, overwrite=overwrite)
        out.print(f"Wrote {len(synthetic)} synthetic rows to {out_path} (seed {seed}).")
        _report_generation(model)


def _endpoint(names: tuple[str, ...], base_url: str | None, key_env: str | None) -> dict[str, str]:
    """``--llm-base-url``/``--llm-key-env`` as the load-time parameters of the saved model's
    class (the LLM synthesizer's ``base_url``, the hybrid's ``llm_base_url``)."""
    from synthpatient.errors import InvalidParameterError

    if not names:
        raise InvalidParameterError(
            "--llm-base-url/--llm-key-env are for models that talk to "
            "an LLM server; this model does not."
        )
    key_env = key_env or "SYNTHPATIENT_LLM_API_KEY"
    return {
        name: value
        for name, value in zip(names, (base_url, key_env), strict=True)
        if value is not None
    }


@app.command("schema")
def schema_command(
    data: Annotated[Path, typer.Argument(help="Real table: CSV, TSV or Parquet.")],
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
    overwrite: Overwrite = False,
) -> None:
    """Infer a schema from DATA, print why each column got its kind, and save it as JSON to
    edit by hand. Values of identifier and free-text columns are never printed."""
    with handled():
        from rich.text import Text

        from synthpatient._io import check_output_path, read_table
        from synthpatient.schema import explain_schema

        check_output_path(out_path, overwrite=overwrite)
        table_schema, decisions = explain_schema(
            read_table(data), identifiers=identifier or (), categorical=categorical or ()
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
        key = next((d.name for d in decisions if d.patient_key), None)
        if key is not None:
            out.print(
                Text(
                    f"Patient key: {key} (several rows per patient; uniqueness is "
                    "judged per patient)."
                )
            )
        unsure = [d.name for d in decisions if d.uncertain]
        if unsure:
            out.print(
                Text(
                    f"Unsure: {', '.join(unsure)}. Check them; use --identifier or "
                    "--categorical, or edit the schema file."
                )
            )
        table_schema.to_json(out_path, include_observed=include_observed)
        out.print(f"Wrote the schema of {len(table_schema)} columns to {out_path}.")


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
    seed: Annotated[int, typer.Option("--seed")] = 0,
    overwrite: Overwrite = False,
) -> None:
    """The main job: fit the copula on the bundled diabetes data (a quarter held out), write
    1,000 synthetic patients, the model, the schema, a quality summary, the evaluation
    report and a data card into a folder."""
    with handled():
        from synthpatient.demo import run_demo

        _check_rows(rows)
        with err.status("Fitting on the bundled diabetes data and sampling..."):
            result = run_demo(out_dir, n_rows=rows, seed=seed, overwrite=overwrite)
        summary = result["quality"]
        n_train = summary["n_real_rows"]
        table = Table(
            title=f"Quality of {rows} synthetic patients vs the {n_train} real ones "
            "they were learned from (SDMetrics QualityReport)"
        )
        table.add_column("score")
        table.add_column("value", justify="right")
        for key in ("score", "column_shapes", "column_pair_trends"):
            table.add_row(key.replace("_", " "), f"{summary[key]:.3f}")
        out.print(table)
        for name, path in result["files"].items():
            out.print(f"  {name:<10} {path}")
        out.print(f"Demo outputs written to {out_dir.resolve()}")


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


def main() -> None:
    """Console-script entry point."""
    app()


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


@app.command()
def evaluate(
    real_path: Annotated[
        Path, typer.Argument(metavar="REAL", help="The real rows the generator was fitted on.")
    ],
    synthetic_path: Annotated[
        Path, typer.Argument(metavar="SYNTHETIC", help="The synthetic rows.")
    ],
    holdout: Annotated[
        Path | None,
        typer.Option(
            "--holdout", help="Real rows the generator never saw (needed for the privacy tests)."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Column to predict for ML utility.")
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            "--rules", help="A rules YAML file, or a shipped pack name such as 'diabetes'."
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
        str | None, typer.Option("--sensitive", help="Column for the attribute-inference risk.")
    ] = None,
    flags: Annotated[
        Path | None,
        typer.Option(
            "--flags",
            help="Write the synthetic rows' rule flags (one True/False column per rule) here.",
        ),
    ] = None,
    schema: SchemaOpt = None,
    overwrite: Overwrite = False,
) -> None:
    """Compare SYNTHETIC with REAL: fidelity, utility, privacy, clinical rules, representation."""
    with handled():
        from synthpatient._io import check_output_path, read_table, write_text_atomic
        from synthpatient.evaluation.evaluate import evaluate as run_evaluation
        from synthpatient.schema import Schema

        outputs = [path for path in (report, json_path, flags) if path is not None]
        if len({path.resolve() for path in outputs}) < len(outputs):
            raise InvalidParameterError("--report, --json and --flags must be different files.")
        for path in (report, json_path):
            if path is not None:
                check_output_path(path, overwrite=overwrite)
        if flags is not None:
            if rules is None:
                raise InvalidParameterError(
                    "--flags needs --rules: the flags are one column per rule."
                )
            check_output_path(flags, overwrite=overwrite, kind="table")
        real = read_table(real_path)
        synthetic = read_table(synthetic_path)
        held = read_table(holdout) if holdout is not None else None
        rule_set = _rules(rules) if rules is not None else None
        table_schema = Schema.from_json(schema) if schema is not None else None
        with err.status("Evaluating..."):
            result = run_evaluation(
                real,
                synthetic,
                holdout=held,
                target=target,
                rules=rule_set,
                schema=table_schema,
                seeds=seeds,
                sensitive=sensitive,
            )
            html = result.to_html() if report is not None else None
        table = Table(title="Evaluation summary (scores in [0, 1], higher is better)")
        for col in ("family", "metric", "score", "verdict"):
            table.add_column(col)
        for row in result.summary.itertuples(index=False):
            spread = f" ± {row.sd:.3f}" if seeds > 1 else ""
            table.add_row(row.family, row.metric, f"{row.score:.3f}{spread}", row.verdict)
        out.print(table)
        for notice in result.meta["notices"]:
            out.print(f"Note: {notice}")
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
    return (
        f"Measured on {os.cpu_count()} CPU cores, Python {platform.python_version()}"
        f"{threads}; seeds are train/holdout splits (75/25) and model seeds.\n"
    )


@app.command()
def benchmark(
    synthesizers: Annotated[
        str | None,
        typer.Option(
            "--synthesizers",
            help="Comma-separated keys (default: every registered one whose extra is installed).",
        ),
    ] = None,
    datasets_opt: Annotated[
        str, typer.Option("--datasets", help="Comma-separated bundled datasets.")
    ] = "diabetes",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per synthesizer and dataset.")] = 3,
    epsilons: Annotated[
        str,
        typer.Option(
            "--epsilons",
            help="Also run the differentially private synthesizers at these epsilons, e.g. 1,3,10.",
        ),
    ] = "",
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
            help="An OpenAI-compatible server (with --llm-model): also run the "
            "prompted LLM, with its cost per 1,000 rows.",
        ),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option("--llm-model", help="The LLM's model name.")
    ] = None,
    llm_api_key_env: Annotated[
        str,
        typer.Option(
            "--llm-api-key-env", help="Environment variable holding the LLM's key (never printed)."
        ),
    ] = "SYNTHPATIENT_LLM_API_KEY",
    overwrite: Overwrite = False,
) -> None:
    """Every generator on the same data: quality, utility, privacy, rules, speed and memory."""
    with handled():
        from synthpatient import benchmark as bench
        from synthpatient import datasets
        from synthpatient._io import atomic_folder, check_output_path
        from synthpatient.errors import InvalidParameterError

        if seeds < 1:
            raise InvalidParameterError(f"--seeds must be at least 1. Got {seeds}.")
        try:
            eps = [float(e) for e in epsilons.split(",") if e.strip()]
        except ValueError as exc:
            raise InvalidParameterError(
                f"--epsilons must be numbers like 1,3,10. Got '{epsilons}'."
            ) from exc
        if any(e <= 0 for e in eps):
            raise InvalidParameterError("--epsilons must all be greater than 0.")
        keys = [k.strip() for k in synthesizers.split(",")] if synthesizers else None
        dataset_keys = [d.strip() for d in datasets_opt.split(",") if d.strip()]
        for key in dataset_keys:
            datasets.info(key)  # an unknown dataset fails here, before any work
        check_output_path(out_dir, overwrite=overwrite, kind="folder")
        if readme is not None:  # a README that cannot be updated fails now, not after the run
            from synthpatient.benchmark import check_readme

            check_readme(readme)
        if lm_checkpoint is not None and not (lm_checkpoint / "config.json").is_file():
            raise InvalidParameterError(
                f"--lm-checkpoint '{lm_checkpoint}' is not a checkpoint "
                "folder (no config.json). Give the folder of a local "
                "Hugging Face causal language model."
            )
        if (llm_base_url is None) != (llm_model is None):
            raise InvalidParameterError(
                "--llm-base-url and --llm-model go together: give both "
                "to benchmark the prompted LLM, or neither."
            )
        llm: dict[str, Any] | None = (
            None
            if llm_base_url is None
            else {"base_url": llm_base_url, "model": llm_model, "api_key_env": llm_api_key_env}
        )
        if llm is not None:  # bad settings fail here, before any work, not per seed
            from synthpatient import get_synthesizer_class

            get_synthesizer_class("llm")(**llm)
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
                + ("" if sdv else " --no-sdv")
                + (f" --lm-checkpoint {lm_checkpoint}" if lm_checkpoint else "")
                + (
                    f" --llm-base-url {llm_base_url} --llm-model {llm_model}"
                    if llm_base_url
                    else ""
                )
            )
            bench.update_readme(readme, _machine_note() + markdown, command)
            out.print(f"Updated the results table in {readme}")


from synthpatient.cli import web as _web  # noqa: E402, F401  (registers serve; fastapi loads lazily)
